"""Time the dashboard's queries and page build on a year of daily runs.

The script fills a fresh MLflow store as the pipeline would after a year. Each of 365
dates gets a parent run, five candidate runs and a production score run (none on the
first date). Every run has 45 metrics in both ``metrics`` and ``latest_metrics``. There
is one registry version per date, and a few runs are deleted or failed.
MLflow's client creates the schema, the experiment and the registered model. The rows
go in with bulk SQL inserts, which take seconds where the client would take many
minutes. Then it times each query of dashboard.queries and the full page build.

    .venv/bin/python benchmarks/dashboard_queries.py                # SQLite, temporary
    .venv/bin/python benchmarks/dashboard_queries.py --postgres     # PostgreSQL too

``--postgres`` creates a database on 127.0.0.1:5432 (user postgres, or
--postgres-admin-dsn) and drops it at the end.
"""

import argparse
import platform
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from mlflow import MlflowClient

from dashboard import page, queries, store, views
from pipeline.evaluation import METRIC_NAMES
from pipeline.schema import FEATURE_COLUMNS

EXPERIMENT = "fraud-detection"
MODEL = "fraud-detector"
FEATURES = FEATURE_COLUMNS
CANDIDATE_METRICS = [*METRIC_NAMES, "training_seconds"]
MS_PER_DAY = 86_400_000
UI_URL = "http://127.0.0.1:5000"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dates", type=int, default=365, help="batch dates (default: 365)"
    )
    parser.add_argument(
        "--candidates", type=int, default=5, help="candidates per date (default: 5)"
    )
    parser.add_argument(
        "--metrics-per-run",
        type=int,
        default=45,
        help="pad each run with extra metric keys up to this count (default: 45)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timed repetitions of each step (default: 5)",
    )
    parser.add_argument(
        "--postgres", action="store_true", help="also benchmark PostgreSQL"
    )
    parser.add_argument(
        "--postgres-admin-dsn",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="server where the benchmark may create and drop a database",
    )
    return parser.parse_args(argv)


def padded(values: dict[str, float], size: int) -> dict[str, float]:
    """Add ``bench_extra_<n>`` keys until ``values`` has ``size`` metrics.

    The extra keys stand for metrics the dashboard does not read, which its queries
    must skip without scanning them one run at a time.
    """
    extra = {f"bench_extra_{n}": float(n) for n in range(max(0, size - len(values)))}
    return {**values, **extra}


