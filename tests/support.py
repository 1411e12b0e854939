"""Helpers shared by the test modules: the test store's dates and pipeline runs."""

import os
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from unittest import mock

import luigi
import mlflow

from pipeline import settings
from pipeline.batches import split_days

SAMPLE_CSV = Path(
    os.environ.get(
        "FRAUD_SAMPLE_CSV",
        settings.PROJECT_ROOT.parent / "shared" / "data" / "creditcard_sample.csv",
    )
)
POSTGRES_DSN = os.environ.get(
    "FRAUD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The pipeline store used by end-to-end and dashboard tests: the sample cut into days
# of 12 hours gives four batch dates of about 3,700 rows each.
STORE_START = date(2013, 9, 1)
STORE_HOURS_PER_DAY = 12
STORE_DATES = [date(2013, 9, day) for day in (1, 2, 3, 4)]


@contextmanager
def pipeline_environment(data_dir: Path, tracking_uri: str | None = None):
    """Point the pipeline at ``data_dir`` and a tracking store for the block's duration."""
    overrides = {settings.DATA_DIR_VARIABLE: str(data_dir)}
    if tracking_uri:
        overrides["MLFLOW_TRACKING_URI"] = tracking_uri
    with mock.patch.dict(os.environ, overrides):
        if not tracking_uri:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
        previous_uri = mlflow.get_tracking_uri()
        try:
            yield data_dir
        finally:
            mlflow.set_tracking_uri(previous_uri)


def run_pipeline(tasks: list) -> bool:
    """Build tasks with a local scheduler in this process; return whether all succeeded."""
    return luigi.build(tasks, local_scheduler=True, workers=1, log_level="WARNING")


def fill_store(source: Path, data_dir: Path, tracking_uri: str | None = None) -> Path:
    """Cut ``source`` into the store's dates and run the pipeline over all of them."""
    from pipeline.tasks import Backfill

    with pipeline_environment(data_dir, tracking_uri):
        split_days(source, STORE_START, STORE_HOURS_PER_DAY)
        assert run_pipeline([Backfill(start=STORE_DATES[0], end=STORE_DATES[-1])])
    return data_dir


def require_service(available: bool, reason: str) -> None:
    """Skip the calling test when a service is missing, or fail it under CI."""
    import pytest

    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every service the tests need must be present)")
    pytest.skip(reason)
