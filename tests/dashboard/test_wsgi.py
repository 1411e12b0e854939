"""The dashboard served by gunicorn, as in the production stack."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from pipeline import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 30) -> tuple[int, bytes]:
    """GET ``url``, retrying until the server accepts connections or ``timeout`` ends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_gunicorn_serves_module_server(tmp_path, contract_store):
    """Start gunicorn on ``dashboard.app:server``; its log is gunicorn.log in tmp_path."""
    port = free_port()
    environment = {
        **os.environ,
        "FRAUD_DASHBOARD_DATABASE_URI": contract_store.tracking_uri,
        "MLFLOW_EXPERIMENT_NAME": contract_store.experiment_name,
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "dashboard.app:server",
        ],
        cwd=settings.PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        health = json.loads(body)
        assert health["store"]["initialized"] is True
        assert health["experiment"] == contract_store.experiment_name

        status, body = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert b"Fraud model monitor" in body
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
