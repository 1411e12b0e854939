import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from dashboard import store


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/mlflow/mlflow.db", "sqlite:///data/mlflow/mlflow.db"),
        ("sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"),
        (
            "postgresql://postgres@127.0.0.1:5432/mlflow",
            "postgresql+psycopg2://postgres@127.0.0.1:5432/mlflow",
        ),
        (
            "postgres://postgres@127.0.0.1/mlflow",
            "postgresql+psycopg2://postgres@127.0.0.1/mlflow",
        ),
        (
            "postgresql+psycopg2://u:secret@127.0.0.1/mlflow",
            "postgresql+psycopg2://u:secret@127.0.0.1/mlflow",
        ),
    ],
)
def test_translate_uri_database_schemes(given, expected):
    assert store.translate_uri(given) == expected


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://127.0.0.1/mlflow"])
def test_translate_uri_server_needs_database(uri):
    with pytest.raises(store.StoreConfigError, match="--database-uri"):
        store.translate_uri(uri)
    with pytest.raises(store.StoreConfigError, match=store.DATABASE_URI_VARIABLE):
        store.translate_uri(uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sqlite://", "names no database file"),
        ("mysql://u@127.0.0.1/mlflow", "unsupported database URI"),
        ("not a uri", "invalid database URI"),
    ],
)
def test_translate_uri_rejects(uri, message):
    with pytest.raises(store.StoreConfigError, match=message):
        store.translate_uri(uri)


def test_resolve_database_uri_order(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "MLFLOW_TRACKING_URI", "postgresql://postgres@127.0.0.1/tracking"
    )
    monkeypatch.delenv(store.DATABASE_URI_VARIABLE, raising=False)
    assert (
        store.resolve_database_uri()
        == "postgresql+psycopg2://postgres@127.0.0.1/tracking"
    )

    monkeypatch.setenv(store.DATABASE_URI_VARIABLE, "sqlite:///from-env.db")
    assert store.resolve_database_uri() == "sqlite:///from-env.db"
    assert (
        store.resolve_database_uri("sqlite:///explicit.db") == "sqlite:///explicit.db"
    )


def test_resolve_database_uri_default_store(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(store.DATABASE_URI_VARIABLE, raising=False)
    monkeypatch.setenv("FRAUD_DATA_DIR", str(tmp_path))
    expected = f"sqlite:///{tmp_path.resolve() / 'mlflow' / 'mlflow.db'}"
    assert store.resolve_database_uri() == expected


def test_resolve_database_uri_server_without_database(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.delenv(store.DATABASE_URI_VARIABLE, raising=False)
    with pytest.raises(store.StoreConfigError, match="MLflow server"):
        store.resolve_database_uri()


def test_display_uri_masks_password():
    shown = store.display_uri("postgresql+psycopg2://user:secret@127.0.0.1/mlflow")
    assert "secret" not in shown
    assert "user" in shown


def test_probe_missing_sqlite_file(tmp_path):
    uri = f"sqlite:///{tmp_path / 'absent.db'}"
    status = store.probe(store.create_read_only_engine(uri), uri)
    assert status.reachable
    assert not status.initialized
    assert not (tmp_path / "absent.db").exists()


def test_probe_sqlite_without_tables(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    uri = f"sqlite:///{path}"
    status = store.probe(store.create_read_only_engine(uri), uri)
    assert status.reachable
    assert not status.initialized


def test_probe_filled_store(contract_store):
    uri = store.translate_uri(contract_store.tracking_uri)
    status = store.probe(store.create_read_only_engine(uri), uri)
    assert status.to_dict() == {"reachable": True, "initialized": True, "error": None}


def test_sqlite_engine_is_read_only(contract_store):
    engine = store.create_read_only_engine(
        store.translate_uri(contract_store.tracking_uri)
    )
    with (
        engine.connect() as connection,
        pytest.raises(OperationalError, match="readonly"),
    ):
        connection.execute(sa.text("DELETE FROM runs"))


def test_probe_unreachable_postgres():
    # Port 9 (discard) on the loopback interface has no PostgreSQL server.
    uri = store.translate_uri("postgresql://postgres@127.0.0.1:9/mlflow")
    status = store.probe(store.create_read_only_engine(uri), uri)
    assert not status.reachable
    assert status.error


@pytest.mark.services
def test_postgres_engine_is_read_only(postgres_contract_store):
    uri = store.translate_uri(postgres_contract_store.tracking_uri)
    engine = store.create_read_only_engine(uri)
    with (
        engine.connect() as connection,
        pytest.raises(sa.exc.InternalError, match="read-only transaction"),
    ):
        connection.execute(sa.text("DELETE FROM runs"))


@pytest.mark.services
def test_probe_fresh_postgres_database(empty_postgres_database):
    engine = store.create_read_only_engine(empty_postgres_database)
    status = store.probe(engine, empty_postgres_database)
    assert status.reachable
    assert not status.initialized


def test_probe_logs_outage_once(caplog):
    uri = store.translate_uri("postgresql://postgres@127.0.0.1:9/outage")
    engine = store.create_read_only_engine(uri)
    with caplog.at_level("WARNING", logger="dashboard.store"):
        store.probe(engine, uri)
        store.probe(engine, uri)
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert "127.0.0.1:9/outage" in warnings[0].getMessage()
