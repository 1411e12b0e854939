"""Start and stop the production services on 127.0.0.1, without Docker.

    python scripts/services.py start        S3 endpoint, mlflow server, luigid
    python scripts/services.py stop         stop them by the PIDs under run/
    python scripts/services.py upgrade-db   "mlflow db upgrade" on the MLflow database

The S3 endpoint is moto's server, which keeps objects in memory: stopping it loses the
model files while the runs stay in PostgreSQL. The mlflow server proxies artifacts to
a bucket on that endpoint, so clients need only MLFLOW_TRACKING_URI. luigid keeps its
state file under run/ and records task history in PostgreSQL.

The start functions are also used by tests/services/conftest.py, which starts the same
processes on free ports.
"""

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = PROJECT_ROOT / "run"
BIN_DIR = Path(sys.executable).parent

# moto accepts any key pair. Only the mlflow server and the bucket job get these.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-stack",
    "AWS_SECRET_ACCESS_KEY": "local-stack-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}

logger = logging.getLogger("services")


class ServiceError(RuntimeError):
    """A service failed to start, or a required server is not reachable."""


@dataclass
class Service:
    """A started server process and the URL it listens on."""

    name: str
    process: subprocess.Popen
    url: str
    log_path: Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free at the time of the call."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_uri(database: str, host: str, port: int, user: str) -> str:
    """Return the SQLAlchemy URI of a database on a trust-auth PostgreSQL server."""
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed.
    return f"postgresql+psycopg2://{user}@{host}:{port}/{database}"


def ensure_database(database: str, host: str, port: int, user: str) -> bool:
    """Create the database unless it exists. Return whether it was created."""
    import psycopg2

    try:
        connection = psycopg2.connect(
            dbname="postgres", host=host, port=port, user=user, connect_timeout=5
        )
    except psycopg2.OperationalError as err:
        raise ServiceError(
            f"PostgreSQL is not reachable at {host}:{port} as user {user!r}: {err}"
        ) from err
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone():
                return False
            cursor.execute(f'CREATE DATABASE "{database}"')
            return True
    finally:
        connection.close()


def drop_database(database: str, host: str, port: int, user: str) -> None:
    """Drop the database, closing any connection still open to it."""
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", host=host, port=port, user=user)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        connection.close()


def wait_for_http(service: Service, path: str, timeout: float) -> None:
    """Poll ``service.url + path`` until it responds with a status below 500."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceError(
                f"{service.name} exited with code {service.process.returncode} while "
                f"starting; its log {service.log_path} ends with:\n"
                f"{tail(service.log_path)}"
            )
        try:
            with urllib.request.urlopen(service.url + path, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as err:
            if err.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise ServiceError(
        f"{service.name} did not respond on {service.url + path} within "
        f"{timeout:.0f} s; see {service.log_path}"
    )


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def launch(name: str, command: list[str], url: str, log_path: Path, **popen) -> Service:
    """Start a command in its own process group, with stdout and stderr in log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )
    logger.info("started %s (pid %d) on %s, log %s", name, process.pid, url, log_path)
    return Service(name, process, url, log_path)


def start_s3(port: int, log_path: Path, timeout: float = 30) -> Service:
    """Start moto's S3 server on 127.0.0.1:port."""
    command = [str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    service = launch("s3", command, f"http://127.0.0.1:{port}", log_path)
    wait_for_http(service, "/", timeout)
    return service


def s3_client(endpoint_url: str):
    """Return a boto3 S3 client for the local endpoint, with the local credentials."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def ensure_bucket(endpoint_url: str, bucket: str) -> None:
    """Create the bucket unless it exists."""
    client = s3_client(endpoint_url)
    existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def start_mlflow(
    port: int,
    backend_store_uri: str,
    artifacts_destination: str,
    s3_endpoint_url: str,
    log_path: Path,
    workers: int = 1,
    timeout: float = 120,
) -> Service:
    """Start ``mlflow server`` with proxied artifacts, on 127.0.0.1:port.

    Only this process gets the S3 endpoint and credentials. Job execution is off, so the
    server starts no job workers.
    """
    env = {
        **os.environ,
        **S3_CREDENTIALS,
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint_url,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(BIN_DIR / "mlflow"),
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    service = launch("mlflow", command, f"http://127.0.0.1:{port}", log_path, env=env)
    wait_for_http(service, "/health", timeout)
    return service


def write_luigid_config(path: Path, state_path: Path, history_uri: str) -> None:
    """Write the scheduler settings that luigid reads after the project luigi.cfg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[scheduler]\n"
        f"state_path = {state_path}\n"
        "record_task_history = true\n"
        "\n"
        "[task_history]\n"
        f"db_connection = {history_uri}\n"
    )


def start_luigid(
    port: int,
    state_path: Path,
    history_uri: str,
    config_path: Path,
    log_path: Path,
    timeout: float = 60,
) -> Service:
    """Start luigid on 127.0.0.1:port with a state file and task history in a database.

    luigid runs in the project root, so Luigi also reads the project luigi.cfg and its
    [scheduler] retry settings. SIGTERM makes luigid save its state file.
    """
    write_luigid_config(config_path, state_path, history_uri)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config_path)}
    command = [
        str(BIN_DIR / "luigid"),
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--state-path",
        str(state_path),
        "--logdir",
        str(log_path.parent),
    ]
    service = launch(
        "luigid",
        command,
        f"http://127.0.0.1:{port}",
        log_path,
        env=env,
        cwd=PROJECT_ROOT,
    )
    wait_for_http(service, "/api/task_list?data={}", timeout)
    return service


