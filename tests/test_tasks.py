"""Task-level checks on a store filled by the real pipeline, and re-run behaviour."""

import json
from datetime import date

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipeline import layout, settings, tracking
from pipeline.batches import split_days
from pipeline.features import combine_batches, split_window
from pipeline.schema import FEATURE_COLUMNS
from pipeline.tasks import Backfill, DailyPipeline, TrainCandidate
from tests.support import (
    STORE_HOURS_PER_DAY,
    STORE_START,
    pipeline_environment,
    run_pipeline,
)

CANDIDATES = list(settings.fraud().candidates)
MODEL_NAME = settings.fraud().model_name


@pytest.fixture(scope="module")
def store(pipeline_store):
    with pipeline_environment(pipeline_store["data_dir"]):
        experiment_id = tracking.configure()
        yield {
            **pipeline_store,
            "experiment_id": experiment_id,
            "client": MlflowClient(),
        }


def runs_of(store, **tags):
    return tracking.find_runs(
        store["experiment_id"], {f"fraud.{key}": value for key, value in tags.items()}
    )


def test_one_parent_run_per_date(store):
    for day in store["dates"]:
        parents = runs_of(store, batch_date=day.isoformat(), run_kind="batch")
        assert len(parents) == 1
        assert parents[0].info.status == "FINISHED"
        assert parents[0].data.tags["fraud.promotion.decision"] in (
            "promoted",
            "rejected",
            "skipped",
        )


def test_candidate_runs_nested_under_parent(store):
    for day in store["dates"]:
        parent = runs_of(store, batch_date=day.isoformat(), run_kind="batch")[0]
        children = runs_of(store, batch_date=day.isoformat(), run_kind="candidate")
        assert sorted(run.data.tags["fraud.candidate"] for run in children) == sorted(
            CANDIDATES
        )
        assert {run.data.tags["mlflow.parentRunId"] for run in children} == {
            parent.info.run_id
        }


def test_candidate_run_logs_params_metrics_tags(store):
    run = runs_of(
        store, batch_date=store["dates"][-1].isoformat(), candidate="xgboost"
    )[0]
    spec = settings.candidate_spec("xgboost")

    for key in (
        "average_precision",
        "roc_auc",
        "precision",
        "recall",
        "f1",
        "mcc",
        "threshold",
        "true_positives",
        "false_positives",
        "true_negatives",
        "false_negatives",
        "amount_caught",
        "amount_missed",
    ):
        assert key in run.data.metrics, key
    for key, value in spec["params"].items():
        if value != "balanced":
            assert run.data.params[key] == str(value), key
    assert float(run.data.params["scale_pos_weight"]) > 1
    assert run.data.params["window_days"] == str(settings.fraud().window_days)
    assert run.data.tags["fraud.code_version"]
    assert run.data.tags["fraud.seed"] == str(settings.fraud().seed)


def test_candidate_run_logs_inputs_and_artifacts(store):
    run = runs_of(
        store, batch_date=store["dates"][1].isoformat(), candidate="random_forest"
    )[0]
    contexts = {
        dataset_input.tags[0].value: dataset_input.dataset.digest
        for dataset_input in run.inputs.dataset_inputs
    }
    artifacts = {item.path for item in store["client"].list_artifacts(run.info.run_id)}

    assert set(contexts) == {"training", "validation"}
    assert all(contexts.values())
    assert {"pr_curve.png", "confusion_matrix.png"} <= artifacts


def test_logged_model_has_signature_and_probabilities(store):
    day = store["dates"][-1]
    run = runs_of(store, batch_date=day.isoformat(), candidate="logistic_regression")[0]
    result = tracking.candidate_result(run)
    info = mlflow.models.get_model_info(result["model_uri"])
    model = mlflow.pyfunc.load_model(result["model_uri"])
    window = pd.read_parquet(layout.validated_dir(day) / "transactions.parquet").head(3)

    assert info.signature is not None
    assert [spec.name for spec in info.signature.inputs.inputs] == FEATURE_COLUMNS
    assert np.asarray(model.predict(window[FEATURE_COLUMNS])).shape == (3, 2)


