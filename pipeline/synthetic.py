"""A labelled synthetic stand-in for creditcard.csv, for machines without the real file.

The rows only imitate the real layout: 28 independent standard-normal components, a
log-normal Amount, about 2 % fraud (the real file has 0.17 %) shifted along a few components, and Time spanning
two days with fewer transactions at night. Scores of models trained on it do not
reflect real fraud.
"""

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.schema import LABEL_COLUMN, PCA_COLUMNS


def make_transactions(
    rows: int = 20_000, fraud_rate: float = 0.02, seed: int = 7
) -> pd.DataFrame:
    """Return ``rows`` synthetic transactions in the creditcard.csv column order."""
    rng = np.random.default_rng(seed)
    candidates = rng.uniform(0, 2 * 86_400, size=rows * 3)
    hour = (candidates % 86_400) / 3600
    # Keep fewer night-time transactions, as in the real data.
    keep_probability = np.where((hour > 1) & (hour < 7), 0.3, 1.0)
    kept = candidates[rng.uniform(size=candidates.size) < keep_probability]
    seconds = np.sort(rng.choice(kept, size=min(rows, kept.size), replace=False))
    count = seconds.size

    labels = (rng.uniform(size=count) < fraud_rate).astype(int)
    components = rng.standard_normal((count, len(PCA_COLUMNS)))
    shift = np.zeros(len(PCA_COLUMNS))
    shift[[2, 9, 11, 13, 16]] = [-2.5, -2.0, -2.5, -3.0, -2.5]
    components[labels == 1] = components[labels == 1] * 1.8 + shift

    amount = np.round(rng.lognormal(mean=3.0, sigma=1.4, size=count), 2)
    amount[labels == 1] = np.round(
        rng.lognormal(mean=3.5, sigma=1.6, size=labels.sum()), 2
    )

    frame = pd.DataFrame(components, columns=PCA_COLUMNS)
    frame.insert(0, "Time", np.floor(seconds).astype(int))
    frame["Amount"] = amount
    frame[LABEL_COLUMN] = labels
    return frame


def write_transactions(path: Path, rows: int = 20_000, seed: int = 7) -> pd.DataFrame:
    """Write a synthetic file quoted like the real one (quoted header and Class)."""
    frame = make_transactions(rows=rows, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(f'"{name}"' for name in frame.columns) + "\n")
        body = frame.astype({LABEL_COLUMN: str})
        body[LABEL_COLUMN] = '"' + body[LABEL_COLUMN] + '"'
        # The quote character is switched off so that the quoted labels are written as is.
        body.to_csv(
            handle,
            header=False,
            index=False,
            float_format="%.15g",
            quoting=csv.QUOTE_NONE,
        )
    return frame
