"""Consistency of the deployment files with each other and with the code.

docker-compose.yml, .env.example, docker/, MLproject and conda.yaml repeat names, ports
and version pins that the code and pyproject.toml define. These tests fail when one copy
changes without the others. No Docker engine is needed: the compose file is read as
YAML, and checked with docker-compose's own parser where that is installed.
"""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.support import require_service

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_PATH = ROOT / "docker-compose.yml"
ENV_EXAMPLE_PATH = ROOT / ".env.example"
DOCKERFILE_PATH = ROOT / "docker" / "Dockerfile"
DOCKER_LUIGI_CFG = ROOT / "docker" / "luigi.cfg"

# ${NAME} or ${NAME:-default}; $${NAME} is an escaped dollar that compose leaves alone.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_READ = re.compile(
    r"(?:os\.environ\.get|os\.getenv|os\.environ)"
    r"""\s*[\(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""
)
ENV_NAME_CONSTANT = re.compile(
    r"""^[A-Z_]*VARIABLE\s*=\s*["']([A-Z][A-Z0-9_]*)["']""", re.MULTILINE
)

# Variables the code reads that a service may leave unset, and why.
OPTIONAL_VARIABLES = {
    "MLFLOW_EXPERIMENT_NAME": "luigi.cfg [fraud] experiment_name is the default",
    "LUIGI_CONFIG_PATH": "set by the image (ENV in docker/Dockerfile)",
}

# Services built from docker/Dockerfile, and the code each one runs (folders or files).
APP_SERVICE_CODE = {
    "quickstart": ["pipeline"],
    "scheduler": ["pipeline"],
    "dashboard": ["dashboard", "pipeline/settings.py"],
}


def compose() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE_PATH.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"])