def test_scaler_fitted_on_training_rows_only(store):
    day = store["dates"][-1]
    run = runs_of(store, batch_date=day.isoformat(), candidate="logistic_regression")[0]
    model = mlflow.sklearn.load_model(tracking.candidate_result(run)["model_uri"])
    window_days = [d for d in store["dates"] if d <= day][
        -settings.fraud().window_days :
    ]
    window = combine_batches(
        {
            d: pd.read_parquet(layout.validated_dir(d) / "transactions.parquet")
            for d in window_days
        }
    )
    split = split_window(window, day, settings.fraud().validation_fraction)

    np.testing.assert_allclose(
        model.named_steps["scale"].mean_, split.train[FEATURE_COLUMNS].mean()
    )
    assert not np.allclose(
        model.named_steps["scale"].mean_, window[FEATURE_COLUMNS].mean()
    )


def test_first_date_has_no_production_score(store):
    first = store["dates"][0].isoformat()
    parent = runs_of(store, batch_date=first, run_kind="batch")[0]
    summary = json.loads(
        (layout.runs_dir(store["dates"][0]) / "score.json").read_text()
    )

    assert parent.data.tags["fraud.production.model_version"] == "none"
    assert runs_of(store, batch_date=first, run_kind="production_score") == []
    assert summary["model_version"] is None


def test_later_dates_scored_by_previous_production(store):
    for previous, day in zip(store["dates"], store["dates"][1:]):
        promotion = json.loads(
            (layout.runs_dir(previous) / "promotion.json").read_text()
        )
        score = json.loads((layout.runs_dir(day) / "score.json").read_text())
        predictions = pd.read_csv(layout.predictions_dir(day) / "predictions.csv")
        accepted = pd.read_parquet(layout.validated_dir(day) / "transactions.parquet")
        runs = runs_of(store, batch_date=day.isoformat(), run_kind="production_score")

        assert score["model_version"] == promotion["production_version_after"]
        assert len(predictions) == len(accepted)
        assert set(predictions["model_version"].astype(str)) == {score["model_version"]}
        assert predictions["fraud_probability"].between(0, 1).all()
        assert len(runs) == 1
        assert runs[0].data.metrics["average_precision"] == pytest.approx(
            score["metrics"]["average_precision"]
        )


def test_registry_alias_and_stage_follow_promotions(store):
    client = store["client"]
    production = client.get_model_version_by_alias(MODEL_NAME, "production")
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    promoted = [v for v in versions if v.tags["fraud.promotion.decision"] == "promoted"]
    last_promoted = max(promoted, key=lambda v: int(v.version))

    assert len(versions) == len(store["dates"])
    assert production.version == last_promoted.version
    assert production.current_stage == "Production"
    assert [v.version for v in versions if v.current_stage == "Production"] == [
        production.version
    ]
    assert float(production.tags["fraud.threshold"]) > 0
    assert mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@production") is not None


def test_gate_recorded_on_version_and_parent(store):
    client = store["client"]
    for version in client.search_model_versions(f"name = '{MODEL_NAME}'"):
        parent = runs_of(
            store, batch_date=version.tags["fraud.batch_date"], run_kind="batch"
        )[0]
        assert parent.data.tags["fraud.promotion.model_version"] == str(version.version)
        assert (
            parent.data.tags["fraud.promotion.decision"]
            == version.tags["fraud.promotion.decision"]
        )
        assert parent.data.metrics[
            "promotion_challenger_average_precision"
        ] == pytest.approx(
            float(version.tags["fraud.promotion.challenger_average_precision"])
        )


def test_registered_model_is_the_evaluated_one(store):
    client = store["client"]
    for version in client.search_model_versions(f"name = '{MODEL_NAME}'"):
        run = client.get_run(version.run_id)
        assert run.data.tags["fraud.candidate"] == version.tags["fraud.candidate"]
        assert float(version.tags["fraud.threshold"]) == pytest.approx(
            run.data.metrics["threshold"]
        )


