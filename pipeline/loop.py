"""The scheduler loop behind ``fraud-pipeline schedule``.

Every round builds ``Backfill(first batch date .. today)`` through luigid. Luigi runs
only the dates whose ``DailyPipeline`` is incomplete, so a date missed while the loop
was down, or a batch that arrived late, is caught up in the next round, and a finished
date costs one completeness check. SIGTERM or SIGINT ends the loop after the current
round.
"""

import argparse
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import date

logger = logging.getLogger(__name__)

SCHEDULER_URL_VARIABLE = "FRAUD_SCHEDULER_URL"


@dataclass
class RoundResult:
    """Outcome of one round: the batch dates in range and whether the build worked."""

    complete: list[date]
    pending: list[date]
    succeeded: bool


def split_by_completeness(tasks: list) -> tuple[list[date], list[date]]:
    """Split DailyPipeline tasks into the dates that are complete and those pending."""
    complete, pending = [], []
    for task in tasks:
        (complete if task.complete() else pending).append(task.date)
    return complete, pending


def run_round(scheduler_url: str | None, workers: int, today: date) -> RoundResult:
    """Build the backfill from the first batch date to ``today`` through luigid.

    With ``scheduler_url`` None, Luigi uses ``[core] default_scheduler_url`` from
    luigi.cfg. The loop never falls back to a local scheduler, which would let two
    workers run the same date.
    """
    import luigi
    import luigi.configuration
    from luigi.execution_summary import LuigiStatusCode

    from pipeline import layout
    from pipeline.tasks import Backfill

    dates = layout.batch_dates()
    if not dates:
        logger.info(
            "no batch file in %s yet; nothing to schedule", layout.incoming_dir()
        )
        return RoundResult(complete=[], pending=[], succeeded=True)
    if dates[0] > today:
        logger.info(
            "first batch date %s is after today %s; nothing to schedule",
            dates[0],
            today,
        )
        return RoundResult(complete=[], pending=[], succeeded=True)

    backfill = Backfill(start=dates[0], end=today)
    complete, pending = split_by_completeness(list(backfill.requires()))
    logger.info(
        "round for %s .. %s: %d date(s) complete, %d pending%s",
        dates[0],
        today,
        len(complete),
        len(pending),
        f" ({', '.join(day.isoformat() for day in pending[:10])})" if pending else "",
    )
    if not pending:
        return RoundResult(complete=complete, pending=[], succeeded=True)

    # The process has its logging set up already; Luigi would add a second handler.
    luigi.configuration.get_config().set("core", "no_configure_logging", "true")
    options = {"workers": workers, "detailed_summary": True}
    if scheduler_url:
        options["scheduler_url"] = scheduler_url
    result = luigi.build([backfill], **options)
    succeeded = result.status in (
        LuigiStatusCode.SUCCESS,
        LuigiStatusCode.SUCCESS_WITH_RETRY,
    )

    complete, pending = split_by_completeness(list(backfill.requires()))
    log = logger.info if succeeded else logger.error
    log(
        "round finished (%s): %d date(s) complete, %d still pending%s",
        result.status.name,
        len(complete),
        len(pending),
        f" ({', '.join(day.isoformat() for day in pending[:10])})" if pending else "",
    )
    return RoundResult(complete=complete, pending=pending, succeeded=succeeded)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fraud-pipeline schedule",
        description=(
            "Every few minutes, run through luigid the pipeline of every batch date "
            "from the first one in the landing folder up to today."
        ),
    )
    parser.add_argument(
        "--every",
        type=float,
        default=300,
        help="seconds from the start of one round to the next one's (default 300)",
    )
    parser.add_argument(
        "--scheduler-url",
        default=os.environ.get(SCHEDULER_URL_VARIABLE),
        help=(
            "luigid URL, e.g. http://127.0.0.1:8082 (default: $FRAUD_SCHEDULER_URL, "
            "else [core] default_scheduler_url in luigi.cfg)"
        ),
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Luigi worker processes per round (default 1)",
    )
    parser.add_argument(
        "--once", action="store_true", help="run one round and exit with its status"
    )
    args = parser.parse_args(argv)
    if args.every <= 0:
        parser.error(f"--every must be a positive number of seconds, got {args.every}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run rounds until SIGTERM or SIGINT, or one round with --once.

    Return 0 on a clean stop. With --once, return 1 when the round failed.
    """
    args = parse_args(argv)
    if not logging.getLogger().handlers:
        from pipeline import logs

        logs.configure()

    stop = threading.Event()

    def request_stop(signum, frame):
        logger.info(
            "received %s; stopping after the current round", signal.Signals(signum).name
        )
        stop.set()

    previous_handlers = {
        signum: signal.signal(signum, request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    target = args.scheduler_url or "[core] default_scheduler_url"
    logger.info("scheduler loop started: every %.0f s through %s", args.every, target)
    round_number = 0
    failed_rounds = 0
    try:
        while not stop.is_set():
            round_number += 1
            started = time.monotonic()
            logger.info("round %d started", round_number)
            try:
                result = run_round(args.scheduler_url, args.workers, date.today())
            except Exception:
                # A bad round (luigid down, a broken batch) must not end the service.
                failed_rounds += 1
                logger.exception("round %d failed", round_number)
                result = RoundResult(complete=[], pending=[], succeeded=False)
            else:
                if not result.succeeded:
                    failed_rounds += 1
            if args.once:
                return 0 if result.succeeded else 1
            pause = max(0.0, args.every - (time.monotonic() - started))
            stop.wait(pause)
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    logger.info(
        "scheduler loop stopped after %d round(s), %d failed",
        round_number,
        failed_rounds,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
