import math

import pandas as pd
import pytest

from dashboard import queries, store, views


@pytest.fixture
def connection(any_contract_store):
    uri = store.translate_uri(any_contract_store.tracking_uri)
    engine = store.create_read_only_engine(uri)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def experiment_id(connection, any_contract_store):
    found = queries.find_experiment_id(connection, any_contract_store.experiment_name)
    assert found is not None
    return found


def test_find_experiment_id_missing(connection):
    assert queries.find_experiment_id(connection, "no-such-experiment") is None


def test_load_runs_active_only(connection, experiment_id, any_contract_store):
    runs = queries.load_runs(connection, experiment_id)
    assert list(runs.columns) == queries.RUN_COLUMNS
    assert runs["run_id"].is_unique
    for deleted in any_contract_store.deleted_run_ids:
        assert deleted not in set(runs["run_id"])

    parents = runs[runs["run_kind"] == "batch"]
    assert sorted(parents["batch_date"]) == any_contract_store.dates
    assert set(runs["run_kind"]) == {"batch", "candidate", "production_score"}


def test_load_runs_times_and_tags(connection, experiment_id, any_contract_store):
    runs = queries.load_runs(connection, experiment_id)
    assert isinstance(runs["start_time"].dtype, pd.DatetimeTZDtype)
    assert str(runs["start_time"].dt.tz) == "UTC"
    assert (runs["start_time"] > pd.Timestamp("2020-01-01", tz="UTC")).all()
    assert (runs["duration_seconds"].dropna() >= 0).all()

    failed_day = any_contract_store.failed_dates[0]
    parent = runs[(runs["run_kind"] == "batch") & (runs["batch_date"] == failed_day)]
    assert parent["status"].tolist() == ["FAILED"]
    assert parent["decision"].isna().all()

    children = runs[runs["run_kind"] != "batch"]
    batch_ids = set(any_contract_store.batch_run_ids.values())
    assert children["parent_run_id"].isin(batch_ids).all()


def test_load_metrics_by_keys_and_prefix(connection, experiment_id):
    metrics = queries.load_metrics(
        connection, experiment_id, keys=["average_precision"], prefix="psi_"
    )
    assert list(metrics.columns) == queries.METRIC_COLUMNS
    keys = set(metrics["key"])
    assert "average_precision" in keys
    assert "psi_V14" in keys
    assert "roc_auc" not in keys
    assert metrics["value"].dtype == float


def test_load_metrics_prefix_is_literal(connection, experiment_id):
    # "_" is a LIKE wildcard; the prefix "psi_" must not match "psiX..." keys.
    metrics = queries.load_metrics(connection, experiment_id, prefix="batch_")
    assert set(metrics["key"]) == set(views.BATCH_METRICS)


def test_load_metrics_skips_deleted_runs(connection, experiment_id, any_contract_store):
    metrics = queries.load_metrics(
        connection, experiment_id, keys=["average_precision"]
    )
    assert not set(any_contract_store.deleted_run_ids) & set(metrics["run_id"])


def test_load_metrics_needs_selection(connection, experiment_id):
    with pytest.raises(ValueError, match="keys, a prefix"):
        queries.load_metrics(connection, experiment_id)


def test_load_model_versions(connection, experiment_id, any_contract_store):
    versions = queries.load_model_versions(connection, experiment_id)
    finished_dates = [
        d for d in any_contract_store.dates if d not in any_contract_store.failed_dates
    ]
    assert len(versions) == len(finished_dates)
    assert versions["batch_date"].tolist() == finished_dates
    assert set(versions["name"]) == {any_contract_store.model_name}

    current = versions[versions["is_production"]]
    assert current["version"].tolist() == [
        any_contract_store.production_after[finished_dates[-1]]
    ]


def test_registry_history_matches_store(connection, experiment_id, any_contract_store):
    runs = queries.load_runs(connection, experiment_id)
    metrics = queries.load_metrics(connection, experiment_id, keys=views.metric_keys())
    versions = queries.load_model_versions(connection, experiment_id)
    history = views.registry_history(runs, metrics, versions)

    assert len(history) == len(any_contract_store.dates)
    for row in history.itertuples():
        day = row.batch_date.strftime("%Y-%m-%d")
        assert row.production_version == any_contract_store.production_after[day], day
        decision = any_contract_store.decisions.get(day)
        if decision is None:
            assert not isinstance(row.decision, str), day
        else:
            assert row.decision == decision, day
            assert not math.isnan(row.challenger_ap), day