def build_rows(args: argparse.Namespace, experiment_id: int) -> dict[str, list[dict]]:
    """Build every row to insert, per table, following docs/tracking.md."""
    rng = np.random.default_rng(0)
    rows = {
        name: [] for name in ("runs", "tags", "metrics", "model_versions", "mv_tags")
    }
    candidates = [f"candidate_{n}" for n in range(args.candidates)]
    first = date(2025, 1, 1)
    start_ms = 1_735_700_000_000
    production_version = None

    def add_run(run_name, day_index, status, tags, metrics, deleted=False):
        run_id = uuid.uuid4().hex
        started = start_ms + day_index * MS_PER_DAY + len(rows["runs"]) * 1000
        rows["runs"].append(
            {
                "run_uuid": run_id,
                "name": run_name,
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "bench",
                "status": status,
                "start_time": started,
                "end_time": started + int(rng.integers(2_000, 60_000)),
                "source_version": "",
                "lifecycle_stage": "deleted" if deleted else "active",
                "artifact_uri": f"file:///tmp/artifacts/{run_id}",
                "experiment_id": experiment_id,
            }
        )
        for key, value in {**tags, "mlflow.runName": run_name}.items():
            rows["tags"].append({"key": key, "value": value, "run_uuid": run_id})
        for key, value in padded(metrics, args.metrics_per_run).items():
            rows["metrics"].append(
                {
                    "key": key,
                    "value": value,
                    "timestamp": started,
                    "run_uuid": run_id,
                    "step": 0,
                    "is_nan": False,
                }
            )
        return run_id

    for index in range(args.dates):
        day = (first + timedelta(days=index)).isoformat()
        common = {
            "fraud.batch_date": day,
            "fraud.code_version": "bench",
            "fraud.seed": "42",
        }
        failed = index % 97 == 50
        batch_metrics = {
            "batch_rows": 2500.0,
            "batch_accepted_rows": 2490.0,
            "batch_quarantined_rows": 10.0,
            "batch_fraud_rate": 0.002,
        }
        if index > 0:
            batch_metrics.update(
                {f"psi_{name}": float(abs(rng.normal(0.05, 0.04))) for name in FEATURES}
            )
        parent_tags = {
            **common,
            "fraud.run_kind": "batch",
            "fraud.production.model_version": production_version or "none",
        }
        child_tags = {**common}
        scores = {}
        if not failed:
            for name in candidates:
                scores[name] = {
                    key: float(rng.uniform(0.5, 0.95)) for key in CANDIDATE_METRICS
                }
            best = max(scores, key=lambda name: scores[name]["average_precision"])
            version = str(index + 1)
            decision = (
                "promoted"
                if production_version is None or index % 7 == 0
                else "rejected"
            )
            parent_tags.update(
                {
                    "fraud.promotion.decision": decision,
                    "fraud.promotion.reason": "benchmark",
                    "fraud.promotion.candidate": best,
                    "fraud.promotion.model_version": version,
                }
            )
            batch_metrics["promotion_challenger_average_precision"] = scores[best][
                "average_precision"
            ]
        parent = add_run(
            f"batch-{day}",
            index,
            "FAILED" if failed else "FINISHED",
            parent_tags,
            batch_metrics,
        )
        if failed:
            continue
        child_tags["mlflow.parentRunId"] = parent

        if production_version is not None:
            add_run(
                f"{day}-production",
                index,
                "FINISHED",
                {
                    **child_tags,
                    "fraud.run_kind": "production_score",
                    "fraud.candidate": "production",
                    "fraud.model_version": production_version,
                },
                {key: float(rng.uniform(0.5, 0.95)) for key in CANDIDATE_METRICS},
            )
        for position, name in enumerate(candidates):
            run_id = add_run(
                f"{day}-{name}",
                index,
                "FINISHED",
                {**child_tags, "fraud.run_kind": "candidate", "fraud.candidate": name},
                scores[name],
                deleted=index % 53 == 10 and position == 0,
            )
            if name == best:
                best_run = run_id
        rows["model_versions"].append(
            {
                "name": MODEL,
                "version": index + 1,
                "creation_time": start_ms + index * MS_PER_DAY,
                "last_updated_time": start_ms + index * MS_PER_DAY,
                "current_stage": "None",
                "source": f"runs:/{best_run}/model",
                "run_id": best_run,
                "status": "READY",
            }
        )
        for key, value in {
            "fraud.batch_date": day,
            "fraud.candidate": best,
            "fraud.promotion.decision": decision,
        }.items():
            rows["mv_tags"].append(
                {"key": key, "value": value, "name": MODEL, "version": index + 1}
            )
        if decision == "promoted":
            production_version = version
    return rows