def wait_for_group_exit(pid: int, timeout: float) -> bool:
    """Wait until no process of the group led by pid is left. Return whether none is."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def stop_service(service: Service, timeout: float = 20) -> None:
    """Stop a service started by launch(): SIGTERM to its group, then SIGKILL."""
    if service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGTERM)
        try:
            service.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s did not stop on SIGTERM within %.0f s; killing it",
                service.name,
                timeout,
            )
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=5)
    # The leader has exited; mlflow's server workers may still be shutting down.
    if not wait_for_group_exit(service.process.pid, timeout=5):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)


# The local stack: "make services" and "make services-stop".

SERVICE_EXECUTABLES = {"s3": "moto_server", "mlflow": "mlflow", "luigid": "luigid"}


def pid_path(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def running_pid(name: str) -> int | None:
    """Return the PID in run/<name>.pid if that process is still the service."""
    path = pid_path(name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    # A reused PID belongs to some other program: never signal that one.
    if SERVICE_EXECUTABLES[name].encode() not in command_line:
        return None
    return pid


def start_stack(args: argparse.Namespace) -> int:
    """Start every service that is not running yet, then print how to use them."""
    pg = {"host": args.pg_host, "port": args.pg_port, "user": args.pg_user}
    for database in (args.mlflow_database, args.luigi_database):
        if ensure_database(database, **pg):
            print(f"created database {database} on {args.pg_host}:{args.pg_port}")
    s3_url = f"http://127.0.0.1:{args.s3_port}"
    mlflow_url = f"http://127.0.0.1:{args.mlflow_port}"
    luigid_url = f"http://127.0.0.1:{args.luigid_port}"

    started = []
    try:
        if running_pid("s3") is None:
            started.append(start_s3(args.s3_port, RUN_DIR / "s3.log"))
        ensure_bucket(s3_url, args.bucket)
        if running_pid("mlflow") is None:
            started.append(
                start_mlflow(
                    args.mlflow_port,
                    postgres_uri(args.mlflow_database, **pg),
                    f"s3://{args.bucket}",
                    s3_url,
                    RUN_DIR / "mlflow.log",
                    workers=args.mlflow_workers,
                )
            )
        if running_pid("luigid") is None:
            started.append(
                start_luigid(
                    args.luigid_port,
                    RUN_DIR / "luigid" / "state.pickle",
                    postgres_uri(args.luigi_database, **pg),
                    RUN_DIR / "luigid.cfg",
                    RUN_DIR / "luigid.log",
                )
            )
    except ServiceError:
        for service in started:
            stop_service(service)
        raise
    for service in started:
        pid_path(service.name).write_text(f"{service.process.pid}\n")

    print(f"S3 endpoint (moto, in memory): {s3_url}  bucket s3://{args.bucket}")
    print(f"MLflow tracking server:        {mlflow_url}")
    print(f"Luigi scheduler (luigid):      {luigid_url}")
    print()
    print("Point the pipeline at them with:")
    print(f"export MLFLOW_TRACKING_URI={mlflow_url}")
    print(f"and pass --scheduler-url {luigid_url} to run, backfill or schedule.")
    print("Stop them with: make services-stop")
    return 0


def stop_stack(args: argparse.Namespace) -> int:
    """Stop the services listed under run/, luigid first so it saves its state."""
    for name in ("luigid", "mlflow", "s3"):
        pid = running_pid(name)
        pid_path(name).unlink(missing_ok=True)
        if pid is None:
            continue
        os.killpg(pid, signal.SIGTERM)
        if wait_for_group_exit(pid, timeout=args.timeout):
            print(f"stopped {name} (pid {pid})")
        else:
            os.killpg(pid, signal.SIGKILL)
            print(
                f"{name} (pid {pid}) ignored SIGTERM for {args.timeout:.0f} s; killed"
            )
    return 0


def upgrade_database(args: argparse.Namespace) -> int:
    """Run "mlflow db upgrade" on the MLflow database. Stop the server first."""
    if running_pid("mlflow") is not None:
        print(
            "mlflow server is running; run 'make services-stop' first", file=sys.stderr
        )
        return 1
    uri = postgres_uri(args.mlflow_database, args.pg_host, args.pg_port, args.pg_user)
    return subprocess.call([str(BIN_DIR / "mlflow"), "db", "upgrade", uri])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "upgrade-db"])
    parser.add_argument("--pg-host", default="127.0.0.1", help="PostgreSQL host")
    parser.add_argument("--pg-port", type=int, default=5432, help="PostgreSQL port")
    parser.add_argument(
        "--pg-user", default="postgres", help="PostgreSQL user (trust auth)"
    )
    parser.add_argument(
        "--mlflow-database",
        default="fraud_mlflow",
        help="database of the MLflow tracking and registry store",
    )
    parser.add_argument(
        "--luigi-database",
        default="fraud_luigi",
        help="database of luigid's task history",
    )
    parser.add_argument("--bucket", default="fraud-mlflow", help="artifact bucket")
    parser.add_argument("--s3-port", type=int, default=9000, help="S3 endpoint port")
    parser.add_argument(
        "--mlflow-port", type=int, default=5000, help="mlflow server port"
    )
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        default=2,
        help="request worker processes of the mlflow server",
    )
    parser.add_argument("--luigid-port", type=int, default=8082, help="luigid port")
    parser.add_argument(
        "--timeout",
        type=float,
        default=20,
        help="seconds to wait for a service to stop before SIGKILL",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    RUN_DIR.mkdir(exist_ok=True)
    commands = {
        "start": start_stack,
        "stop": stop_stack,
        "upgrade-db": upgrade_database,
    }
    try:
        return commands[args.command](args)
    except ServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
