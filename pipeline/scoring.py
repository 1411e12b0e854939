"""Scoring rows with a fitted model and writing predictions."""

import pandas as pd

from pipeline.features import features
from pipeline.schema import ROW_ID_COLUMN

PREDICTION_COLUMNS = [ROW_ID_COLUMN, "fraud_probability", "is_fraud", "model_version"]


def fraud_probability(model, frame: pd.DataFrame) -> pd.Series:
    """Return each row's fraud probability from a classifier with ``predict_proba``."""
    probabilities = model.predict_proba(features(frame))[:, 1]
    return pd.Series(probabilities, index=frame.index, name="fraud_probability")


def predictions_frame(
    frame: pd.DataFrame, probability: pd.Series, threshold: float, model_version: str
) -> pd.DataFrame:
    """Return ``row_id``, ``fraud_probability``, ``is_fraud`` (0/1 at ``threshold``) and ``model_version``."""
    return pd.DataFrame(
        {
            ROW_ID_COLUMN: frame[ROW_ID_COLUMN].to_numpy(),
            "fraud_probability": probability.to_numpy(),
            "is_fraud": (probability.to_numpy() >= threshold).astype(int),
            "model_version": model_version,
        }
    )
