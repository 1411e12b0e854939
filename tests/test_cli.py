"""End to end through the installed commands, as a user runs them."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline import settings

BIN = Path(sys.executable).parent
MODEL_NAME = settings.fraud().model_name


def run_command(args, data_dir, cwd, check_rc=0, timeout=900):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "LUIGI_"))
    }
    env[settings.DATA_DIR_VARIABLE] = str(data_dir)
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


def store_counts(data_dir):
    with sqlite3.connect(data_dir / "mlflow" / "mlflow.db") as connection:
        runs = connection.execute("select count(*) from runs").fetchone()[0]
        versions = connection.execute("select count(*) from model_versions").fetchone()[
            0
        ]
    return runs, versions


@pytest.fixture(scope="module")
def cli_store(source_csv, tmp_path_factory):
    """Three dates cut with split-days and run with backfill, from an unrelated folder."""
    workdir = tmp_path_factory.mktemp("cli")
    data_dir = workdir / "data"
    split = run_command(
        [
            BIN / "fraud-pipeline",
            "split-days",
            source_csv,
            "--hours-per-day",
            "16",
            "--start-date",
            "2013-09-01",
        ],
        data_dir,
        workdir,
    )
    backfill = run_command([BIN / "fraud-pipeline", "backfill"], data_dir, workdir)
    return {
        "data_dir": data_dir,
        "workdir": workdir,
        "split": split,
        "backfill": backfill,
    }


def test_split_days_lists_dates(cli_store):
    lines = cli_store["split"].stdout.splitlines()

    assert [line.split()[0] for line in lines] == [
        "2013-09-01",
        "2013-09-02",
        "2013-09-03",
    ]


def test_backfill_builds_every_date(cli_store):
    runs, versions = store_counts(cli_store["data_dir"])
    candidates = len(settings.fraud().candidates)

    # Per date: a parent and the candidates; from the second date on, a production score.
    assert runs == 3 * (1 + candidates) + 2
    assert versions == 3
    assert "no failed tasks" in cli_store["backfill"].stderr
    for day in ("2013-09-02", "2013-09-03"):
        assert (
            cli_store["data_dir"] / "predictions" / day / "predictions.csv"
        ).exists()


def test_nothing_written_outside_data_folder(cli_store):
    assert sorted(path.name for path in cli_store["workdir"].iterdir()) == ["data"]
    assert (cli_store["data_dir"] / "logs" / "pipeline.log").stat().st_size > 0


def test_rerun_adds_no_runs(cli_store):
    before = store_counts(cli_store["data_dir"])
    run_command(
        [BIN / "fraud-pipeline", "backfill"],
        cli_store["data_dir"],
        cli_store["workdir"],
    )
    run_command(
        [
            BIN / "luigi",
            "--module",
            "pipeline.tasks",
            "DailyPipeline",
            "--date",
            "2013-09-03",
            "--local-scheduler",
        ],
        cli_store["data_dir"],
        cli_store["workdir"],
    )

    assert store_counts(cli_store["data_dir"]) == before


def test_predict_scores_and_quarantines(cli_store, source_csv, tmp_path):
    lines = source_csv.read_text().splitlines()
    rows = [lines[0], *lines[1:6]]
    broken = rows[3].split(",")
    broken[5] = "oops"
    rows[3] = ",".join(broken)
    request = tmp_path / "request.csv"
    request.write_text("\n".join(rows) + "\n")
    output = tmp_path / "scores.csv"

    result = run_command(
        [BIN / "fraud-pipeline", "predict", request, "--output", output],
        cli_store["data_dir"],
        cli_store["workdir"],
        check_rc=3,
    )
    scores = pd.read_csv(output)
    quarantine = pd.read_csv(tmp_path / "scores.quarantine.csv")

    assert len(scores) == 4
    assert scores["fraud_probability"].between(0, 1).all()
    assert list(quarantine["row_id"]) == [4]
    assert quarantine["column"].iloc[0] == "V5"
    assert "1 rows not scored" in result.stderr


def test_predict_without_production_model(tmp_path, source_csv):
    result = run_command(
        [BIN / "fraud-pipeline", "predict", source_csv],
        tmp_path / "data",
        tmp_path,
        check_rc=2,
    )

    assert f"registered model '{MODEL_NAME}' has no production version" in result.stderr


def test_run_missing_batch_exits_nonzero(cli_store):
    result = run_command(
        [BIN / "fraud-pipeline", "run", "--date", "2030-01-01"],
        cli_store["data_dir"],
        cli_store["workdir"],
        check_rc=2,
    )

    assert "transactions_2030-01-01.csv not found" in result.stderr


def test_luigi_module_failure_exits_nonzero(tmp_path):
    result = run_command(
        [
            BIN / "luigi",
            "--module",
            "pipeline.tasks",
            "DailyPipeline",
            "--date",
            "2030-01-01",
            "--local-scheduler",
        ],
        tmp_path / "data",
        tmp_path,
        check_rc=None,
    )

    assert result.returncode != 0


def test_unreadable_batch_fails_with_file_and_line(tmp_path):
    data_dir = tmp_path / "data"
    incoming = data_dir / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "transactions_2024-01-01.csv").write_text('"Time","V1"\n0,1\n')

    result = run_command(
        [BIN / "fraud-pipeline", "run", "--date", "2024-01-01"],
        data_dir,
        tmp_path,
        check_rc=1,
    )
    log = (data_dir / "logs" / "pipeline.log").read_text()

    assert "transactions_2024-01-01.csv, line 1 (header): missing column(s) V2" in log
    assert "failed" in result.stderr


def test_quickstart_uses_synthetic_stand_in(tmp_path):
    data_dir = tmp_path / "data"
    result = run_command([BIN / "fraud-pipeline", "quickstart"], data_dir, tmp_path)

    assert "SYNTHETIC" in result.stderr
    assert "SYNTHETIC" in result.stdout
    assert f"models:/{MODEL_NAME}@production = version" in result.stdout
    assert (data_dir / "synthetic" / "creditcard_synthetic.csv").exists()

    shutil.copy(
        data_dir / "synthetic" / "creditcard_synthetic.csv", data_dir / "creditcard.csv"
    )
    conflict = run_command(
        [BIN / "fraud-pipeline", "quickstart"], data_dir, tmp_path, check_rc=2
    )
    assert "already contains batches cut from" in conflict.stderr


@pytest.mark.parametrize("command", ["dashboard", "schedule"])
def test_delegated_command_help(command, tmp_path):
    result = run_command(
        [BIN / "fraud-pipeline", command, "--help"], tmp_path / "data", tmp_path
    )

    assert f"usage: fraud-pipeline {command}" in result.stdout


def write_config(tmp_path, old, new):
    text = (settings.PROJECT_CONFIG).read_text()
    assert old in text
    path = tmp_path / "luigi.cfg"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "validation_fraction = 0.5",
            "validation_fraction = 1.5",
            "[fraud] validation_fraction = 1.5",
        ),
        (
            '"max_depth": 4,',
            '"max_depthh": 4,',
            "params max_depthh are not XGBoost parameters",
        ),
        (
            "estimator = random_forest",
            "estimator = random_forrest",
            "estimator 'random_forrest' is unknown",
        ),
    ],
)
def test_invalid_config_stops_before_tasks(tmp_path, source_csv, old, new, message):
    config = write_config(tmp_path, old, new)
    data_dir = tmp_path / "data"
    run_command(
        [BIN / "fraud-pipeline", "split-days", source_csv, "--hours-per-day", "24"],
        data_dir,
        tmp_path,
    )
    env_args = ["env", f"LUIGI_CONFIG_PATH={config}"]

    result = run_command(
        [*env_args, BIN / "fraud-pipeline", "run", "--date", "2013-09-01"],
        data_dir,
        tmp_path,
        check_rc=2,
    )

    assert message in result.stderr
    assert not (data_dir / "validated").exists()


def test_batch_without_valid_rows_fails_then_recovers(tmp_path, source_csv):
    data_dir = tmp_path / "data"
    incoming = data_dir / "incoming"
    incoming.mkdir(parents=True)
    lines = source_csv.read_text().splitlines()
    batch = incoming / "transactions_2024-01-01.csv"
    batch.write_text(lines[0] + "\n")

    failed = run_command(
        [BIN / "fraud-pipeline", "run", "--date", "2024-01-01"],
        data_dir,
        tmp_path,
        check_rc=1,
    )
    assert (
        "transactions_2024-01-01.csv: no row passed validation (0 read" in failed.stderr
    )

    batch.write_text("\n".join(lines[:3001]) + "\n")
    run_command(
        [BIN / "fraud-pipeline", "run", "--date", "2024-01-01"], data_dir, tmp_path
    )
    assert (data_dir / "runs" / "2024-01-01" / "promotion.json").exists()


def test_predict_unknown_version(cli_store, source_csv):
    result = run_command(
        [BIN / "fraud-pipeline", "predict", source_csv, "--version", "99"],
        cli_store["data_dir"],
        cli_store["workdir"],
        check_rc=2,
    )

    assert "version '99' of registered model" in result.stderr


def test_data_folder_lock_rejects_second_holder(data_dir):
    from pipeline.cli import DataFolderBusyError, data_folder_lock

    with data_folder_lock():
        with pytest.raises(DataFolderBusyError, match=f"pid {os.getpid()}"):
            with data_folder_lock():
                pass
