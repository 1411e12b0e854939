"""``make run``: from a source file (or a synthetic stand-in) to a production model."""

import json
import logging
import math
from pathlib import Path

from pipeline import layout, registry, settings, synthetic, tracking
from pipeline.batches import split_days

logger = logging.getLogger(__name__)

SYNTHETIC_ROWS = 20_000


class DataFolderConflictError(RuntimeError):
    """The data folder already contains batches cut from another source."""


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
                f"{settings.data_dir()} already contains batches cut from {found['source']} "
                f"({found['hours_per_day']} hours per day), not {expected['source']} "
                f"({hours_per_day} hours per day). Set FRAUD_DATA_DIR to a new folder, or "
                "remove its incoming/, validated/, runs/, predictions/ and mlflow/ folders."
            )
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(expected, indent=2))


def format_score(value: float | None, version: str | None = None) -> str:
    """Format an average precision for the summary; '-' when there is none."""
    if value is None or math.isnan(value):
        return "none yet" if version is None else "-"
    return f"{value:.4f}" + (f" (v{version})" if version else "")


def date_table() -> list[str]:
    """Format one line per date: rows, production's live score and the gate's outcome."""
    lines = [
        "  date        rows  quarantined  production AP  best candidate             AP      decision",
    ]
    for day in layout.batch_dates():
        runs = layout.runs_dir(day)
        report_path = layout.validated_dir(day) / "report.json"
        promotion_path = runs / "promotion.json"
        if not (report_path.exists() and promotion_path.exists()):
            lines.append(f"  {day}  not finished")
            continue
        report = json.loads(report_path.read_text())
        score = json.loads((runs / "score.json").read_text())
        promotion = json.loads(promotion_path.read_text())
        live = score["metrics"]["average_precision"] if score["metrics"] else None
        challenger = promotion["challenger_average_precision"]
        lines.append(
            f"  {day}  {report['rows_read']:>5}  {report['rows_quarantined']:>11}  "
            f"{format_score(live, score['model_version']):>13}  "
            f"{promotion['candidate'] or '-':<25}  "
            f"{format_score(challenger):>6}  {promotion['decision']}"
        )
    return lines


def production_line(model_name: str) -> str:
    version = registry.production_version(model_name)
    if version is None:
        return f"none yet in registered model {model_name}"
    tags = version.tags
    score = float(tags.get("fraud.promotion.challenger_average_precision", "nan"))
    return (
        f"models:/{model_name}@production = version {version.version} "
        f"({tags.get('fraud.candidate', '?')}, trained {tags.get('fraud.batch_date', '?')}, "
        f"validation average precision {score:.4f})"
    )


def ui_lines(uri: str) -> list[str]:
    if tracking.uses_server(uri):
        mlflow_ui = uri
    else:
        mlflow_ui = f".venv/bin/mlflow ui --backend-store-uri {uri} --port 5000"
    return [
        f"  MLflow UI:  {mlflow_ui}",
        "  Luigi UI:   .venv/bin/luigid --address 127.0.0.1 --port 8082, then add --scheduler-url "
        + "http://127.0.0.1:8082",
        "              to fraud-pipeline run/backfill and open http://127.0.0.1:8082",
        "  Dashboard:  .venv/bin/fraud-pipeline dashboard --port 8050",
    ]


def summary_lines(is_synthetic: bool) -> list[str]:
    """Describe what the run produced and where everything is."""
    tracking.configure()
    uri = settings.tracking_uri()
    data_dir = settings.data_dir()
    dates = layout.batch_dates()

    lines = ["", "Done."]
    if is_synthetic:
        lines[-1] += "  (SYNTHETIC data: scores say nothing about real fraud)"
    if dates:
        lines.append(
            f"  batch dates        {dates[0]} .. {dates[-1]} ({len(dates)} dates)"
        )
    lines.append(f"  data folder        {data_dir}")
    lines.append(
        f"  MLflow tracking    {uri}  (experiment {settings.experiment_name()})"
    )
    if settings.uses_embedded_store():
        lines.append(f"  MLflow artifacts   {settings.local_artifact_root()}")
    lines.append(f"  production model   {production_line(settings.fraud().model_name)}")
    lines.append(
        f"  predictions        {data_dir / 'predictions'}/<date>/predictions.csv"
    )
    lines.append(f"  quarantined rows   {data_dir / 'validated'}/<date>/quarantine.csv")
    lines.append(f"  log                {layout.log_path()}")

    lines.extend(["", *date_table(), ""])
    lines.extend(ui_lines(uri))
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
