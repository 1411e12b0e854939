"""Fixtures shared by the whole suite: data folders, PostgreSQL databases, filled stores.

The genuine sample rows are read from ../shared/data beside the repository. Outside CI,
a machine without them gets the synthetic stand-in instead, with a warning; in CI
(CI=true) their absence is a failure.
"""

import uuid
import warnings
from pathlib import Path

import psycopg2
import pytest

from pipeline import synthetic
from tests.support import (
    IN_CI,
    POSTGRES_DSN,
    SAMPLE_CSV,
    STORE_DATES,
    fill_store,
    pipeline_environment,
)


@pytest.fixture(scope="session")
def source_csv(tmp_path_factory) -> Path:
    """The genuine sample rows, or a synthetic stand-in outside CI when they are absent."""
    if SAMPLE_CSV.exists():
        return SAMPLE_CSV
    if IN_CI:
        pytest.fail(
            f"{SAMPLE_CSV} is missing; under CI the tests need the genuine rows there "
            "(set FRAUD_SAMPLE_CSV to another extract of the real file)"
        )
    warnings.warn(
        f"{SAMPLE_CSV} not found: tests use a synthetic stand-in", stacklevel=1
    )
    path = tmp_path_factory.mktemp("synthetic") / "creditcard_synthetic.csv"
    synthetic.write_transactions(path, rows=15_000)
    return path


@pytest.fixture
def data_dir(tmp_path):
    """An empty data folder with the embedded SQLite store, for one test."""
    with pipeline_environment(tmp_path / "data") as folder:
        yield folder


@pytest.fixture(scope="session")
def pipeline_store(source_csv, tmp_path_factory) -> dict:
    """A data folder and SQLite MLflow store filled by the real pipeline over four dates.

    Treat it as read-only: it is shared by every test of the session.
    """
    data_dir = tmp_path_factory.mktemp("store") / "data"
    fill_store(source_csv, data_dir)
    return {
        "data_dir": data_dir,
        "tracking_uri": f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}",
        "dates": STORE_DATES,
    }


def connect_admin():
    try:
        connection = psycopg2.connect(POSTGRES_DSN, connect_timeout=5)
    except psycopg2.OperationalError as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_DSN} ({err}); start it or set "
            "FRAUD_TEST_POSTGRES to a server where the user may create databases"
        )
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_database():
    """Factory: create a fresh PostgreSQL database and return its SQLAlchemy URI.

    Every database made here is dropped at the end of the session.
    """
    created = []

    def create(prefix: str = "fraud_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        connection = connect_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        created.append(name)
        base = POSTGRES_DSN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
        return f"{base}/{name}"

    yield create

    connection = connect_admin()
    with connection.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.fixture(scope="session")
def pipeline_store_postgres(source_csv, tmp_path_factory, postgres_database) -> dict:
    """Like ``pipeline_store``, with the MLflow tables in a fresh PostgreSQL database."""
    uri = postgres_database("fraud_store")
    data_dir = tmp_path_factory.mktemp("store_pg") / "data"
    fill_store(source_csv, data_dir, tracking_uri=uri)
    return {"data_dir": data_dir, "tracking_uri": uri, "dates": STORE_DATES}
