"""Real services for the integration tests, started once per test session.

PostgreSQL must already run (127.0.0.1:5432, trust auth, user postgres, or the
FRAUD_TEST_PG_HOST, FRAUD_TEST_PG_PORT and FRAUD_TEST_PG_USER variables). The session
creates two databases of its own there and drops them at the end. moto's S3 server, the
mlflow server and luigid run as subprocesses on free ports of 127.0.0.1, started by the
same functions as "make services" (scripts/services.py).

Without PostgreSQL or moto_server these tests are skipped, except under CI=true, where
they fail.
"""

import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.support import require_service

ROOT = Path(__file__).resolve().parents[2]
# The virtualenv running pytest: it has fraud-pipeline, mlflow, luigid and moto_server.
BIN_DIR = Path(sys.executable).parent


def load_services_module():
    spec = importlib.util.spec_from_file_location(
        "services_script", ROOT / "scripts" / "services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services_script = load_services_module()

PG_SERVER = {
    "host": os.environ.get("FRAUD_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("FRAUD_TEST_PG_PORT", "5432")),
    "user": os.environ.get("FRAUD_TEST_PG_USER", "postgres"),
}


def pytest_collection_modifyitems(items):
    services_folder = Path(__file__).parent
    for item in items:
        if services_folder in Path(item.fspath).parents:
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session", name="services")
def services_fixture():
    """The scripts/services.py module, for tests that start their own services."""
    return services_script


@pytest.fixture(scope="session")
def service_dir(tmp_path_factory) -> Path:
    """Folder of the services' logs and luigid's state file."""
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def postgres_uris():
    """Create an MLflow and a luigid database for this session, and drop both after."""
    prefix = f"fraud_test_{uuid.uuid4().hex[:10]}"
    names = {"mlflow": f"{prefix}_mlflow", "luigi": f"{prefix}_luigi"}
    try:
        for name in names.values():
            services_script.ensure_database(name, **PG_SERVER)
    except services_script.ServiceError as err:
        require_service(False, str(err))
    yield {
        key: services_script.postgres_uri(name, **PG_SERVER)
        for key, name in names.items()
    }
    for name in names.values():
        services_script.drop_database(name, **PG_SERVER)


@pytest.fixture(scope="session")
def s3_endpoint(service_dir):
    """URL of a moto S3 server on a free port."""
    if not (BIN_DIR / "moto_server").exists():
        require_service(
            False,
            "moto_server not found; install the test extra: pip install -e '.[test]'",
        )
    service = services_script.start_s3(
        services_script.free_port(), service_dir / "s3.log"
    )
    yield service.url
    services_script.stop_service(service)


@pytest.fixture(scope="session")
def artifact_bucket(s3_endpoint) -> str:
    name = "fraud-test-artifacts"
    services_script.ensure_bucket(s3_endpoint, name)
    return name


@pytest.fixture(scope="session")
def s3(s3_endpoint):
    """boto3 client of the test S3 server. Only the tests and the server use it."""
    return services_script.s3_client(s3_endpoint)


@pytest.fixture(scope="session")
def mlflow_server(postgres_uris, s3_endpoint, artifact_bucket, service_dir):
    """An mlflow server on PostgreSQL with artifacts proxied to the test bucket."""
    service = services_script.start_mlflow(
        services_script.free_port(),
        postgres_uris["mlflow"],
        f"s3://{artifact_bucket}",
        s3_endpoint,
        service_dir / "mlflow.log",
        workers=2,
    )
    yield service
    services_script.stop_service(service)


@pytest.fixture(scope="session")
def luigid(postgres_uris, service_dir):
    """luigid with a state file and task history in the session's database."""
    service = services_script.start_luigid(
        services_script.free_port(),
        service_dir / "luigid" / "state.pickle",
        postgres_uris["luigi"],
        service_dir / "luigid.cfg",
        service_dir / "luigid.log",
    )
    yield service
    services_script.stop_service(service)
