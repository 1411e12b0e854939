"""The ``fraud-pipeline`` command."""

import argparse
import contextlib
import fcntl
import functools
import importlib
import logging
import os
import sys
from datetime import date
from pathlib import Path

from pipeline import settings

logger = logging.getLogger("pipeline.cli")

SCHEDULER_URL_VARIABLE = "FRAUD_SCHEDULER_URL"


class DataFolderBusyError(RuntimeError):
    """Another command holds the data folder's lock."""


def parse_date(text: str) -> date:
    try:
        return settings.parse_date(text)
    except settings.SettingsError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def positive_number(kind):
    """Return an argparse type that accepts values of ``kind`` above zero."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"invalid number {text!r}") from err
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


def add_scheduler_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler-url",
        default=os.environ.get(SCHEDULER_URL_VARIABLE),
        help=(
            "luigid to run through, e.g. http://127.0.0.1:8082 "
            f"(default: ${SCHEDULER_URL_VARIABLE}, else a local scheduler in this process)"
        ),
    )
    parser.add_argument(
        "--workers",
        type=positive_number(int),
        default=1,
        help="Luigi worker processes (default 1)",
    )


@functools.cache
def task_failures() -> list[str]:
    """Return the list that collects task failures of this process, once registered."""
    import luigi

    failures: list[str] = []

    @luigi.Task.event_handler(luigi.Event.FAILURE)
    def remember_failure(task, exception):
        failures.append(f"{task.task_id}: {type(exception).__name__}: {exception}")

    return failures


@contextlib.contextmanager
def data_folder_lock():
    """Hold an exclusive lock on the data folder, or raise DataFolderBusyError.

    With a local scheduler nothing else stops two commands from running the same
    date at once and logging it twice. A central luigid hands each task to one worker.
    NOTE: plain "luigi --module ... --local-scheduler" runs do not take this lock.
    """
    path = settings.data_dir() / ".pipeline.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise DataFolderBusyError(
                f"another fraud-pipeline command (pid {owner}) is running on "
                f"{settings.data_dir()}; wait for it to finish, or pass "
                "--scheduler-url to share a luigid"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def build(tasks: list, args: argparse.Namespace) -> int:
    """Run Luigi tasks; return 0 when all are done, 1 otherwise.

    Luigi logs its execution summary itself; this adds one line per failed task with
    the error, so the reason is not lost among tracebacks.
    """
    import luigi
    import luigi.configuration

    settings.validate_config()
    # Logging is already set up by logs.configure(); Luigi would add a second handler.
    luigi.configuration.get_config().set("core", "no_configure_logging", "true")
    options = {"workers": args.workers, "detailed_summary": True}
    failures = task_failures()
    failures.clear()
    if args.scheduler_url:
        options["scheduler_url"] = args.scheduler_url
        result = luigi.build(tasks, **options)
    else:
        options["local_scheduler"] = True
        with data_folder_lock():
            result = luigi.build(tasks, **options)

    succeeded = result.status in (
        luigi.execution_summary.LuigiStatusCode.SUCCESS,
        luigi.execution_summary.LuigiStatusCode.SUCCESS_WITH_RETRY,
    )
    for failure in dict.fromkeys(failures):
        logger.error("failed %s", failure)
    if not succeeded and not failures:
        logger.error("not every task finished: see the Luigi summary above")
    return 0 if succeeded else 1


def command_split_days(args: argparse.Namespace) -> int:
    from pipeline.batches import split_days

    config = settings.fraud()
    written = split_days(
        args.source,
        start_date=args.start_date or config.start_date,
        hours_per_day=args.hours_per_day
        if args.hours_per_day
        else config.hours_per_day,
        overwrite=args.overwrite,
    )
    for day, rows in written.items():
        print(f"{day.isoformat()}  {rows:>7} rows")
    if not written:
        print("no new batch file written (existing files are kept; see --overwrite)")
    return 0


def command_run(args: argparse.Namespace) -> int:
    from pipeline import layout
    from pipeline.tasks import DailyPipeline

    if args.date not in layout.batch_dates():
        print(
            f"no batch for {args.date}: {layout.incoming_path(args.date)} not found. "
            "Drop the day's file there, or cut one with 'fraud-pipeline split-days'.",
            file=sys.stderr,
        )
        return 2
    return build([DailyPipeline(date=args.date)], args)


def command_backfill(args: argparse.Namespace) -> int:
    from pipeline import layout
    from pipeline.tasks import Backfill

    dates = layout.batch_dates()
    start = args.start or (dates[0] if dates else None)
    end = args.end or (dates[-1] if dates else None)
    if start is None or end is None:
        print(
            f"no batch file in {layout.incoming_dir()}; run split-days first",
            file=sys.stderr,
        )
        return 1
    if end < start:
        print(f"--end {end} is before --start {start}", file=sys.stderr)
        return 2
    return build([Backfill(start=start, end=end)], args)


def command_predict(args: argparse.Namespace) -> int:
    from pipeline.predict import predict_file

    return predict_file(args.input, args.output, version=args.version)


def command_quickstart(args: argparse.Namespace) -> int:
    from pipeline.quickstart import quickstart

    return quickstart(args)


DELEGATED_COMMANDS = {
    "dashboard": ("dashboard.server", "main"),
    "schedule": ("pipeline.loop", "main"),
}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-pipeline",
        description=(
            "Daily fraud model pipeline. Data folder: $FRAUD_DATA_DIR (default ./data); "
            "tracking: $MLFLOW_TRACKING_URI (default a SQLite store in the data folder)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    split = commands.add_parser(
        "split-days", help="Cut a creditcard.csv-like file into daily batches"
    )
    split.add_argument(
        "source", type=Path, help="CSV file in the creditcard.csv layout"
    )
    split.add_argument(
        "--hours-per-day",
        type=positive_number(float),
        help="Hours of Time per simulated day (default: luigi.cfg)",
    )
    split.add_argument(
        "--start-date",
        type=parse_date,
        help="Date of the first day (default: luigi.cfg)",
    )
    split.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace batch files that already exist",
    )
    split.set_defaults(handler=command_split_days)

    run = commands.add_parser("run", help="Run the pipeline for one batch date")
    run.add_argument(
        "--date", type=parse_date, required=True, help="Batch date, YYYY-MM-DD"
    )
    add_scheduler_options(run)
    run.set_defaults(handler=command_run)

    backfill = commands.add_parser(
        "backfill", help="Run every batch date in a range, in order"
    )
    backfill.add_argument(
        "--start", type=parse_date, help="First date (default: the first batch)"
    )
    backfill.add_argument(
        "--end", type=parse_date, help="Last date (default: the last batch)"
    )
    add_scheduler_options(backfill)
    backfill.set_defaults(handler=command_backfill)

    predict = commands.add_parser(
        "predict", help="Score a CSV file with the production model"
    )
    predict.add_argument(
        "input", type=Path, help="CSV file with Time, V1..V28, Amount (Class optional)"
    )
    predict.add_argument(
        "--output", type=Path, help="Where to write predictions (default: stdout)"
    )
    predict.add_argument(
        "--version", help="Registry version to use instead of @production"
    )
    predict.set_defaults(handler=command_predict)

    quickstart = commands.add_parser(
        "quickstart",
        help="Split data/creditcard.csv (or a synthetic stand-in) and backfill every date",
    )
    quickstart.add_argument(
        "--source", type=Path, help="Source CSV (default: <data folder>/creditcard.csv)"
    )
    add_scheduler_options(quickstart)
    quickstart.set_defaults(handler=command_quickstart)

    # These two have parsers of their own; main() hands them the rest of the line.
    commands.add_parser(
        "dashboard", help="Serve the Dash dashboard (--help for options)"
    )
    commands.add_parser(
        "schedule",
        help="Catch up every date up to today, periodically (--help for options)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED_COMMANDS:
        module_name, function_name = DELEGATED_COMMANDS[argv[0]]
        module = importlib.import_module(module_name)
        return getattr(module, function_name)(argv[1:])

    args = make_parser().parse_args(argv)
    from pipeline import logs

    logs.configure()
    from pipeline.batches import BatchValidationError
    from pipeline.candidates import CandidateSpecError
    from pipeline.predict import ModelNotFoundError
    from pipeline.quickstart import DataFolderConflictError

    expected_errors = (
        BatchValidationError,
        CandidateSpecError,
        DataFolderBusyError,
        DataFolderConflictError,
        FileNotFoundError,
        ModelNotFoundError,
        settings.SettingsError,
    )
    try:
        return args.handler(args)
    except expected_errors as err:
        logger.error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