def requirement_lines(path: Path) -> set[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def dockerfile_env() -> set[str]:
    """Return the names that docker/Dockerfile sets with ENV."""
    text = DOCKERFILE_PATH.read_text().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names.update(re.findall(r"([A-Z][A-Z0-9_]*)=", line))
    return names


def service_env(service: str) -> dict[str, str]:
    environment = compose()["services"][service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: write environment as a mapping"
    return {name: str(value) for name, value in environment.items()}


def env_read_by_code(code_path: str) -> set[str]:
    root = ROOT / code_path
    paths = [root] if root.is_file() else root.rglob("*.py")
    names = set()
    for path in paths:
        text = path.read_text()
        names.update(ENV_READ.findall(text))
        names.update(ENV_NAME_CONSTANT.findall(text))
    return names


def url_port(url: str) -> int:
    return urlparse(url).port


def published_container_ports(service: str) -> set[int]:
    ports = set()
    for mapping in compose()["services"][service].get("ports", []):
        ports.add(int(str(mapping).rsplit(":", 1)[1].split("/")[0]))
    return ports


def healthcheck_text(service: str) -> str:
    return " ".join(compose()["services"][service]["healthcheck"]["test"])


def option_value(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]


def test_docker_requirements_match_pyproject():
    assert requirement_lines(ROOT / "docker" / "requirements.txt") == pyproject_pins()


def test_conda_pins_match_pyproject():
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    pip_section = next(
        entry for entry in conda["dependencies"] if isinstance(entry, dict)
    )
    pins = {line for line in pip_section["pip"] if "==" in line}

    assert pins == pyproject_pins()
    assert "python=3.11" in conda["dependencies"]


def test_compose_variables_in_env_example():
    used = {name for name, _ in COMPOSE_VARIABLE.findall(COMPOSE_PATH.read_text())}
    documented = set(env_example())

    assert used - documented == set(), "add these to .env.example"
    assert documented - used == set(), (
        ".env.example lists variables compose never reads"
    )


def test_compose_defaults_equal_env_example():
    documented = env_example()
    for name, default in COMPOSE_VARIABLE.findall(COMPOSE_PATH.read_text()):
        assert default, f"${{{name}}} has no default, so compose fails without .env"
        assert default == documented[name], (
            f"{name}: compose default differs from .env.example"
        )


def test_compose_file_valid_for_docker_compose(tmp_path):
    executable = shutil.which("docker-compose")
    require_service(
        executable is not None,
        "docker-compose is not installed (Debian package docker-compose)",
    )
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")

    result = subprocess.run(
        [
            executable,
            "--env-file",
            str(empty_env),
            "-f",
            str(COMPOSE_PATH),
            "--profile",
            "upgrade",
            "config",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", sorted(APP_SERVICE_CODE))
def test_app_services_set_env_read_by_code(service):
    provided = set(service_env(service)) | dockerfile_env()
    for code_path in APP_SERVICE_CODE[service]:
        required = env_read_by_code(code_path) - set(OPTIONAL_VARIABLES)
        assert required - provided == set(), (
            f"{service} runs {code_path} but does not set these"
        )


def test_luigid_sets_env_read_by_its_config():
    lines = DOCKER_LUIGI_CFG.read_text().splitlines()
    setting_lines = "\n".join(
        line for line in lines if not line.lstrip().startswith("#")
    )
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", setting_lines))

    assert referenced
    assert referenced <= set(service_env("luigid"))


def test_mlflow_port_agrees_everywhere():
    server = compose()["services"]["mlflow"]
    port = int(option_value(server["command"], "--port"))

    assert published_container_ports("mlflow") == {port}
    assert f"localhost:{port}/" in healthcheck_text("mlflow")
    for service in ("quickstart", "scheduler", "dashboard"):
        uri = service_env(service)["MLFLOW_TRACKING_URI"]
        assert urlparse(uri).hostname == "mlflow"
        assert url_port(uri) == port, service


def test_luigid_port_agrees_everywhere():
    import configparser

    port = int(option_value(compose()["services"]["luigid"]["command"], "--port"))
    config = configparser.ConfigParser(interpolation=None)
    config.read(DOCKER_LUIGI_CFG)

    assert published_container_ports("luigid") == {port}
    assert f"localhost:{port}/" in healthcheck_text("luigid")
    assert url_port(config.get("core", "default_scheduler_url")) == port
    for service in ("quickstart", "scheduler"):
        assert url_port(service_env(service)["FRAUD_SCHEDULER_URL"]) == port, service


def test_dashboard_port_agrees_everywhere():
    command = compose()["services"]["dashboard"]["command"]
    bind = option_value(command, "--bind")

    assert bind.startswith("0.0.0.0:")
    assert published_container_ports("dashboard") == {int(bind.split(":")[1])}
    assert f"localhost:{bind.split(':')[1]}/" in healthcheck_text("dashboard")
    assert command[-1] == "dashboard.app:server"


def test_database_and_s3_addresses_agree():
    services = compose()["services"]
    minio_address = option_value(services["minio"]["command"], "--address")
    endpoint = service_env("mlflow")["MLFLOW_S3_ENDPOINT_URL"]
    uris = [
        service_env("mlflow")["MLFLOW_BACKEND_STORE_URI"],
        service_env("dashboard")["FRAUD_DASHBOARD_DATABASE_URI"],
        service_env("luigid")["LUIGI_TASK_HISTORY_DB_URI"],
    ]

    assert url_port(endpoint) == int(minio_address.lstrip(":"))
    for uri in uris:
        assert uri.startswith("postgresql+psycopg2://"), uri
        assert urlparse(uri).hostname == "postgres"
        assert url_port(uri) == 5432
    assert uris[0] == uris[1], "the dashboard must read the database MLflow writes"


def test_only_mlflow_server_gets_s3_credentials():
    for name, service in compose()["services"].items():
        environment = service.get("environment", {})
        if name != "mlflow":
            assert "AWS_SECRET_ACCESS_KEY" not in environment, name
            assert "MLFLOW_S3_ENDPOINT_URL" not in environment, name
    assert service_env("mlflow")["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"].endswith(
        "false}"
    )


def test_images_pinned_and_non_root():
    dockerfile = DOCKERFILE_PATH.read_text()
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE).group(1)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)

    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    assert users and users[-1] not in ("root", "0")
    for name, service in compose()["services"].items():
        image = service["image"]
        if "build" in service:
            assert service["build"]["dockerfile"] == "docker/Dockerfile", name
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image else "latest"
        assert tag != "latest", f"{name}: pin {image} to a release"
        assert re.search(r"\d", tag), f"{name}: pin {image} to a release"


def test_dependencies_wait_for_health_or_completion():
    services = compose()["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}"
            else:
                assert condition["condition"] == "service_completed_successfully"
                assert services[target].get("restart", "no") == "no", target


def test_state_on_named_volumes():
    config = compose()
    volumes = set(config["volumes"])
    expected = {
        "postgres": "/var/lib/postgresql/data",
        "minio": "/data",
        "luigid": "/var/lib/luigi",
        "scheduler": "/data",
        "quickstart": "/data",
    }
    for service, path in expected.items():
        mounts = [
            str(mount).split(":") for mount in config["services"][service]["volumes"]
        ]
        assert any(
            source in volumes and target == path for source, target, *_ in mounts
        ), f"{service} keeps {path} outside a named volume"


def test_mlproject_entry_points_call_cli():
    from pipeline.cli import make_parser

    project = yaml.safe_load((ROOT / "MLproject").read_text())
    entry_points = project["entry_points"]
    arguments = {"date": "2013-09-02", "start": "2013-09-01", "end": "2013-09-03"}
    expected_commands = {"daily": "run", "backfill": "backfill"}

    assert project["conda_env"] == "conda.yaml"
    for name, subcommand in expected_commands.items():
        command = entry_points[name]["command"].format(**arguments)
        words = command.split()
        cli_args = words[words.index("fraud-pipeline") + 1 :]
        parsed = make_parser().parse_args(cli_args)
        assert cli_args[0] == subcommand
        assert set(entry_points[name]["parameters"]) <= set(arguments)
        for parameter in entry_points[name]["parameters"]:
            assert str(getattr(parsed, parameter)) == arguments[parameter]
