"""Queries, views and figures on stores filled by the real pipeline over four dates.

The stores come from tests/conftest.py: ``pipeline_store`` (SQLite) and
``pipeline_store_postgres`` (PostgreSQL), both from the same sample rows.
"""

import shutil

import pandas as pd
import pytest
from mlflow import MlflowClient

from dashboard import figures, page, store, views
from pipeline import settings

UI_URL = "http://127.0.0.1:5000"


@pytest.fixture(
    scope="module",
    params=[
        "pipeline_store",
        pytest.param("pipeline_store_postgres", marks=pytest.mark.services),
    ],
)
def filled(request) -> dict:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def experiment_name() -> str:
    # The pipeline fixtures run with MLFLOW_EXPERIMENT_NAME unset.
    return settings.fraud().experiment_name


@pytest.fixture(scope="module")
def snapshot(filled, experiment_name) -> page.Snapshot:
    engine = store.create_read_only_engine(store.translate_uri(filled["tracking_uri"]))
    with engine.connect() as connection:
        loaded = page.load_snapshot(connection, experiment_name)
    engine.dispose()
    assert loaded is not None
    return loaded


def day_texts(filled) -> list[str]:
    return [day.isoformat() for day in filled["dates"]]


def as_days(values) -> list[str]:
    return [pd.Timestamp(value).strftime("%Y-%m-%d") for value in values]


def test_runs_cover_every_date(snapshot, filled):
    runs = snapshot.runs
    parents = runs[runs["run_kind"] == "batch"]
    assert sorted(parents["batch_date"]) == day_texts(filled)
    assert set(parents["status"]) == {"FINISHED"}

    candidates = runs[runs["run_kind"] == "candidate"]
    assert set(candidates["candidate"]) == set(settings.fraud().candidates)
    assert len(candidates) == len(filled["dates"]) * len(settings.fraud().candidates)

    scored = runs[runs["run_kind"] == "production_score"]
    assert sorted(scored["batch_date"]) == day_texts(filled)[1:]
    assert scored["model_version"].notna().all()


def test_run_times_are_utc(snapshot):
    runs = snapshot.runs
    assert str(runs["start_time"].dt.tz) == "UTC"
    assert (runs["duration_seconds"] > 0).all()
    assert runs["start_time"].min() > pd.Timestamp("2020-01-01", tz="UTC")


def test_metrics_follow_contract(snapshot, filled):
    metrics = snapshot.metrics.merge(
        snapshot.runs[["run_id", "run_kind", "batch_date"]]
    )
    candidate_keys = set(metrics.loc[metrics["run_kind"] == "candidate", "key"])
    assert set(views.TIMELINE_METRICS) <= candidate_keys

    parent = metrics[metrics["run_kind"] == "batch"]
    assert set(views.BATCH_METRICS) <= set(parent["key"])
    first_day = day_texts(filled)[0]
    psi_days = set(parent.loc[parent["key"].str.startswith("psi_"), "batch_date"])
    assert psi_days == set(day_texts(filled)[1:])
    assert first_day not in psi_days


def test_versions_and_alias(snapshot, filled):
    versions = snapshot.versions
    assert versions["batch_date"].tolist() == day_texts(filled)
    assert versions["is_production"].sum() == 1
    assert set(versions["candidate"]) <= set(settings.fraud().candidates)


def test_registry_history_follows_gate(snapshot, filled):
    history = views.registry_history(snapshot.runs, snapshot.metrics, snapshot.versions)
    assert as_days(history["batch_date"]) == day_texts(filled)[::-1]

    oldest = history.iloc[-1]
    assert oldest["decision"] == "promoted"
    assert oldest["production_version"] == oldest["challenger_version"]
    assert pd.isna(oldest["production_ap"])

    by_day = history.sort_values("batch_date").reset_index(drop=True)
    for previous, row in zip(
        by_day.iloc[:-1].itertuples(), by_day.iloc[1:].itertuples()
    ):
        if row.decision == "promoted":
            assert row.production_version == row.challenger_version
        else:
            assert row.production_version == previous.production_version

    current = snapshot.versions.loc[
        snapshot.versions["is_production"], "version"
    ].item()
    assert history.iloc[0]["production_version"] == current
    assert history["production_candidate"].notna().all()


def test_timeline_figure_traces(snapshot, filled):
    points = views.timeline_points(snapshot.runs, snapshot.metrics, "average_precision")
    events = views.gate_events(snapshot.runs, points)
    figure = figures.timeline_figure(points, events, "average_precision")
    names = [trace.name for trace in figure.data]
    candidates = sorted(settings.fraud().candidates)
    assert names[: len(candidates)] == candidates
    assert names[len(candidates)] == figures.PRODUCTION_NAME
    assert figures.PROMOTED_NAME in names

    production = figure.data[len(candidates)]
    assert as_days(production.x) == day_texts(filled)[1:]
    promoted = next(t for t in figure.data if t.name == figures.PROMOTED_NAME)
    assert as_days(promoted.x)[0] == day_texts(filled)[0]


