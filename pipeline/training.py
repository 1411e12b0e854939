"""Fit one candidate on a training window and log it as one MLflow run."""

import logging
import time
import warnings
from dataclasses import dataclass
from datetime import date

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from pipeline import candidates, evaluation, tracking
from pipeline.features import BATCH_DATE_COLUMN, WindowSplit, features
from pipeline.schema import FEATURE_COLUMNS, LABEL_COLUMN

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"

# Types outside scikit-learn's own that the candidates contain. MLflow saves the models
# with skops, which rejects any type not listed as trusted when saving or loading.
# A new kind of estimator adds its types here.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "imblearn.over_sampling._smote.base.SMOTE",
    "imblearn.pipeline.Pipeline",
]


@dataclass
class CandidateRun:
    """Run, model URI and validation metrics of one logged candidate."""

    run_id: str
    model_uri: str
    metrics: dict

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "metrics": self.metrics,
        }


def window_params(
    split: WindowSplit, window_days: int, validation_fraction: float
) -> dict:
    """Describe the data a candidate saw, for logging next to its hyperparameters."""
    window = pd.concat([split.train, split.validation])
    return {
        "window_days": window_days,
        "validation_fraction": validation_fraction,
        "window_start": str(window[BATCH_DATE_COLUMN].min()),
        "window_end": str(window[BATCH_DATE_COLUMN].max()),
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        "train_fraud_rows": int(split.train[LABEL_COLUMN].sum()),
        "validation_fraud_rows": int(split.validation[LABEL_COLUMN].sum()),
    }


def log_datasets(split: WindowSplit, batch_date: date, source: str) -> None:
    """Log the training and validation rows as MLflow inputs; MLflow stores their digests."""
    columns = [*FEATURE_COLUMNS, LABEL_COLUMN]
    for context, frame in (("training", split.train), ("validation", split.validation)):
        with warnings.catch_warnings():
            # MLflow hints that the integer Class column cannot hold missing values, and
            # validation guarantees it has none. MLflow 3.17 also registers two local
            # dataset source classes, warns that a local path fits both, and picks one.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains")
            warnings.filterwarnings(
                "ignore", message="The specified dataset source can"
            )
            dataset = mlflow.data.from_pandas(
                frame[columns],
                source=source,
                targets=LABEL_COLUMN,
                name=f"{context}-window-{batch_date.isoformat()}",
            )
            mlflow.log_input(dataset, context=context)


def log_figures(y_true, y_score, metrics: dict, title: str) -> None:
    for figure, artifact in (
        (evaluation.pr_curve_figure(y_true, y_score, title), "pr_curve.png"),
        (evaluation.confusion_figure(metrics, title), "confusion_matrix.png"),
    ):
        mlflow.log_figure(figure, artifact)


def train_candidate(
    *,
    batch_date: date,
    name: str,
    spec: dict,
    split: WindowSplit,
    run_params: dict,
    experiment_id: str,
    parent_run_id: str,
    digest: str,
    seed: int,
    data_source: str,
) -> CandidateRun:
    """Fit candidate ``name`` on ``split.train``, evaluate on ``split.validation``, log it.

    The params logged are the dict that built the estimator (after "balanced" values were
    resolved), plus ``run_params`` describing the window. The logged model predicts
    probabilities and is the exact object evaluated here.
    """
    y_train = split.train[LABEL_COLUMN].to_numpy()
    positives = int(y_train.sum())
    params = candidates.resolve_params(
        spec["estimator"], spec["params"], (len(y_train) - positives, positives)
    )
    model = candidates.build_estimator(name, spec["estimator"], params, seed)

    tags = {
        **tracking.common_tags(batch_date.isoformat(), "candidate"),
        tracking.CANDIDATE: name,
        "fraud.estimator": spec["estimator"],
        tracking.SPEC_DIGEST: digest,
    }
    with mlflow.start_run(
        run_name=f"{batch_date.isoformat()}-{name}",
        experiment_id=experiment_id,
        parent_run_id=parent_run_id,
        tags=tags,
    ) as run:
        mlflow.log_params({"estimator": spec["estimator"], **params, **run_params})
        log_datasets(split, batch_date, data_source)

        started = time.perf_counter()
        model.fit(features(split.train), y_train)
        training_seconds = time.perf_counter() - started

        x_validation = features(split.validation)
        y_validation = split.validation[LABEL_COLUMN].to_numpy()
        y_score = model.predict_proba(x_validation)[:, 1]
        threshold = evaluation.tune_threshold(y_validation, y_score)
        metrics = evaluation.evaluate(
            y_validation, y_score, split.validation["Amount"], threshold
        )
        metrics["training_seconds"] = training_seconds
        mlflow.log_metrics(metrics)
        log_figures(
            y_validation, y_score, metrics, f"{name} on {batch_date.isoformat()}"
        )

        example = x_validation.head(5)
        model_info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            signature=infer_signature(example, model.predict_proba(example)),
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            metadata={"threshold": threshold},
        )
        logger.info(
            "%s %s: average precision %.4f, threshold %.4f, run %s",
            batch_date,
            name,
            metrics["average_precision"],
            threshold,
            run.info.run_id,
        )
    return CandidateRun(run.info.run_id, model_info.model_uri, metrics)
