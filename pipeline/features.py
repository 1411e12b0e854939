"""Training windows, the time-ordered validation split and feature drift."""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipeline.schema import FEATURE_COLUMNS, LABEL_COLUMN, ROW_ID_COLUMN, TIME_COLUMN

BATCH_DATE_COLUMN = "batch_date"
PSI_BINS = 10
# Share given to an empty bin, so that the logarithm in the PSI stays finite.
PSI_FLOOR = 1e-4


class WindowError(ValueError):
    """The training window cannot be split into usable training and validation rows."""


@dataclass
class WindowSplit:
    """Training and validation rows of one batch date's window."""

    train: pd.DataFrame
    validation: pd.DataFrame


def combine_batches(batches: dict[date, pd.DataFrame]) -> pd.DataFrame:
    """Stack validated batches, adding ``batch_date``, ordered by date, Time and row_id."""
    frames = [
        frame.assign(**{BATCH_DATE_COLUMN: day}) for day, frame in batches.items()
    ]
    combined = pd.concat(frames, ignore_index=True)
    return combined.sort_values(
        [BATCH_DATE_COLUMN, TIME_COLUMN, ROW_ID_COLUMN], ignore_index=True
    )


def split_window(
    window: pd.DataFrame, batch_date: date, validation_fraction: float
) -> WindowSplit:
    """Hold out the latest ``validation_fraction`` of ``batch_date``'s rows for validation.

    Training gets every earlier row of the window. Validation rows are never seen by a
    model, scaler or resampler during fitting, and none of them was in the window of any
    earlier date, so the production model can be scored on them fairly too. Validation
    rows of a single class are allowed: ranking metrics are then undefined (NaN) and the
    promotion gate skips the date.
    """
    if not 0 < validation_fraction < 1:
        raise WindowError(
            f"validation_fraction must be between 0 and 1, got {validation_fraction}"
        )
    today = window[window[BATCH_DATE_COLUMN] == batch_date]
    if today.empty:
        raise WindowError(f"the window has no accepted rows for {batch_date}")

    validation_rows = max(1, round(len(today) * validation_fraction))
    validation = today.iloc[-validation_rows:]
    train = window.drop(index=validation.index)
    if train.empty:
        raise WindowError(
            f"{batch_date}: no training rows left after holding out {validation_rows} "
            "validation rows; lower validation_fraction or widen window_days"
        )
    if train[LABEL_COLUMN].nunique() < 2:
        raise WindowError(
            f"{batch_date}: the {len(train)} training rows contain only "
            f"Class={train[LABEL_COLUMN].iloc[0]}, so no model can learn from them. "
            "Widen window_days or lower validation_fraction in luigi.cfg."
        )
    return WindowSplit(
        train=train.reset_index(drop=True), validation=validation.reset_index(drop=True)
    )


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model inputs: ``V1``..``V28`` and ``Amount`` as float64."""
    return frame[FEATURE_COLUMNS].astype("float64")


def population_stability(
    reference: pd.Series, current: pd.Series, bins: int = PSI_BINS
) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are the reference's quantiles; 0.1 is commonly read as moderate drift and 0.25
    as large drift.
    """
    edges = np.unique(np.quantile(reference.to_numpy(), np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return 0.0
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected = np.clip(expected, PSI_FLOOR, None)
    actual = np.clip(actual, PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    """PSI of every feature column: ``{"psi_V1": ..., "psi_Amount": ...}``."""
    return {
        f"psi_{name}": population_stability(reference[name], current[name])
        for name in FEATURE_COLUMNS
    }
