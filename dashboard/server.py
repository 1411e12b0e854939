"""Command line of the dashboard: ``fraud-pipeline dashboard``.

It serves the app with Flask's built-in server, which suits one user on one machine.
For a shared deployment run gunicorn on ``dashboard.app:server`` instead (see
docs/dashboard.md).
"""

import argparse
import logging
import sys

from dashboard import store
from dashboard.app import (
    DEFAULT_REFRESH_SECONDS,
    MLFLOW_UI_URL_VARIABLE,
    DashboardConfig,
    create_app,
)

logger = logging.getLogger(__name__)


def port_number(text: str) -> int:
    """Parse a TCP port for argparse: an integer from 1 to 65535."""
    try:
        port = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from err
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be from 1 to 65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-pipeline dashboard",
        description=(
            "Serve the dashboard of the fraud pipeline. It reads the MLflow database "
            "directly, read-only."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on, 0.0.0.0 for all interfaces (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=8050,
        help="TCP port to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--database-uri",
        default=None,
        help=(
            "SQLAlchemy URI of the MLflow database, such as sqlite:///data/mlflow/mlflow.db "
            f"or postgresql://user@host:5432/mlflow (default: {store.DATABASE_URI_VARIABLE}, "
            "else MLFLOW_TRACKING_URI when it names a database, else the embedded store)"
        ),
    )
    parser.add_argument(
        "--mlflow-ui-url",
        default=None,
        help=(
            "base URL of the MLflow UI, used for links to runs and model versions "
            f"(default: {MLFLOW_UI_URL_VARIABLE}, else http://127.0.0.1:5000)"
        ),
    )
    parser.add_argument(
        "--refresh-seconds",
        type=int,
        default=DEFAULT_REFRESH_SECONDS,
        help="seconds between automatic refreshes of the page (default: %(default)s)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="run Dash in debug mode with hot reload"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, then serve the dashboard until interrupted. Return the exit code."""
    args = build_parser().parse_args(argv)
    if args.refresh_seconds < 1:
        print("error: --refresh-seconds must be at least 1", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = DashboardConfig.from_environment(
            database_uri=args.database_uri,
            mlflow_ui_url=args.mlflow_ui_url,
            refresh_seconds=args.refresh_seconds,
        )
    except store.StoreConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    app = create_app(config)
    logger.info("serving the dashboard on http://%s:%s/", args.host, args.port)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
