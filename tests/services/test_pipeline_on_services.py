"""The daily pipeline against the production services: mlflow server, luigid, S3.

One module fixture runs four batch dates the ways production does: the first through
``mlflow run`` (MLproject), the next two with ``fraud-pipeline run`` through luigid, and
the last caught up by one round of the scheduler loop. The pipeline processes get only
MLFLOW_TRACKING_URI and no S3 credentials, so every artifact must pass through the
server. The tests then read what each service stored.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent

SOURCE_ROWS = 6000
# Higher than the real 0.17 % so that every date's validation slice has frauds.
FRAUD_RATE = 0.03
HOURS_PER_DAY = 6
DATE_COUNT = 4
START_DATE = date(2013, 9, 1)
COMMAND_TIMEOUT = 600


def write_batches(data_dir: Path) -> list[date]:
    """Cut a small synthetic source into DATE_COUNT daily batches in data_dir.

    Return their dates. Batch files past the first DATE_COUNT dates are removed.
    """
    from pipeline import layout, synthetic
    from pipeline.batches import split_days

    source = data_dir / "source.csv"
    synthetic.make_transactions(
        rows=SOURCE_ROWS, fraud_rate=FRAUD_RATE, seed=11
    ).to_csv(source, index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_DATA_DIR", str(data_dir))
        split_days(source, start_date=START_DATE, hours_per_day=HOURS_PER_DAY)
        dates = layout.incoming_dates()
        for extra in dates[DATE_COUNT:]:
            layout.incoming_path(extra).unlink()
    source.unlink()
    return dates[:DATE_COUNT]


def worker_env(data_dir: Path, tracking_uri: str, scheduler_url: str) -> dict[str, str]:
    """Return a worker's environment: tracking URI and data folder, no S3 settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MLFLOW_", "LUIGI_", "FRAUD_"))
    }
    env.update(
        MLFLOW_TRACKING_URI=tracking_uri,
        FRAUD_DATA_DIR=str(data_dir),
        FRAUD_SCHEDULER_URL=scheduler_url,
        PATH=f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run_command(
    command: list[str], env: dict, cwd: Path
) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(
        command,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    result.seconds = time.monotonic() - started
    return result


def describe(result: subprocess.CompletedProcess) -> str:
    return (
        f"{' '.join(result.args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mlflow_server, luigid):
    """Run four dates through the services and return what each command did."""
    data_dir = tmp_path_factory.mktemp("data")
    workdir = tmp_path_factory.mktemp("workdir")
    dates = write_batches(data_dir)
    assert len(dates) == DATE_COUNT, dates
    env = worker_env(data_dir, mlflow_server.url, luigid.url)
    fraud_pipeline = str(BIN_DIR / "fraud-pipeline")

    results = {}
    results["mlproject"] = run_command(
        [
            str(BIN_DIR / "mlflow"),
            "run",
            str(ROOT),
            "-e",
            "daily",
            "-P",
            f"date={dates[0]}",
            "--env-manager",
            "local",
        ],
        env,
        workdir,
    )
    for day in dates[1:3]:
        results[day] = run_command(
            [
                fraud_pipeline,
                "run",
                "--date",
                day.isoformat(),
                "--scheduler-url",
                luigid.url,
            ],
            env,
            workdir,
        )
    loop = [fraud_pipeline, "schedule", "--once", "--scheduler-url", luigid.url]
    results["catch-up round"] = run_command(loop, env, workdir)
    results["idle round"] = run_command(loop, env, workdir)
    return {
        "dates": dates,
        "data_dir": data_dir,
        "workdir": workdir,
        "env": env,
        "results": results,
    }


@pytest.fixture(scope="module")
def mlflow_db(postgres_uris):
    engine = sqlalchemy.create_engine(postgres_uris["mlflow"])
    yield engine
    engine.dispose()


def query(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]


def runs_of_kind(engine, experiment_name: str, kind: str) -> list[tuple]:
    """Return (run_uuid, status, batch_date) of the experiment's runs of one kind."""
    return query(
        engine,
        """
        SELECT r.run_uuid, r.status, d.value
        FROM runs r
        JOIN experiments e ON e.experiment_id = r.experiment_id
        JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = 'fraud.run_kind'
        JOIN tags d ON d.run_uuid = r.run_uuid AND d.key = 'fraud.batch_date'
        WHERE e.name = :experiment AND k.value = :kind AND r.lifecycle_stage = 'active'
        """,
        experiment=experiment_name,
        kind=kind,
    )


def test_every_command_succeeds(stack):
    for name, result in stack["results"].items():
        assert result.returncode == 0, f"{name}: {describe(result)}"


def test_parent_runs_finished_in_postgres(stack, mlflow_db):
    from pipeline import settings

    parents = runs_of_kind(mlflow_db, settings.fraud().experiment_name, "batch")
    expected_dates = {day.isoformat() for day in stack["dates"]}

    assert {batch_date for _, _, batch_date in parents} == expected_dates
    assert len(parents) == len(expected_dates)
    assert {status for _, status, _ in parents} == {"FINISHED"}


def test_candidate_runs_and_metrics_in_postgres(stack, mlflow_db):
    from pipeline import settings

    candidates = runs_of_kind(mlflow_db, settings.fraud().experiment_name, "candidate")
    metric_runs = query(
        mlflow_db,
        "SELECT DISTINCT run_uuid FROM latest_metrics WHERE key = 'average_precision'",
    )

    assert len(candidates) == len(stack["dates"]) * len(settings.fraud().candidates)
    assert {status for _, status, _ in candidates} == {"FINISHED"}
    assert {run_id for run_id, _, _ in candidates} <= {
        run_id for (run_id,) in metric_runs
    }


def test_experiment_artifacts_proxied_by_server(mlflow_db):
    from pipeline import settings

    rows = query(
        mlflow_db,
        "SELECT artifact_location FROM experiments WHERE name = :name",
        name=settings.fraud().experiment_name,
    )

    assert len(rows) == 1
    assert rows[0][0].startswith("mlflow-artifacts:")


def test_model_files_in_bucket(stack, s3, artifact_bucket, mlflow_db):
    from pipeline import settings

    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=artifact_bucket):
        keys.extend(entry["Key"] for entry in page.get("Contents", []))
    candidate_count = len(
        runs_of_kind(mlflow_db, settings.fraud().experiment_name, "candidate")
    )

    assert sum(key.endswith("/MLmodel") for key in keys) >= candidate_count
    assert any(key.endswith("pr_curve.png") for key in keys)


def test_production_alias_loads_through_server(stack, mlflow_server, monkeypatch):
    import mlflow

    from pipeline import settings

    for name in (
        "MLFLOW_S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(mlflow_server.url)
    model_name = settings.fraud().model_name
    version = mlflow.MlflowClient().get_model_version_by_alias(model_name, "production")
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@production")
    last_date = stack["dates"][-1].isoformat()
    batch = pd.read_parquet(
        stack["data_dir"] / "validated" / last_date / "transactions.parquet"
    )
    columns = model.metadata.get_input_schema().input_names()

    scores = pd.Series(pd.DataFrame(model.predict(batch[columns].head(20))).iloc[:, -1])

    assert int(version.version) >= 1
    assert len(scores) == 20
    assert scores.between(0, 1).all()


def test_luigid_lists_every_date_done(stack, luigid):
    data = urllib.parse.quote(json.dumps({"status": "DONE"}))
    with urllib.request.urlopen(
        f"{luigid.url}/api/task_list?data={data}", timeout=10
    ) as response:
        done = json.load(response)["response"]
    done_dates = {
        task["params"]["date"]
        for task in done.values()
        if task["name"] == "DailyPipeline"
    }

    assert done_dates == {day.isoformat() for day in stack["dates"]}


def test_luigid_records_history_in_postgres(stack, postgres_uris):
    engine = sqlalchemy.create_engine(postgres_uris["luigi"])
    try:
        done = query(
            engine,
            """
            SELECT DISTINCT t.name FROM tasks t
            JOIN task_events e ON e.task_id = t.id
            WHERE e.event_name = 'DONE'
            """,
        )
    finally:
        engine.dispose()

    assert {"PromoteModel", "TrainCandidate", "ValidateBatch"} <= {
        name for (name,) in done
    }


def test_nothing_written_to_local_artifact_folders(stack):
    from pipeline import settings

    strays = [
        path
        for folder in (stack["workdir"], stack["data_dir"])
        for path in folder.rglob("*")
        if path.name in ("mlruns", "mlartifacts", "mlflow.db")
    ]

    assert strays == []
    assert not (stack["data_dir"] / "mlflow").exists(), settings.local_artifact_root()


def test_loop_catches_up_then_idles(stack):
    catch_up = stack["results"]["catch-up round"].stderr
    idle = stack["results"]["idle round"].stderr

    assert "3 date(s) complete, 1 pending" in catch_up
    assert "4 date(s) complete, 0 still pending" in catch_up
    assert "4 date(s) complete, 0 pending" in idle
    assert "round finished" not in idle


def test_loop_stops_cleanly_on_sigterm(stack, luigid):
    log_path = stack["data_dir"] / "logs" / "pipeline.log"
    log_offset = log_path.stat().st_size
    process = subprocess.Popen(
        [
            str(BIN_DIR / "fraud-pipeline"),
            "schedule",
            "--every",
            "3600",
            "--scheduler-url",
            luigid.url,
        ],
        env=stack["env"],
        cwd=stack["workdir"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "round 1 started" in log_path.read_text()[log_offset:]:
            break
        time.sleep(0.2)

    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise

    assert process.returncode == 0, stderr[-2000:]
    assert "received SIGTERM" in stderr
    assert "scheduler loop stopped after 1 round(s), 0 failed" in stderr
