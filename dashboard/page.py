"""Load the store once per refresh and build everything the page shows.

``load_snapshot`` runs the queries and ``render`` turns their frames into figures and
tables. ``build_page`` does both and turns every state of the store (unreachable,
never used, no runs yet) into a page with a message instead of an error.
"""

import logging
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from dash import html
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import figures, queries, store, tables, views

logger = logging.getLogger(__name__)

FIRST_RUN_COMMAND = "make run"
LATEST_RUNS_LIMIT = 30


@dataclass(frozen=True)
class Snapshot:
    """The frames of one experiment, as read by dashboard.queries."""

    experiment_id: str
    runs: pd.DataFrame
    metrics: pd.DataFrame
    versions: pd.DataFrame


@dataclass(frozen=True)
class Page:
    """Everything the page shows for one choice of metric and date range.

    ``state`` is ``ready``, ``empty`` (no runs to show), ``unreachable``, or ``error``
    (set by dashboard.app when building the page raised).
    ``first_date`` and ``last_date`` are the batch dates in the store (YYYY-MM-DD),
    which bound the date picker.
    """

    state: str
    message: str
    timeline: go.Figure
    health: go.Figure
    drift: go.Figure
    drift_table: html.Table | html.P
    registry_table: html.Table | html.P
    latest_runs_table: html.Table | html.P
    first_date: str | None = None
    last_date: str | None = None


def load_snapshot(connection: Connection, experiment_name: str) -> Snapshot | None:
    """Read runs, metrics and registry versions of the experiment, or None if it is missing."""
    experiment_id = queries.find_experiment_id(connection, experiment_name)
    if experiment_id is None:
        return None
    runs = queries.load_runs(connection, experiment_id)
    metrics = queries.load_metrics(
        connection, experiment_id, keys=views.metric_keys(), prefix=views.PSI_PREFIX
    )
    versions = queries.load_model_versions(connection, experiment_id)
    return Snapshot(experiment_id, runs, metrics, versions)


def _date_text(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def render(
    snapshot: Snapshot,
    metric: str,
    start: str | None,
    end: str | None,
    mlflow_ui_url: str,
) -> Page:
    """Build the figures and tables for ``metric`` and the dates in [start, end]."""
    links = tables.MlflowLinks(mlflow_ui_url, snapshot.experiment_id)
    runs, metrics = snapshot.runs, snapshot.metrics

    parents = views.batch_runs(runs)
    first_date = _date_text(parents["batch_date"].min()) if not parents.empty else None
    last_date = _date_text(parents["batch_date"].max()) if not parents.empty else None

    points = views.filter_dates(
        views.timeline_points(runs, metrics, metric), start, end
    )
    events = views.filter_dates(views.gate_events(runs, points), start, end)
    health = views.filter_dates(views.batch_health(runs, metrics), start, end)
    history = views.filter_dates(
        views.registry_history(runs, metrics, snapshot.versions), start, end
    )
    matrix = views.drift_matrix(runs, metrics)
    if not matrix.empty:
        kept_dates = views.filter_dates(
            pd.DataFrame({"batch_date": matrix.columns}), start, end
        )
        matrix = matrix[list(kept_dates["batch_date"])]
    recent = views.latest_runs(runs, metrics, LATEST_RUNS_LIMIT)

    dates = len(parents)
    message = f"{dates} batch date{'s' if dates != 1 else ''} from {first_date} to {last_date}."
    current = snapshot.versions[snapshot.versions["is_production"].astype(bool)]
    if current.empty:
        message += " No model is in production."
    else:
        row = current.iloc[-1]
        message += f" In production: {row['name']} version {row['version']}"
        if isinstance(row["candidate"], str):
            message += f" ({row['candidate']})"
        message += "."
    return Page(
        state="ready",
        message=message,
        timeline=figures.timeline_figure(points, events, metric),
        health=figures.batch_health_figure(health),
        drift=figures.drift_heatmap_figure(matrix),
        drift_table=tables.drift_table(views.top_drift(matrix)),
        registry_table=tables.registry_table(history, links),
        latest_runs_table=tables.latest_runs_table(recent, links),
        first_date=first_date,
        last_date=last_date,
    )


def message_page(state: str, message: str) -> Page:
    """Return a page whose sections all show ``message``."""
    note = html.P(message, className="empty-note")
    return Page(
        state=state,
        message=message,
        timeline=figures.message_figure(message, "Model timeline"),
        health=figures.message_figure(message, "Batch health"),
        drift=figures.message_figure(message, "Feature drift"),
        drift_table=note,
        registry_table=note,
        latest_runs_table=note,
    )


def empty_message(experiment_name: str) -> str:
    return (
        f"No runs yet in the MLflow experiment '{experiment_name}'. "
        f"Run `{FIRST_RUN_COMMAND}` to produce the first one; "
        "this page refreshes by itself."
    )


def build_page(
    engine: Engine,
    database_uri: str,
    experiment_name: str,
    metric: str,
    start: str | None,
    end: str | None,
    mlflow_ui_url: str,
) -> Page:
    """Query the store and build the page, or a message page when there is nothing to show."""
    status = store.probe(engine, database_uri)
    if not status.reachable:
        return message_page(
            "unreachable",
            f"Cannot reach the MLflow database {store.display_uri(database_uri)}: "
            f"{status.error}",
        )
    if not status.initialized:
        return message_page("empty", empty_message(experiment_name))

    try:
        with engine.connect() as connection:
            snapshot = load_snapshot(connection, experiment_name)
    except SQLAlchemyError as err:
        logger.exception(
            "reading the MLflow database %s failed", store.display_uri(database_uri)
        )
        first_line = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        return message_page(
            "unreachable", f"Reading the MLflow database failed: {first_line}"
        )

    if snapshot is None or snapshot.runs.empty:
        return message_page("empty", empty_message(experiment_name))
    if metric not in views.TIMELINE_METRICS:
        metric = views.PRIMARY_METRIC
    return render(snapshot, metric, start, end, mlflow_ui_url)