def fill_store(database_uri: str, args: argparse.Namespace) -> dict[str, int]:
    """Create the schema with MLflow's client, then bulk-insert a year of runs."""
    client = MlflowClient(database_uri)
    experiment_id = int(client.create_experiment(EXPERIMENT))
    client.create_registered_model(MODEL)
    rows = build_rows(args, experiment_id)

    engine = sa.create_engine(database_uri)
    metadata = sa.MetaData()
    tables = {
        name: sa.Table(name, metadata, autoload_with=engine)
        for name in (
            "runs",
            "tags",
            "metrics",
            "latest_metrics",
            "model_versions",
            "model_version_tags",
            "registered_model_aliases",
        )
    }
    with engine.begin() as connection:
        connection.execute(tables["runs"].insert(), rows["runs"])
        connection.execute(tables["tags"].insert(), rows["tags"])
        connection.execute(tables["metrics"].insert(), rows["metrics"])
        connection.execute(tables["latest_metrics"].insert(), rows["metrics"])
        connection.execute(tables["model_versions"].insert(), rows["model_versions"])
        connection.execute(tables["model_version_tags"].insert(), rows["mv_tags"])
    if engine.dialect.name == "postgresql":
        # Autovacuum would analyze the new rows within minutes. Until then PostgreSQL
        # plans as if the tables were empty, which made load_model_versions 20 times
        # slower (nested loops instead of hash joins).
        with engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    promoted = [row for row in rows["mv_tags"] if row["value"] == "promoted"]
    client.set_registered_model_alias(MODEL, "production", str(promoted[-1]["version"]))
    return {
        "runs": len(rows["runs"]),
        "metric rows": len(rows["metrics"]),
        "tags": len(rows["tags"]),
        "versions": len(rows["model_versions"]),
    }


def timed(step, repeat: int) -> tuple[float, float]:
    """Run ``step`` once to warm up, then ``repeat`` times; return median and max ms."""
    step()
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations), max(durations)


def benchmark(label: str, database_uri: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    counts = fill_store(database_uri, args)
    fill_seconds = time.perf_counter() - started
    summary = ", ".join(f"{value} {name}" for name, value in counts.items())
    print(f"\n{label}: filled in {fill_seconds:.1f} s ({summary})")

    engine = store.create_read_only_engine(database_uri)
    with engine.connect() as connection:
        experiment_id = queries.find_experiment_id(connection, EXPERIMENT)
        steps = {
            "find_experiment_id": lambda: queries.find_experiment_id(
                connection, EXPERIMENT
            ),
            "load_runs": lambda: queries.load_runs(connection, experiment_id),
            "load_metrics": lambda: queries.load_metrics(
                connection,
                experiment_id,
                keys=views.metric_keys(),
                prefix=views.PSI_PREFIX,
            ),
            "load_model_versions": lambda: queries.load_model_versions(
                connection, experiment_id
            ),
        }
        results = {name: timed(step, args.repeat) for name, step in steps.items()}
        snapshot = page.load_snapshot(connection, EXPERIMENT)

    results["probe"] = timed(lambda: store.probe(engine, database_uri), args.repeat)
    results["render (views and figures)"] = timed(
        lambda: page.render(snapshot, "average_precision", None, None, UI_URL),
        args.repeat,
    )
    results["full page build"] = timed(
        lambda: page.build_page(
            engine, database_uri, EXPERIMENT, "average_precision", None, None, UI_URL
        ),
        args.repeat,
    )
    engine.dispose()

    print(
        f"rows read: {len(snapshot.runs)} runs, {len(snapshot.metrics)} metric values"
    )
    print(f"{'step':<28} {'median ms':>10} {'max ms':>10}")
    for name, (median, worst) in results.items():
        print(f"{name:<28} {median:>10.1f} {worst:>10.1f}")


def main(argv=None) -> int:
    args = parse_args(argv)
    print(
        f"python {platform.python_version()}, {platform.processor() or platform.machine()}"
    )
    print(
        f"{args.dates} dates x (1 parent + {args.candidates} candidates + 1 production), "
        f"{args.metrics_per_run} metrics per run, median of {args.repeat} runs"
    )
    with tempfile.TemporaryDirectory() as folder:
        benchmark("SQLite", f"sqlite:///{Path(folder) / 'mlflow.db'}", args)

    if args.postgres:
        name = f"dashboard_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(args.postgres_admin_dsn, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            base = args.postgres_admin_dsn.rsplit("/", 1)[0]
            benchmark("PostgreSQL", f"{base}/{name}", args)
        finally:
            with admin.connect() as connection:
                connection.execute(
                    sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
            admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
