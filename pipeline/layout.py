"""Layout of the pipeline's files inside the data folder.

incoming/transactions_<date>.csv        batches as they arrive
validated/<date>/transactions.parquet   accepted rows, typed, with row_id
validated/<date>/quarantine.csv         rejected rows with the reason
validated/<date>/report.json            validation counts
runs/<date>/*.json                      MLflow run ids and decisions, per task
predictions/<date>/predictions.csv      scores of the production model
mlflow/                                 embedded tracking store and artifacts
logs/pipeline.log                       log of every command
"""

import logging
import re
from datetime import date
from pathlib import Path

from pipeline import settings

INCOMING_PATTERN = re.compile(r"^transactions_(\d{4}-\d{2}-\d{2})\.csv$")
INCOMING_PREFIX = "transactions_"

logger = logging.getLogger(__name__)
_reported_names: set[str] = set()


def incoming_dir() -> Path:
    return settings.data_dir() / "incoming"


def incoming_path(day: date) -> Path:
    return incoming_dir() / f"transactions_{day.isoformat()}.csv"


def validated_dir(day: date) -> Path:
    return settings.data_dir() / "validated" / day.isoformat()


def runs_dir(day: date) -> Path:
    return settings.data_dir() / "runs" / day.isoformat()


def predictions_dir(day: date) -> Path:
    return settings.data_dir() / "predictions" / day.isoformat()


def log_path() -> Path:
    return settings.data_dir() / "logs" / "pipeline.log"


def batch_date_of(name: str) -> date | None:
    """Return the date in a batch file name, or None if the name is not a valid one."""
    match = INCOMING_PATTERN.match(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def incoming_dates() -> list[date]:
    """List the dates of every batch file in the landing folder, oldest first."""
    if not incoming_dir().is_dir():
        return []
    found = []
    for path in incoming_dir().iterdir():
        if not path.name.startswith(INCOMING_PREFIX) or path.name.endswith(".partial"):
            continue
        day = batch_date_of(path.name)
        if day is not None:
            found.append(day)
        elif path.name not in _reported_names:
            _reported_names.add(path.name)
            logger.warning(
                "ignoring %s: a batch file must be named transactions_YYYY-MM-DD.csv "
                "with a valid date; rename it to be processed",
                path,
            )
    return sorted(found)


def batch_dates() -> list[date]:
    """List every batch date that arrived, oldest first.

    A date counts once its file is in the landing folder or its validated batch is
    stored, so clearing processed files out of the landing folder changes nothing.
    """
    validated_root = settings.data_dir() / "validated"
    validated = set()
    if validated_root.is_dir():
        for folder in validated_root.iterdir():
            try:
                validated.add(date.fromisoformat(folder.name))
            except ValueError:
                continue
    return sorted(validated | set(incoming_dates()))


def previous_batch_date(day: date) -> date | None:
    """Return the latest batch date before ``day``, if any."""
    earlier = [d for d in batch_dates() if d < day]
    return earlier[-1] if earlier else None
