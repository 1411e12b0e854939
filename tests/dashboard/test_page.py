import sqlite3

import pytest
from mlflow import MlflowClient

from dashboard import page, store

UI_URL = "http://127.0.0.1:5000"


def build(
    uri: str,
    experiment_name: str = "fraud-detection",
    metric="average_precision",
    **dates,
):
    database_uri = store.translate_uri(uri)
    engine = store.create_read_only_engine(database_uri)
    try:
        return page.build_page(
            engine,
            database_uri,
            experiment_name,
            metric,
            dates.get("start"),
            dates.get("end"),
            UI_URL,
        )
    finally:
        engine.dispose()


def assert_empty(built):
    assert built.state == "empty"
    assert "make run" in built.message
    assert built.timeline.layout.annotations[0].text == built.message
    assert built.first_date is None


def test_page_missing_sqlite_file(tmp_path):
    assert_empty(build(f"sqlite:///{tmp_path / 'mlflow.db'}"))


def test_page_sqlite_without_tables(tmp_path):
    path = tmp_path / "mlflow.db"
    sqlite3.connect(path).close()
    assert_empty(build(f"sqlite:///{path}"))


def test_page_experiment_without_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("fraud-detection")
    assert_empty(build(uri))


def test_page_other_experiment_only(contract_store):
    assert_empty(
        build(contract_store.tracking_uri, experiment_name="another-experiment")
    )


@pytest.mark.services
def test_page_fresh_postgres_database(empty_postgres_database):
    assert_empty(build(empty_postgres_database))


def test_page_unreachable_postgres():
    built = build("postgresql://postgres@127.0.0.1:9/mlflow")
    assert built.state == "unreachable"
    assert "Cannot reach the MLflow database" in built.message


def test_page_one_date(one_date_store):
    built = build(one_date_store.tracking_uri)
    assert built.state == "ready"
    assert built.first_date == built.last_date == one_date_store.dates[0]
    names = [trace.name for trace in built.timeline.data]
    assert names == [*sorted(one_date_store.candidates), "promoted"]
    assert "No drift measured yet" in built.drift.layout.annotations[0].text


def test_page_failed_and_deleted_runs(contract_store):
    built = build(contract_store.tracking_uri)
    assert built.state == "ready"
    assert built.last_date == contract_store.failed_dates[0]
    text = str(built.registry_table)
    assert "no decision" in text
    assert "run FAILED" in text
    latest = str(built.latest_runs_table)
    assert "FAILED" in latest
    for run_id in contract_store.deleted_run_ids:
        assert run_id not in latest


def test_page_date_range(contract_store):
    start, end = contract_store.dates[1], contract_store.dates[3]
    built = build(contract_store.tracking_uri, start=start, end=f"{end}T00:00:00")
    for trace in built.timeline.data:
        dates = {str(x)[:10] for x in trace.x}
        assert dates <= {
            contract_store.dates[1],
            contract_store.dates[2],
            contract_store.dates[3],
        }
    assert len(built.health.data[0].x) == 3
    assert len(built.drift.data[0].x) == 3
    assert built.first_date == contract_store.dates[0]


def test_page_unknown_metric_falls_back(contract_store):
    built = build(contract_store.tracking_uri, metric="not_a_metric")
    assert "Average precision" in built.timeline.layout.title.text


def test_page_links_to_mlflow_ui(contract_store):
    built = build(contract_store.tracking_uri)
    text = str(built.registry_table)
    assert f"{UI_URL}/#/models/{contract_store.model_name}/versions/" in text
    assert f"{UI_URL}/#/experiments/" in text


def test_page_names_production_version(contract_store):
    built = build(contract_store.tracking_uri)
    last_good = [
        d for d in contract_store.dates if d not in contract_store.failed_dates
    ][-1]
    version = contract_store.production_after[last_good]
    assert (
        f"In production: {contract_store.model_name} version {version}" in built.message
    )


def test_page_single_failed_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("fraud-detection")
    run = client.create_run(
        experiment_id,
        tags={"fraud.batch_date": "2013-09-01", "fraud.run_kind": "batch"},
        run_name="batch-2013-09-01",
    )
    client.set_terminated(run.info.run_id, status="FAILED")

    built = build(uri)
    assert built.state == "ready"
    assert "1 batch date from 2013-09-01 to 2013-09-01" in built.message
    assert "No model is in production" in built.message
    assert "No average precision logged" in built.timeline.layout.annotations[0].text
    assert "run FAILED" in str(built.registry_table)
    assert "running" not in str(built.latest_runs_table)
    assert len(built.health.data) == 3
