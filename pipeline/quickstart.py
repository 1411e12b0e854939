"""``make run``: from a source file (or a synthetic stand-in) to a production model."""

import json
import logging
from pathlib import Path

from pipeline import layout, registry, settings, synthetic, tracking
from pipeline.batches import split_days

logger = logging.getLogger(__name__)

SYNTHETIC_ROWS = 20_000


class DataFolderConflictError(RuntimeError):
    """The data folder already holds batches cut from another source."""


def choose_source(requested: Path | None) -> tuple[Path, bool]:
    """Return the source file and whether it is the synthetic stand-in."""
    if requested is not None:
        if not requested.exists():
            raise FileNotFoundError(f"source file {requested} not found")
        return requested, False
    real = settings.data_dir() / "creditcard.csv"
    if real.exists():
        return real, False
    stand_in = settings.data_dir() / "synthetic" / "creditcard_synthetic.csv"
    if not stand_in.exists():
        synthetic.write_transactions(stand_in, rows=SYNTHETIC_ROWS)
    logger.warning(
        "%s not found: using a SYNTHETIC stand-in (%s, %d rows). Its scores say nothing "
        "about real fraud. Put the Kaggle creditcard.csv at %s to use real data.",
        real,
        stand_in,
        SYNTHETIC_ROWS,
        real,
    )
    return stand_in, True


def check_source_marker(source: Path, hours_per_day: float) -> None:
    """Refuse to mix batches of two sources (or two day lengths) in one data folder."""
    marker = layout.incoming_dir() / "source.json"
    expected = {"source": str(source.resolve()), "hours_per_day": hours_per_day}
    if marker.exists():
        found = json.loads(marker.read_text())
        if found != expected:
            raise DataFolderConflictError(
                f"{settings.data_dir()} already holds batches cut from {found['source']} "
                f"({found['hours_per_day']} hours per day), not {expected['source']} "
                f"({hours_per_day} hours per day). Set FRAUD_DATA_DIR to a new folder, or "
                "remove its incoming/, validated/, runs/, predictions/ and mlflow/ folders."
            )
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(expected, indent=2))


def summary_lines(is_synthetic: bool) -> list[str]:
    """Describe where everything is after a run."""
    config = settings.fraud()
    tracking.configure()
    uri = settings.tracking_uri()
    lines = [
        "",
        "Done."
        + (
            "  (SYNTHETIC data: scores say nothing about real fraud)"
            if is_synthetic
            else ""
        ),
    ]
    dates = layout.batch_dates()
    if dates:
        lines.append(
            f"  batch dates        {dates[0]} .. {dates[-1]} ({len(dates)} dates)"
        )
    lines.append(f"  data folder        {settings.data_dir()}")
    lines.append(
        f"  MLflow tracking    {uri}  (experiment {settings.experiment_name()})"
    )
    if settings.uses_embedded_store():
        lines.append(f"  MLflow artifacts   {settings.local_artifact_root()}")
    version = registry.production_version(config.model_name)
    if version is None:
        lines.append(
            f"  production model   none yet in registered model {config.model_name}"
        )
    else:
        ap = version.tags.get("fraud.promotion.challenger_average_precision", "?")
        lines.append(
            f"  production model   models:/{config.model_name}@production = version "
            f"{version.version} ({version.tags.get('fraud.candidate', '?')}, trained "
            f"{version.tags.get('fraud.batch_date', '?')}, validation average precision {ap})"
        )
    lines.append(
        f"  predictions        {settings.data_dir() / 'predictions'}/<date>/predictions.csv"
    )
    lines.append(
        f"  quarantined rows   {settings.data_dir() / 'validated'}/<date>/quarantine.csv"
    )
    lines.append(f"  log                {layout.log_path()}")
    lines.append("")
    if settings.uses_embedded_store():
        lines.append(
            f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {uri} --port 5000"
        )
    else:
        lines.append(
            f"  MLflow UI:  {uri}"
            if tracking.uses_server(uri)
            else f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {uri}"
        )
    lines.append(
        "  Luigi UI:   .venv/bin/luigid --port 8082, then add --scheduler-url http://127.0.0.1:8082"
    )
    lines.append(
        "              to fraud-pipeline run/backfill and open http://127.0.0.1:8082"
    )
    lines.append("  Dashboard:  .venv/bin/fraud-pipeline dashboard --port 8050")
    return lines


def quickstart(args) -> int:
    """Split the source into daily batches, backfill every date, print where things are."""
    from pipeline.cli import build
    from pipeline.tasks import Backfill

    config = settings.fraud()
    source, is_synthetic = choose_source(args.source)
    check_source_marker(source, config.hours_per_day)
    written = split_days(
        source, start_date=config.start_date, hours_per_day=config.hours_per_day
    )
    logger.info(
        "split %s: %d new batch file(s) in %s",
        source,
        len(written),
        layout.incoming_dir(),
    )

    dates = layout.batch_dates()
    status = build([Backfill(start=dates[0], end=dates[-1])], args)
    print("\n".join(summary_lines(is_synthetic)))
    return status
