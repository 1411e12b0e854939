"""SQL queries on MLflow's tracking tables, each returning a pandas DataFrame.

The tag and metric names are the interface described in docs/tracking.md. The queries
read only active runs (``lifecycle_stage = 'active'``) of one experiment. Each one
fetches all the rows it needs in a single statement, never one statement per run. Metric
values come from ``latest_metrics``, which contains one row per run and key. The
pipeline logs each metric once, so the latest value is the only value.

Tables and columns are declared with ``sa.table`` so that SQLAlchemy quotes reserved
names such as ``key`` for each dialect. The statements run unchanged on SQLite and
PostgreSQL. Times are returned as UTC timestamps, converted from epoch milliseconds.
"""

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Run tags read by the dashboard, by column name of the returned frame.
RUN_TAGS = {
    "batch_date": "fraud.batch_date",
    "run_kind": "fraud.run_kind",
    "candidate": "fraud.candidate",
    "parent_run_id": "mlflow.parentRunId",
    "model_version": "fraud.model_version",
    "decision": "fraud.promotion.decision",
    "reason": "fraud.promotion.reason",
    "challenger_candidate": "fraud.promotion.candidate",
    "challenger_version": "fraud.promotion.model_version",
    "production_version": "fraud.production.model_version",
    "failed_task": "fraud.failed_task",
}

# Model version tags read by the dashboard, by column name of the returned frame.
VERSION_TAGS = {
    "batch_date": "fraud.batch_date",
    "candidate": "fraud.candidate",
    "decision": "fraud.promotion.decision",
}

PRODUCTION_ALIAS = "production"

experiments = sa.table(
    "experiments",
    sa.column("experiment_id"),
    sa.column("name"),
    sa.column("lifecycle_stage"),
)
runs = sa.table(
    "runs",
    sa.column("run_uuid"),
    sa.column("name"),
    sa.column("status"),
    sa.column("start_time"),
    sa.column("end_time"),
    sa.column("lifecycle_stage"),
    sa.column("experiment_id"),
)
tags = sa.table("tags", sa.column("key"), sa.column("value"), sa.column("run_uuid"))
latest_metrics = sa.table(
    "latest_metrics",
    sa.column("key"),
    sa.column("value"),
    sa.column("is_nan"),
    sa.column("run_uuid"),
)
model_versions = sa.table(
    "model_versions",
    sa.column("name"),
    sa.column("version"),
    sa.column("creation_time"),
    sa.column("current_stage"),
    sa.column("run_id"),
    sa.column("status"),
)
model_version_tags = sa.table(
    "model_version_tags",
    sa.column("key"),
    sa.column("value"),
    sa.column("name"),
    sa.column("version"),
)
registered_model_aliases = sa.table(
    "registered_model_aliases",
    sa.column("alias"),
    sa.column("version"),
    sa.column("name"),
)

RUN_COLUMNS = [
    "run_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "duration_seconds",
    *RUN_TAGS,
]
METRIC_COLUMNS = ["run_id", "key", "value"]
VERSION_COLUMNS = [
    "name",
    "version",
    "creation_time",
    "current_stage",
    "run_id",
    "status",
    "is_production",
    *VERSION_TAGS,
]


def _frame(rows: list, columns: list[str]) -> pd.DataFrame:
    # Building the frame column by column is several times faster than handing
    # pandas a list of SQLAlchemy Row objects (measured with
    # benchmarks/dashboard_queries.py).
    values = list(zip(*rows)) if rows else [[] for _ in columns]
    return pd.DataFrame({name: list(column) for name, column in zip(columns, values)})


def _to_utc(milliseconds: pd.Series) -> pd.Series:
    return pd.to_datetime(
        pd.to_numeric(milliseconds, errors="coerce"), unit="ms", utc=True
    )


def find_experiment_id(connection: Connection, name: str) -> str | None:
    """Return the id of the active experiment called ``name``, or None if there is none."""
    statement = (
        sa.select(experiments.c.experiment_id)
        .where(experiments.c.name == name)
        .where(experiments.c.lifecycle_stage == "active")
        .order_by(experiments.c.experiment_id)
        .limit(1)
    )
    found = connection.execute(statement).scalar()
    return None if found is None else str(found)


def _is_active_run_of(experiment_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        runs.c.experiment_id == int(experiment_id), runs.c.lifecycle_stage == "active"
    )