def test_timeline_metric_switch(snapshot):
    recall = views.timeline_points(snapshot.runs, snapshot.metrics, "recall")
    money = views.timeline_points(snapshot.runs, snapshot.metrics, "amount_caught")
    assert recall["value"].between(0, 1).all()
    assert (money["value"] >= 0).all()
    assert (
        not recall["value"]
        .reset_index(drop=True)
        .equals(money["value"].reset_index(drop=True))
    )


def test_batch_health_counts(snapshot, filled):
    health = views.batch_health(snapshot.runs, snapshot.metrics)
    assert as_days(health["batch_date"]) == day_texts(filled)
    total = health["batch_accepted_rows"] + health["batch_quarantined_rows"]
    assert (total == health["batch_rows"]).all()
    assert health["batch_fraud_rate"].between(0, 1).all()

    figure = figures.batch_health_figure(health)
    assert [trace.name for trace in figure.data] == [
        "accepted rows",
        "quarantined rows",
        "fraud rate (%)",
    ]


def test_drift_heatmap_dates(snapshot, filled):
    matrix = views.drift_matrix(snapshot.runs, snapshot.metrics)
    assert len(matrix.index) == 29
    assert matrix.index[0] == "V1"
    assert matrix.index[-1] == "Amount"
    figure = figures.drift_heatmap_figure(matrix)
    assert as_days(figure.data[0].x) == day_texts(filled)[1:]

    top = views.top_drift(matrix)
    assert len(top) == 10
    assert top["latest_psi"].is_monotonic_decreasing


def test_page_ready(filled, experiment_name):
    uri = store.translate_uri(filled["tracking_uri"])
    engine = store.create_read_only_engine(uri)
    built = page.build_page(engine, uri, experiment_name, "f1", None, None, UI_URL)
    engine.dispose()
    assert built.state == "ready"
    assert built.first_date == day_texts(filled)[0]
    assert built.last_date == day_texts(filled)[-1]
    assert "F1" in built.timeline.layout.title.text


@pytest.fixture(scope="module")
def edited_store(pipeline_store, tmp_path_factory, experiment_name) -> dict:
    """A copy of the SQLite pipeline store with a deleted candidate run and a failed date."""
    folder = tmp_path_factory.mktemp("edited-store")
    shutil.copy(
        pipeline_store["data_dir"] / "mlflow" / "mlflow.db", folder / "mlflow.db"
    )
    uri = f"sqlite:///{folder / 'mlflow.db'}"

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    days = day_texts(pipeline_store)

    deleted = next(
        run
        for run in runs
        if run.data.tags.get("fraud.run_kind") == "candidate"
        and run.data.tags.get("fraud.batch_date") == days[1]
    )
    client.delete_run(deleted.info.run_id)

    failed = next(
        run
        for run in runs
        if run.data.tags.get("fraud.run_kind") == "batch"
        and run.data.tags.get("fraud.batch_date") == days[-1]
    )
    client.set_tag(failed.info.run_id, "fraud.failed_task", "TrainCandidate(date=...)")
    for key in ("decision", "reason", "candidate", "model_version"):
        client.delete_tag(failed.info.run_id, f"fraud.promotion.{key}")
    client.set_terminated(failed.info.run_id, status="FAILED")

    return {
        "tracking_uri": uri,
        "deleted_run_id": deleted.info.run_id,
        "deleted_candidate": deleted.data.tags["fraud.candidate"],
        "failed_day": days[-1],
        "days": days,
    }


def test_edited_store_skips_deleted_run(edited_store, experiment_name):
    uri = store.translate_uri(edited_store["tracking_uri"])
    engine = store.create_read_only_engine(uri)
    with engine.connect() as connection:
        snapshot = page.load_snapshot(connection, experiment_name)
    engine.dispose()
    assert edited_store["deleted_run_id"] not in set(snapshot.runs["run_id"])
    assert edited_store["deleted_run_id"] not in set(snapshot.metrics["run_id"])

    points = views.timeline_points(snapshot.runs, snapshot.metrics, "average_precision")
    deleted_series = points[points["series"] == edited_store["deleted_candidate"]]
    assert edited_store["days"][1] not in as_days(deleted_series["batch_date"])


def test_edited_store_failed_date(edited_store, experiment_name):
    uri = store.translate_uri(edited_store["tracking_uri"])
    engine = store.create_read_only_engine(uri)
    built = page.build_page(
        engine, uri, experiment_name, "average_precision", None, None, UI_URL
    )
    engine.dispose()
    assert built.state == "ready"
    registry = str(built.registry_table)
    assert "no decision" in registry
    assert "TrainCandidate" in registry
    assert "FAILED" in str(built.latest_runs_table)