def test_batch_health_and_drift_on_parent(store):
    first, second = store["dates"][:2]
    first_parent = runs_of(store, batch_date=first.isoformat(), run_kind="batch")[0]
    second_parent = runs_of(store, batch_date=second.isoformat(), run_kind="batch")[0]
    report = json.loads((layout.validated_dir(second) / "report.json").read_text())

    assert second_parent.data.metrics["batch_rows"] == report["rows_read"]
    assert (
        second_parent.data.metrics["batch_quarantined_rows"]
        == report["rows_quarantined"]
    )
    assert 0 < second_parent.data.metrics["batch_fraud_rate"] < 1
    assert all(f"psi_{name}" in second_parent.data.metrics for name in FEATURE_COLUMNS)
    assert not any(key.startswith("psi_") for key in first_parent.data.metrics)


def count_runs(experiment_id):
    return len(MlflowClient().search_runs([experiment_id], max_results=1000))


def test_rerun_and_resume_create_no_duplicates(source_csv, tmp_path):
    with pipeline_environment(tmp_path / "data"):
        written = split_days(source_csv, STORE_START, STORE_HOURS_PER_DAY)
        first, second = sorted(written)[:2]
        assert run_pipeline([Backfill(start=first, end=second)])
        experiment_id = tracking.configure()
        runs_before = count_runs(experiment_id)
        versions_before = len(
            MlflowClient().search_model_versions(f"name = '{MODEL_NAME}'")
        )

        assert run_pipeline([DailyPipeline(date=second)])
        assert count_runs(experiment_id) == runs_before

        # An attempt killed after its MLflow run finished but before its file was written.
        task = TrainCandidate(date=second, candidate="xgboost")
        recorded = json.loads(task.output().open("r").read())
        task.output().remove()
        (layout.runs_dir(second) / "promotion.json").unlink()
        assert run_pipeline([DailyPipeline(date=second)])

        assert (
            json.loads(task.output().open("r").read())["run_id"] == recorded["run_id"]
        )
        assert count_runs(experiment_id) == runs_before
        assert (
            len(MlflowClient().search_model_versions(f"name = '{MODEL_NAME}'"))
            == versions_before
        )


def test_interrupted_run_marked_failed_and_redone(source_csv, tmp_path):
    with pipeline_environment(tmp_path / "data"):
        day = sorted(split_days(source_csv, STORE_START, STORE_HOURS_PER_DAY))[0]
        experiment_id = tracking.configure()
        identity = {
            tracking.BATCH_DATE: day.isoformat(),
            tracking.RUN_KIND: "candidate",
            tracking.CANDIDATE: "random_forest",
            tracking.SPEC_DIGEST: TrainCandidate(
                date=day, candidate="random_forest"
            ).digest(),
        }
        stale = MlflowClient().create_run(experiment_id, tags=identity)

        assert run_pipeline([DailyPipeline(date=day)])
        runs = tracking.find_runs(experiment_id, identity)

        assert MlflowClient().get_run(stale.info.run_id).info.status == "FAILED"
        assert [run.info.status for run in runs].count("FINISHED") == 1


def test_missing_batch_leaves_date_pending(data_dir):
    assert not run_pipeline([DailyPipeline(date=date(2030, 1, 1))])
    assert not (layout.runs_dir(date(2030, 1, 1)) / "promotion.json").exists()


def test_late_batch_gated_against_current_production(source_csv, tmp_path, caplog):
    with pipeline_environment(tmp_path / "data"):
        first, second, third = sorted(split_days(source_csv, STORE_START, 16))
        late_file = layout.incoming_path(second)
        held_back = tmp_path / late_file.name
        late_file.rename(held_back)
        assert run_pipeline([Backfill(start=first, end=third)])
        tracking.configure()
        production_before = MlflowClient().get_model_version_by_alias(
            MODEL_NAME, "production"
        )

        held_back.rename(late_file)
        assert run_pipeline([DailyPipeline(date=second)])
        score = json.loads((layout.runs_dir(second) / "score.json").read_text())
        promotion = json.loads((layout.runs_dir(second) / "promotion.json").read_text())
        first_promotion = json.loads(
            (layout.runs_dir(first) / "promotion.json").read_text()
        )

        assert score["model_version"] == first_promotion["production_version_after"]
        assert f"{second} arrived late" in caplog.text
        if promotion["decision"] != "promoted":
            assert promotion["production_version_after"] == str(
                production_before.version
            )
            current = MlflowClient().get_model_version_by_alias(
                MODEL_NAME, "production"
            )
            assert current.version == production_before.version
