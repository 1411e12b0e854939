"""The scheduler loop's own behaviour, without services.

tests/services/test_pipeline_on_services.py runs the loop against luigid. These tests
cover its options, an empty landing folder and a failing round.
"""

import logging
from datetime import date

import pytest

from pipeline import loop


def test_parse_args_rejects_non_positive_every():
    with pytest.raises(SystemExit):
        loop.parse_args(["--every", "0"])


def test_parse_args_reads_scheduler_url_from_env(monkeypatch):
    monkeypatch.setenv("FRAUD_SCHEDULER_URL", "http://127.0.0.1:8082")

    args = loop.parse_args(["--once"])

    assert args.scheduler_url == "http://127.0.0.1:8082"
    assert args.once


def test_round_with_empty_landing_folder_schedules_nothing(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("FRAUD_DATA_DIR", str(tmp_path))
    caplog.set_level(logging.INFO, logger="pipeline.loop")

    result = loop.run_round("http://127.0.0.1:1", workers=1, today=date(2013, 9, 5))

    assert result.succeeded
    assert result.pending == []
    assert "no batch file" in caplog.text


def test_failing_round_is_logged_and_once_exits_one(monkeypatch, caplog):
    def broken_round(scheduler_url, workers, today):
        raise ConnectionError("luigid unreachable")

    monkeypatch.setattr(loop, "run_round", broken_round)
    caplog.set_level(logging.INFO, logger="pipeline.loop")

    status = loop.main(["--once", "--scheduler-url", "http://127.0.0.1:1"])

    assert status == 1
    assert "round 1 failed" in caplog.text
    assert "ConnectionError: luigid unreachable" in caplog.text
