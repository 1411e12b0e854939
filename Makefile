# The two everyday commands: "make run" and "make test". Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv

run: $(VENV)/.installed
	$(BIN)/fraud-pipeline quickstart

test: $(VENV)/.installed
	$(BIN)/pytest

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The production services on 127.0.0.1 without Docker (S3 endpoint, mlflow server on
# PostgreSQL, luigid). Pass options with SERVICES_ARGS, e.g. SERVICES_ARGS="--mlflow-port 5001".
.PHONY: services services-stop

services: $(VENV)/.installed
	$(BIN)/python scripts/services.py start $(SERVICES_ARGS)

services-stop: $(VENV)/.installed
	$(BIN)/python scripts/services.py stop $(SERVICES_ARGS)
