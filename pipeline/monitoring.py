"""Batch health and the production model's out-of-time score on each new batch."""

import logging
from datetime import date

import mlflow
import pandas as pd

from pipeline import evaluation, scoring, tracking
from pipeline.features import feature_drift
from pipeline.schema import LABEL_COLUMN

logger = logging.getLogger(__name__)

NO_PRODUCTION_MODEL = "none"


def batch_health(
    report: dict, today: pd.DataFrame, reference: pd.DataFrame | None
) -> dict:
    """Metrics of one validated batch, with feature drift against ``reference`` if given."""
    metrics = {
        "batch_rows": report["rows_read"],
        "batch_accepted_rows": report["rows_accepted"],
        "batch_quarantined_rows": report["rows_quarantined"],
        "batch_fraud_rate": float(today[LABEL_COLUMN].mean())
        if len(today)
        else float("nan"),
    }
    if reference is not None and len(reference) and len(today):
        metrics.update(feature_drift(reference, today))
    return metrics


def production_threshold(version) -> float:
    """Return the threshold tuned when ``version`` was trained (model version tag)."""
    try:
        return float(version.tags["fraud.threshold"])
    except (KeyError, ValueError) as err:
        raise RuntimeError(
            f"model version {version.name} v{version.version} has no valid "
            "'fraud.threshold' tag; set it in the MLflow UI to the flagging threshold"
        ) from err


def score_batch(
    *,
    batch_date: date,
    batch: pd.DataFrame,
    model,
    version,
    experiment_id: str,
    parent_run_id: str,
) -> tuple[pd.DataFrame, dict]:
    """Score ``batch`` with a production model; log its metrics as a child run.

    Returns the predictions and a summary with the run id and metrics. A finished
    scoring run for this date and version is reused instead of logged again.
    """
    threshold = production_threshold(version)
    probability = scoring.fraud_probability(model, batch)
    predictions = scoring.predictions_frame(
        batch, probability, threshold, str(version.version)
    )
    metrics = evaluation.evaluate(
        batch[LABEL_COLUMN], probability, batch["Amount"], threshold
    )

    tags = {
        **tracking.common_tags(batch_date.isoformat(), "production_score"),
        tracking.CANDIDATE: "production",
        "fraud.model_version": str(version.version),
        "fraud.production.candidate": version.tags.get("fraud.candidate", "unknown"),
    }
    identity = {
        tracking.BATCH_DATE: batch_date.isoformat(),
        tracking.RUN_KIND: "production_score",
        "fraud.model_version": str(version.version),
    }
    existing = tracking.finished_run(experiment_id, identity)
    if existing is not None:
        run_id = existing.info.run_id
    else:
        with mlflow.start_run(
            run_name=f"{batch_date.isoformat()}-production",
            experiment_id=experiment_id,
            parent_run_id=parent_run_id,
            tags=tags,
        ) as run:
            mlflow.log_metrics(metrics)
            run_id = run.info.run_id
    logger.info(
        "%s: production v%s scored %d rows, average precision %.4f, run %s",
        batch_date,
        version.version,
        len(batch),
        metrics["average_precision"],
        run_id,
    )
    return predictions, {
        "run_id": run_id,
        "model_version": str(version.version),
        "metrics": metrics,
    }