def load_runs(connection: Connection, experiment_id: str) -> pd.DataFrame:
    """Load every active run of the experiment with the tags in RUN_TAGS.

    One row per run, with the columns in RUN_COLUMNS. Start and end times are UTC
    timestamps, and ``duration_seconds`` is empty for runs that have not ended.
    Missing tags are None.
    """
    tag_columns = [
        sa.func.max(sa.case((tags.c.key == key, tags.c.value))).label(column)
        for column, key in RUN_TAGS.items()
    ]
    joined = runs.outerjoin(
        tags,
        sa.and_(
            tags.c.run_uuid == runs.c.run_uuid, tags.c.key.in_(list(RUN_TAGS.values()))
        ),
    )
    statement = (
        sa.select(
            runs.c.run_uuid.label("run_id"),
            runs.c.name.label("run_name"),
            runs.c.status,
            runs.c.start_time,
            runs.c.end_time,
            *tag_columns,
        )
        .select_from(joined)
        .where(_is_active_run_of(experiment_id))
        .group_by(
            runs.c.run_uuid,
            runs.c.name,
            runs.c.status,
            runs.c.start_time,
            runs.c.end_time,
        )
    )
    rows = connection.execute(statement).all()
    frame = _frame(rows, [column.name for column in statement.selected_columns])
    if frame.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)

    start = _to_utc(frame["start_time"])
    end = _to_utc(frame["end_time"])
    frame["start_time"] = start
    frame["end_time"] = end
    frame["duration_seconds"] = (end - start).dt.total_seconds()
    return frame[RUN_COLUMNS].sort_values("start_time", ignore_index=True)


def load_metrics(
    connection: Connection,
    experiment_id: str,
    keys: list[str] | None = None,
    prefix: str | None = None,
) -> pd.DataFrame:
    """Load the latest value of metrics of the experiment's active runs.

    Select metrics by exact ``keys``, by a name ``prefix``, or both (either matches).
    Returns a long frame with the columns in METRIC_COLUMNS. MLflow stores a NaN value
    as 0 with ``is_nan`` set, and the frame turns it back into NaN.
    """
    conditions = []
    if keys:
        conditions.append(latest_metrics.c.key.in_(keys))
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(latest_metrics.c.key.like(f"{escaped}%", escape="\\"))
    if not conditions:
        raise ValueError("load_metrics needs metric keys, a prefix, or both")

    statement = (
        sa.select(
            latest_metrics.c.run_uuid.label("run_id"),
            latest_metrics.c.key,
            latest_metrics.c.value,
            latest_metrics.c.is_nan,
        )
        .select_from(
            latest_metrics.join(runs, runs.c.run_uuid == latest_metrics.c.run_uuid)
        )
        .where(_is_active_run_of(experiment_id))
        .where(sa.or_(*conditions))
    )
    rows = connection.execute(statement).all()
    frame = _frame(rows, ["run_id", "key", "value", "is_nan"])
    if frame.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS).astype({"value": float})
    frame["value"] = frame["value"].astype(float).where(~frame["is_nan"].astype(bool))
    return frame[METRIC_COLUMNS]


def load_model_versions(connection: Connection, experiment_id: str) -> pd.DataFrame:
    """Load the registry versions created from the experiment's runs, with their tags.

    Versions are matched through their source run, so the registered model name need
    not be configured. ``is_production`` is True for the version that the ``production``
    alias points at now. Returns the columns in VERSION_COLUMNS, oldest version first.
    """
    tag_columns = [
        sa.func.max(
            sa.case((model_version_tags.c.key == key, model_version_tags.c.value))
        ).label(column)
        for column, key in VERSION_TAGS.items()
    ]
    alias_count = sa.func.count(registered_model_aliases.c.alias)
    joined = model_versions.join(runs, runs.c.run_uuid == model_versions.c.run_id)
    joined = joined.outerjoin(
        model_version_tags,
        sa.and_(
            model_version_tags.c.name == model_versions.c.name,
            model_version_tags.c.version == model_versions.c.version,
            model_version_tags.c.key.in_(list(VERSION_TAGS.values())),
        ),
    ).outerjoin(
        registered_model_aliases,
        sa.and_(
            registered_model_aliases.c.name == model_versions.c.name,
            registered_model_aliases.c.version == model_versions.c.version,
            registered_model_aliases.c.alias == PRODUCTION_ALIAS,
        ),
    )
    statement = (
        sa.select(
            model_versions.c.name,
            model_versions.c.version,
            model_versions.c.creation_time,
            model_versions.c.current_stage,
            model_versions.c.run_id,
            model_versions.c.status,
            (alias_count > 0).label("is_production"),
            *tag_columns,
        )
        .select_from(joined)
        .where(_is_active_run_of(experiment_id))
        .group_by(
            model_versions.c.name,
            model_versions.c.version,
            model_versions.c.creation_time,
            model_versions.c.current_stage,
            model_versions.c.run_id,
            model_versions.c.status,
        )
        .order_by(model_versions.c.name, model_versions.c.version)
    )
    rows = connection.execute(statement).all()
    frame = _frame(rows, VERSION_COLUMNS)
    if frame.empty:
        return frame
    frame["version"] = frame["version"].astype(int).astype(str)
    frame["creation_time"] = _to_utc(frame["creation_time"])
    frame["is_production"] = frame["is_production"].astype(bool)
    return frame
