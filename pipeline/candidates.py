"""Build candidate models from their luigi.cfg specifications.

Each ``[candidate.NAME]`` section gives an ``estimator`` (a key of ESTIMATORS) and a
``params`` JSON object. The same params dict is logged to MLflow, so what is logged is
what was built.
"""

import hashlib
import inspect
import json

from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ResamplingPipeline
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier, XGBModel

ESTIMATORS = (
    "logistic_regression",
    "random_forest",
    "xgboost",
    "smote_logistic_regression",
)


class CandidateSpecError(ValueError):
    """A candidate's estimator or params in luigi.cfg are invalid."""


def spec_digest(spec: dict, extra: dict | None = None) -> str:
    """Short stable hash of a candidate spec and the settings that shape its data."""
    payload = json.dumps({"spec": spec, "extra": extra or {}}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def resolve_params(estimator: str, params: dict, class_counts: tuple[int, int]) -> dict:
    """Return params with data-dependent values filled in.

    ``scale_pos_weight = "balanced"`` for xgboost becomes negatives / positives of the
    training rows, which ``class_counts`` gives as (negatives, positives). SMOTE's
    ``k_neighbors`` is capped at positives - 1. Its ``sampling_strategy``, the frauds
    per legitimate row after resampling, is raised just above the window's own ratio
    when the window already has more frauds than requested.
    """
    resolved = dict(params)
    negatives, positives = class_counts
    if estimator == "xgboost" and resolved.get("scale_pos_weight") == "balanced":
        resolved["scale_pos_weight"] = round(negatives / max(positives, 1), 3)
    if estimator == "smote_logistic_regression":
        if positives < 2:
            raise CandidateSpecError(
                f"SMOTE needs at least 2 fraud rows to interpolate, the training rows have "
                f"{positives}; widen window_days in luigi.cfg"
            )
        requested = resolved.get("smote_k_neighbors", 5)
        resolved["smote_k_neighbors"] = min(requested, positives - 1)
        strategy = resolved.get("smote_sampling_strategy")
        if isinstance(strategy, float | int) and negatives:
            # SMOTE rejects a target below the current ratio; one more fraud row is the floor.
            floor = min(1.0, (positives + 1) / negatives)
            resolved["smote_sampling_strategy"] = max(strategy, floor)
    return resolved


def build_estimator(name: str, estimator: str, params: dict, seed: int):
    """Return an unfitted sklearn-compatible classifier with ``predict_proba``."""
    try:
        if estimator == "logistic_regression":
            return Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("model", LogisticRegression(random_state=seed, **params)),
                ]
            )
        if estimator == "random_forest":
            return RandomForestClassifier(random_state=seed, **params)
        if estimator == "xgboost":
            return XGBClassifier(
                random_state=seed, tree_method="hist", eval_metric="aucpr", **params
            )
        if estimator == "smote_logistic_regression":
            smote_params = {
                key.removeprefix("smote_"): value
                for key, value in params.items()
                if key.startswith("smote_")
            }
            model_params = {
                key: value
                for key, value in params.items()
                if not key.startswith("smote_")
            }
            # The resampler is a pipeline step, so it is fitted on training rows only.
            return ResamplingPipeline(
                [
                    ("scale", StandardScaler()),
                    ("smote", SMOTE(random_state=seed, **smote_params)),
                    ("model", LogisticRegression(random_state=seed, **model_params)),
                ]
            )
    except TypeError as err:
        raise CandidateSpecError(
            f"[candidate.{name}] params {params} do not fit estimator {estimator!r}: {err}"
        ) from err
    raise CandidateSpecError(
        f"[candidate.{name}] estimator {estimator!r} is unknown; "
        f"choose one of {', '.join(ESTIMATORS)}"
    )


def check_spec(name: str, spec: dict) -> None:
    """Raise CandidateSpecError if a spec names an unknown estimator or parameter.

    XGBoost accepts any keyword and ignores the ones it does not know, so its params
    are checked against the parameters of its constructor.
    """
    estimator, params = spec["estimator"], spec["params"]
    if estimator == "xgboost":
        known = set(inspect.signature(XGBModel.__init__).parameters) - {
            "self",
            "kwargs",
        }
        unknown = sorted(set(params) - known)
        if unknown:
            raise CandidateSpecError(
                f"[candidate.{name}] params {', '.join(unknown)} are not XGBoost "
                "parameters; check the spelling in luigi.cfg"
            )
    resolved = resolve_params(estimator, params, (1000, 10))
    build_estimator(name, estimator, resolved, seed=0)
