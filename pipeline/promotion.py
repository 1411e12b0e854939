"""Pick the day's best candidate, register it, and promote it if it beats production."""

import logging
import math
from datetime import date

import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.metrics import average_precision_score

from pipeline import registry, scoring
from pipeline.schema import LABEL_COLUMN

logger = logging.getLogger(__name__)


def best_candidate(results: dict[str, dict]) -> str | None:
    """Return the candidate with the highest validation average precision, if any is defined."""
    scored = {
        name: result["metrics"]["average_precision"]
        for name, result in results.items()
        if not math.isnan(result["metrics"]["average_precision"])
    }
    if not scored:
        return None
    return max(sorted(scored), key=scored.get)


def production_score_on(
    model_name: str, version: str, validation: pd.DataFrame
) -> float:
    """Average precision of registry version ``version`` on the challenger's validation rows."""
    model = registry.load_version(model_name, version)
    probability = scoring.fraud_probability(model, validation)
    return float(average_precision_score(validation[LABEL_COLUMN], probability))


def promote(
    *,
    batch_date: date,
    model_name: str,
    results: dict[str, dict],
    production_version: str | None,
    validation: pd.DataFrame,
    margin: float,
    parent_run_id: str,
) -> dict:
    """Run the promotion gate for one batch date and record it on the parent run.

    ``results`` maps candidate name to ``{"run_id", "model_uri", "metrics"}``. The best
    candidate is registered as a new version whatever the outcome, so the registry keeps
    every challenger with the gate's decision in its tags. Returns the decision, the
    registered version and the production version after this date.
    """
    name = best_candidate(results)
    production_ap = None
    if production_version is not None:
        production_ap = production_score_on(model_name, production_version, validation)

    if name is None:
        decision = registry.decide(float("nan"), production_ap, margin)
        outcome = {"candidate": None, "model_version": None, **decision.to_dict()}
    else:
        challenger = results[name]
        decision = registry.decide(
            challenger["metrics"]["average_precision"], production_ap, margin
        )
        version = registry.register(
            model_name,
            challenger["model_uri"],
            challenger["run_id"],
            tags={
                "fraud.batch_date": batch_date.isoformat(),
                "fraud.candidate": name,
                "fraud.threshold": str(challenger["metrics"]["threshold"]),
                "fraud.promotion.decision": decision.decision,
                "fraud.promotion.reason": decision.reason,
                "fraud.promotion.challenger_average_precision": str(
                    decision.challenger_average_precision
                ),
                "fraud.promotion.production_average_precision": str(
                    decision.production_average_precision
                ),
            },
        )
        if decision.decision == "promoted":
            registry.make_production(model_name, version.version)
        outcome = {
            "candidate": name,
            "model_version": str(version.version),
            **decision.to_dict(),
        }

    production_after = (
        outcome["model_version"]
        if decision.decision == "promoted"
        else production_version
    )
    outcome["production_version_after"] = production_after
    record_on_parent(parent_run_id, outcome)
    if name is None:
        logger.warning("%s: promotion skipped: %s", batch_date, decision.reason)
    else:
        logger.info(
            "%s: %s candidate %s (version %s): %s",
            batch_date,
            decision.decision,
            name,
            outcome["model_version"],
            decision.reason,
        )
    return outcome


def record_on_parent(parent_run_id: str, outcome: dict) -> None:
    client = MlflowClient()
    tags = {
        "fraud.promotion.decision": outcome["decision"],
        "fraud.promotion.reason": outcome["reason"],
        "fraud.promotion.candidate": outcome["candidate"] or "none",
        "fraud.promotion.model_version": outcome["model_version"] or "none",
    }
    for key, value in tags.items():
        client.set_tag(parent_run_id, key, value)
    client.log_metric(
        parent_run_id,
        "promotion_challenger_average_precision",
        outcome["challenger_average_precision"],
    )
    if outcome["production_average_precision"] is not None:
        client.log_metric(
            parent_run_id,
            "promotion_production_average_precision",
            outcome["production_average_precision"],
        )
