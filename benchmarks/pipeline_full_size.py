"""Time the daily pipeline on a file as large as the real creditcard.csv.

    .venv/bin/python benchmarks/pipeline_full_size.py [--rows 284807] [--source FILE]

Without --source it generates the synthetic stand-in at the real file's size
(284,807 rows over two days). It cuts the file into days with luigi.cfg's
hours_per_day, backfills every date in a new data folder with the embedded store, and
prints the wall time, each candidate's median fit time and the peak memory (RSS) of
the process.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import luigi
from mlflow.tracking import MlflowClient

from pipeline import layout, settings, synthetic, tracking

REAL_FILE_ROWS = 284_807


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=REAL_FILE_ROWS, help="synthetic rows"
    )
    parser.add_argument(
        "--source", type=Path, help="use this CSV instead of synthetic rows"
    )
    args = parser.parse_args()

    from pipeline.batches import split_days
    from pipeline.tasks import Backfill

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        source = args.source
        if source is None:
            source = Path(folder) / "synthetic.csv"
            synthetic.write_transactions(source, rows=args.rows)
        os.environ[settings.DATA_DIR_VARIABLE] = str(data_dir)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        config = settings.fraud()
        split_days(source, config.start_date, config.hours_per_day)
        dates = layout.batch_dates()

        started = time.perf_counter()
        succeeded = luigi.build(
            [Backfill(start=dates[0], end=dates[-1])],
            local_scheduler=True,
            log_level="WARNING",
        )
        elapsed = time.perf_counter() - started

        experiment_id = tracking.configure()
        runs = MlflowClient().search_runs(
            [experiment_id], "tags.`fraud.run_kind` = 'candidate'", max_results=5000
        )

    fit_seconds: dict[str, list[float]] = {}
    for run in runs:
        name = run.data.tags["fraud.candidate"]
        fit_seconds.setdefault(name, []).append(run.data.metrics["training_seconds"])
    train_rows = [int(run.data.params["train_rows"]) for run in runs]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"source            {source.name} ({args.rows if args.source is None else 'file'} rows)"
    )
    print(f"dates             {len(dates)} ({config.hours_per_day} hours each)")
    print(f"succeeded         {succeeded}")
    print(
        f"wall time         {elapsed:.1f} s for the backfill ({elapsed / len(dates):.1f} s per date)"
    )
    print(
        f"training rows     median {statistics.median(train_rows):,.0f}, max {max(train_rows):,}"
    )
    for name, seconds in sorted(fit_seconds.items()):
        print(
            f"fit {name:<26} median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
        )
    print(f"peak memory (RSS) {peak_mib:,.0f} MiB")
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
