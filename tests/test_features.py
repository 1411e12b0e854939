from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipeline.features import (
    WindowError,
    combine_batches,
    feature_drift,
    population_stability,
    split_window,
)
from pipeline.schema import FEATURE_COLUMNS

DAY_ONE = date(2024, 1, 1)
DAY_TWO = date(2024, 1, 2)


def batch(rows: int, seed: int, fraud_every: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.standard_normal((rows, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS
    )
    frame.insert(0, "Time", np.arange(rows, dtype=float)[::-1] * 10)
    frame.insert(0, "row_id", np.arange(2, rows + 2))
    frame["Class"] = (np.arange(rows) % fraud_every == 0).astype("int8")
    return frame


def test_validation_is_latest_rows_of_batch_date():
    window = combine_batches({DAY_ONE: batch(40, 1), DAY_TWO: batch(20, 2)})
    split = split_window(window, DAY_TWO, validation_fraction=0.5)

    assert len(split.validation) == 10
    assert set(split.validation["batch_date"]) == {DAY_TWO}
    latest_training_time = split.train.loc[
        split.train["batch_date"] == DAY_TWO, "Time"
    ].max()
    assert split.validation["Time"].min() > latest_training_time
    assert len(split.train) == 50


def test_training_and_validation_rows_do_not_overlap():
    window = combine_batches({DAY_ONE: batch(40, 1), DAY_TWO: batch(20, 2)})
    split = split_window(window, DAY_TWO, validation_fraction=0.3)
    keys = ["batch_date", "row_id"]
    overlap = split.train[keys].merge(split.validation[keys], on=keys)

    assert overlap.empty
    assert len(split.train) + len(split.validation) == len(window)


def test_single_class_training_is_rejected():
    # The only fraud row is the latest one, so it lands in validation.
    window = combine_batches({DAY_ONE: batch(20, 1, fraud_every=1000)})

    with pytest.raises(WindowError, match="training rows contain only Class=0"):
        split_window(window, DAY_ONE, validation_fraction=0.5)


def test_single_class_validation_is_allowed():
    frame = batch(20, 1, fraud_every=1000)
    frame["Class"] = (frame["Time"] == frame["Time"].min()).astype("int8")
    split = split_window(combine_batches({DAY_ONE: frame}), DAY_ONE, 0.5)

    assert split.validation["Class"].sum() == 0
    assert split.train["Class"].sum() == 1


def test_missing_batch_date_is_rejected():
    window = combine_batches({DAY_ONE: batch(20, 1)})

    with pytest.raises(WindowError, match="no accepted rows for 2024-01-02"):
        split_window(window, DAY_TWO, validation_fraction=0.5)


@pytest.mark.parametrize("fraction", [0, 1, 1.5])
def test_validation_fraction_out_of_range(fraction):
    window = combine_batches({DAY_ONE: batch(20, 1)})

    with pytest.raises(
        WindowError, match="validation_fraction must be between 0 and 1"
    ):
        split_window(window, DAY_ONE, validation_fraction=fraction)


def test_stability_index_zero_for_same_sample():
    values = pd.Series(np.random.default_rng(0).standard_normal(5000))

    assert population_stability(values, values) == pytest.approx(0.0, abs=1e-12)


def test_stability_index_grows_with_shift():
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.standard_normal(5000))
    small = population_stability(reference, reference + 0.1)
    large = population_stability(reference, reference + 1.0)

    assert 0 < small < 0.1
    assert large > 0.25


def test_stability_index_of_constant_reference():
    assert population_stability(pd.Series([1.0] * 10), pd.Series([2.0] * 10)) == 0.0


def test_feature_drift_names_every_feature():
    drift = feature_drift(batch(100, 1), batch(100, 2))

    assert sorted(drift) == sorted(f"psi_{name}" for name in FEATURE_COLUMNS)
