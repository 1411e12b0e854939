"""The Dash app: layout, callbacks and the /healthz endpoint.

``create_app`` builds an app for one store. For a WSGI server, ``create_server()`` is a
factory and ``dashboard.app:server`` an app built from the environment on first use::

    gunicorn --bind 0.0.0.0:8050 'dashboard.app:server'

The environment is the one described in dashboard.store, plus
``FRAUD_DASHBOARD_MLFLOW_UI_URL`` for the links into the MLflow UI.
"""

import logging
import os
from dataclasses import dataclass

import flask
from dash import Dash, Input, Output
from sqlalchemy.engine import Engine

from dashboard import page, store
from dashboard.layout import INDEX_TEMPLATE, build_layout
from pipeline import settings

logger = logging.getLogger(__name__)

MLFLOW_UI_URL_VARIABLE = "FRAUD_DASHBOARD_MLFLOW_UI_URL"
# Address of "mlflow ui" started with its defaults on this machine.
DEFAULT_MLFLOW_UI_URL = "http://127.0.0.1:5000"
DEFAULT_REFRESH_SECONDS = 60


@dataclass(frozen=True)
class DashboardConfig:
    """Settings of one dashboard: which store and experiment, and where MLflow's UI is."""

    database_uri: str
    experiment_name: str
    mlflow_ui_url: str
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS

    @classmethod
    def from_environment(
        cls,
        database_uri: str | None = None,
        mlflow_ui_url: str | None = None,
        experiment_name: str | None = None,
        refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
    ) -> "DashboardConfig":
        """Build a config, taking every setting not given from the environment.

        The experiment name comes from pipeline.settings.

        Raise store.StoreConfigError when no database URI can be found.
        """
        return cls(
            database_uri=store.resolve_database_uri(database_uri),
            experiment_name=experiment_name or settings.experiment_name(),
            mlflow_ui_url=(
                mlflow_ui_url
                or os.environ.get(MLFLOW_UI_URL_VARIABLE)
                or DEFAULT_MLFLOW_UI_URL
            ),
            refresh_seconds=refresh_seconds,
        )


def page_outputs(
    engine: Engine,
    config: DashboardConfig,
    metric: str | None,
    start_date: str | None,
    end_date: str | None,
) -> tuple:
    """Build the page and return the callback's outputs, in the callback's order."""
    try:
        built = page.build_page(
            engine,
            config.database_uri,
            config.experiment_name,
            metric,
            start_date,
            end_date,
            config.mlflow_ui_url,
        )
    except Exception as err:
        # Records that break an assumption of the views must not leave a blank or
        # stale page. The traceback goes to the log, and the page shows what failed.
        logger.exception(
            "building the page failed (metric %s, dates %s to %s)",
            metric,
            start_date,
            end_date,
        )
        built = page.message_page("error", f"Building the page failed: {err!r}")
    return (
        built.message,
        f"status status-{built.state}",
        built.timeline,
        built.registry_table,
        built.health,
        built.drift,
        built.drift_table,
        built.latest_runs_table,
        built.first_date,
        built.last_date,
    )


def create_app(config: DashboardConfig | None = None) -> Dash:
    """Build the Dash app for ``config``, or for the environment when it is None."""
    config = config or DashboardConfig.from_environment()
    engine = store.create_read_only_engine(config.database_uri)
    store_label = store.display_uri(config.database_uri)

    app = Dash(__name__, title="Fraud model monitor", update_title=None)
    app.index_string = INDEX_TEMPLATE
    app.layout = build_layout(
        config.experiment_name, store_label, config.refresh_seconds
    )

    @app.callback(
        Output("store-status", "children"),
        Output("store-status", "className"),
        Output("timeline-graph", "figure"),
        Output("registry-history", "children"),
        Output("health-graph", "figure"),
        Output("drift-graph", "figure"),
        Output("drift-top", "children"),
        Output("latest-runs", "children"),
        Output("date-range", "min_date_allowed"),
        Output("date-range", "max_date_allowed"),
        Input("refresh", "n_intervals"),
        Input("metric", "value"),
        Input("date-range", "start_date"),
        Input("date-range", "end_date"),
    )
    def update_page(_n_intervals, metric, start_date, end_date):
        return page_outputs(engine, config, metric, start_date, end_date)

    @app.server.route("/healthz")
    def healthz():
        status = store.probe(engine, config.database_uri)
        return flask.jsonify(
            status="ok",
            store=status.to_dict(),
            database=store_label,
            experiment=config.experiment_name,
        )

    logger.info(
        "dashboard for experiment %s reads %s", config.experiment_name, store_label
    )
    return app


def create_server() -> flask.Flask:
    """Return the WSGI app of a dashboard configured from the environment."""
    return create_app().server


_server: flask.Flask | None = None


def __getattr__(name: str):
    # ``dashboard.app:server`` is built on first access, so that importing this module
    # (in tests, or by the command line) never needs a configured store.
    global _server
    if name == "server":
        if _server is None:
            _server = create_server()
        return _server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
