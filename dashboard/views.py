"""Shape the frames returned by dashboard.queries into what each section shows.

Every function here is pure: it takes the run frame (``queries.load_runs``), the long
metric frame (``queries.load_metrics``) and, for the registry, the version frame
(``queries.load_model_versions``), and returns a new frame. Batch dates are parsed into
``datetime64`` columns. Runs whose ``fraud.batch_date`` tag is missing or invalid are
left out of the per-date views, but the latest runs still list them.
"""

import re

import pandas as pd

PRIMARY_METRIC = "average_precision"

# Metrics the timeline can show, in menu order, with their labels.
TIMELINE_METRICS = {
    "average_precision": "Average precision",
    "roc_auc": "ROC-AUC",
    "recall": "Recall",
    "precision": "Precision",
    "f1": "F1",
    "amount_caught": "Money caught",
}
BATCH_METRICS = [
    "batch_rows",
    "batch_accepted_rows",
    "batch_quarantined_rows",
    "batch_fraud_rate",
]
PROMOTION_METRICS = [
    "promotion_challenger_average_precision",
    "promotion_production_average_precision",
]
PSI_PREFIX = "psi_"

# Commonly used PSI bands: under 0.1 the feature is stable, 0.1 to 0.25 it has shifted
# moderately, above 0.25 significantly.
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25

PRODUCTION_SERIES = "production"
NO_VALUE_TAG = "none"

# Run status from best to worst, to pick one run when a date was run more than once.
_STATUS_RANK = {"FINISHED": 3, "RUNNING": 2, "SCHEDULED": 1, "KILLED": 0, "FAILED": 0}


def metric_keys() -> list[str]:
    """Return the exact metric keys the dashboard loads; PSI metrics go by prefix."""
    return [*TIMELINE_METRICS, *BATCH_METRICS, *PROMOTION_METRICS]


def _with_dates(runs: pd.DataFrame) -> pd.DataFrame:
    dated = runs.copy()
    dated["batch_date"] = pd.to_datetime(
        dated["batch_date"], format="%Y-%m-%d", errors="coerce"
    )
    return dated.dropna(subset=["batch_date"])


def pick_latest(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Keep one run per group of ``by``: the best status, then the latest start."""
    if runs.empty:
        return runs
    ranked = runs.assign(_rank=runs["status"].map(_STATUS_RANK).fillna(0))
    ranked = ranked.sort_values(["_rank", "start_time"], na_position="first")
    return ranked.drop_duplicates(subset=by, keep="last").drop(columns="_rank")


def filter_dates(
    frame: pd.DataFrame, start: str | None, end: str | None
) -> pd.DataFrame:
    """Keep the rows whose ``batch_date`` lies in [start, end]; None leaves a side open."""
    kept = frame
    if start:
        kept = kept[kept["batch_date"] >= pd.Timestamp(start[:10])]
    if end:
        kept = kept[kept["batch_date"] <= pd.Timestamp(end[:10])]
    return kept


def _wide_metrics(metrics: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    selected = metrics[metrics["key"].isin(keys)]
    wide = selected.pivot_table(
        index="run_id", columns="key", values="value", aggfunc="last"
    )
    return wide.reindex(columns=keys)


def batch_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Return the parent run of each batch date, one per date, sorted by date."""
    parents = _with_dates(runs[runs["run_kind"] == "batch"])
    # The pipeline writes "none" where there is no production model or no challenger.
    for column in ("production_version", "challenger_version", "challenger_candidate"):
        parents[column] = parents[column].where(parents[column] != NO_VALUE_TAG)
    return pick_latest(parents, ["batch_date"]).sort_values(
        "batch_date", ignore_index=True
    )


def timeline_points(
    runs: pd.DataFrame, metrics: pd.DataFrame, metric: str
) -> pd.DataFrame:
    """Return one point per batch date and series for ``metric``.

    A series is a candidate name, or ``production`` for the production model's
    out-of-time score. Columns: batch_date, series, value, run_id, status,
    model_version. Runs without the metric are left out.
    """
    children = _with_dates(
        runs[runs["run_kind"].isin(["candidate", "production_score"])]
    )
    children = children.assign(
        series=children["candidate"].where(
            children["run_kind"] == "candidate", PRODUCTION_SERIES
        )
    )
    children = pick_latest(children.dropna(subset=["series"]), ["batch_date", "series"])
    values = metrics[metrics["key"] == metric].drop_duplicates("run_id", keep="last")
    points = children.merge(values[["run_id", "value"]], on="run_id", how="inner")
    points = points.dropna(subset=["value"])
    columns = ["batch_date", "series", "value", "run_id", "status", "model_version"]
    return points[columns].sort_values(["series", "batch_date"], ignore_index=True)


def gate_events(runs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Return the promotions and rejections, placed on the challenger's timeline point.

    Columns: batch_date, decision, candidate, version, reason, value. ``value`` is the
    challenger's value of the timeline metric, or the best candidate value of that date
    when the challenger has no point.
    """
    parents = batch_runs(runs)
    parents = parents[parents["decision"].isin(["promoted", "rejected"])]
    columns = ["batch_date", "decision", "candidate", "version", "reason", "value"]
    if parents.empty:
        return pd.DataFrame(columns=columns)

    events = parents[
        [
            "batch_date",
            "decision",
            "reason",
            "challenger_candidate",
            "challenger_version",
        ]
    ].rename(
        columns={"challenger_candidate": "candidate", "challenger_version": "version"}
    )
    candidates = points[points["series"] != PRODUCTION_SERIES]
    exact = candidates.rename(columns={"series": "candidate"})[
        ["batch_date", "candidate", "value"]
    ]
    events = events.merge(exact, on=["batch_date", "candidate"], how="left")
    best = candidates.groupby("batch_date")["value"].max().rename("best_value")
    events = events.merge(best, left_on="batch_date", right_index=True, how="left")
    events["value"] = events["value"].fillna(events["best_value"])
    return events[columns].sort_values("batch_date", ignore_index=True)


def registry_history(
    runs: pd.DataFrame, metrics: pd.DataFrame, versions: pd.DataFrame
) -> pd.DataFrame:
    """Return, per batch date, the production version after the gate and why.

    The version in production after date D is the challenger when D's gate promoted
    it, and otherwise the version that scored D (``fraud.production.model_version``).
    Columns: batch_date, status, failed_task, decision, reason, production_version,
    production_candidate, production_run_id, model_name, challenger_candidate,
    challenger_version, challenger_ap, production_ap, batch_run_id. Newest date first.
    """
    parents = batch_runs(runs)
    scores = _wide_metrics(metrics, PROMOTION_METRICS)
    history = parents.merge(scores, left_on="run_id", right_index=True, how="left")
    history = history.rename(
        columns={
            "run_id": "batch_run_id",
            "promotion_challenger_average_precision": "challenger_ap",
            "promotion_production_average_precision": "production_ap",
        }
    )
    promoted = history["decision"] == "promoted"
    history["production_version"] = history["challenger_version"].where(
        promoted, history["production_version"]
    )

    version_info = versions[["version", "candidate", "run_id", "name"]].rename(
        columns={
            "candidate": "production_candidate",
            "run_id": "production_run_id",
            "name": "model_name",
        }
    )
    version_info = version_info.drop_duplicates("version", keep="last")
    history = history.merge(
        version_info, left_on="production_version", right_on="version", how="left"
    )
    columns = [
        "batch_date",
        "status",
        "failed_task",
        "decision",
        "reason",
        "production_version",
        "production_candidate",
        "production_run_id",
        "model_name",
        "challenger_candidate",
        "challenger_version",
        "challenger_ap",
        "production_ap",
        "batch_run_id",
    ]
    return history[columns].sort_values(
        "batch_date", ascending=False, ignore_index=True
    )


def batch_health(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Return the validation counts of each batch date from its parent run.

    Columns: batch_date, status, run_id and the metrics in BATCH_METRICS (NaN when the
    run failed before logging them). Oldest date first.
    """
    parents = batch_runs(runs)
    counts = _wide_metrics(metrics, BATCH_METRICS)
    health = parents.merge(counts, left_on="run_id", right_index=True, how="left")
    return health[["batch_date", "status", "run_id", *BATCH_METRICS]]


def _feature_order(feature: str) -> tuple[int, int, str]:
    numbered = re.fullmatch(r"V(\d+)", feature)
    if numbered:
        return (0, int(numbered.group(1)), feature)
    return (1, 0, feature)


def drift_matrix(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Return the PSI of each feature (rows, V1..V28 then others) per batch date (columns).

    Dates whose parent run logged no PSI, such as the first date, have no column.
    """
    parents = batch_runs(runs)[["run_id", "batch_date"]]
    psi = metrics[metrics["key"].str.startswith(PSI_PREFIX)]
    psi = psi.merge(parents, on="run_id", how="inner")
    if psi.empty:
        return pd.DataFrame()
    psi = psi.assign(feature=psi["key"].str.slice(len(PSI_PREFIX)))
    matrix = psi.pivot_table(
        index="feature", columns="batch_date", values="value", aggfunc="last"
    )
    order = sorted(matrix.index, key=_feature_order)
    return matrix.reindex(index=order).sort_index(axis=1)


def psi_level(value: float) -> str:
    """Name the PSI band of ``value``: stable, moderate, significant, or unknown for NaN."""
    if pd.isna(value):
        return "unknown"
    if value >= PSI_SIGNIFICANT:
        return "significant"
    if value >= PSI_MODERATE:
        return "moderate"
    return "stable"


def top_drift(matrix: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """Rank the features by PSI on the latest date of ``matrix``.

    Columns: feature, latest_date, latest_psi, level, max_psi, max_date. Ties and
    missing latest values fall back to the maximum over the dates shown.
    """
    columns = ["feature", "latest_date", "latest_psi", "level", "max_psi", "max_date"]
    if matrix.empty:
        return pd.DataFrame(columns=columns)
    latest_date = matrix.columns.max()
    ranked = pd.DataFrame(
        {
            "feature": matrix.index,
            "latest_date": latest_date,
            "latest_psi": matrix[latest_date].to_numpy(),
            "max_psi": matrix.max(axis=1, skipna=True).to_numpy(),
            "max_date": matrix.idxmax(axis=1, skipna=True).to_numpy(),
        }
    )
    ranked["level"] = ranked["latest_psi"].map(psi_level)
    ranked = ranked.sort_values(
        ["latest_psi", "max_psi"], ascending=False, na_position="last"
    )
    return ranked[columns].head(limit).reset_index(drop=True)


def latest_runs(
    runs: pd.DataFrame, metrics: pd.DataFrame, limit: int = 30
) -> pd.DataFrame:
    """Return the ``limit`` most recently started runs with their primary metric.

    They are listed by batch date, newest first, and by start time within a date,
    because the pipeline may score one date after training the next.

    Columns: run_id, run_name, batch_date (text as tagged), candidate, run_kind, status,
    start_time, duration_seconds, average_precision. The candidate of a parent run is
    ``batch`` and that of a production score run is ``production``.
    """
    recent = runs.sort_values("start_time", ascending=False, na_position="last").head(
        limit
    )
    primary = metrics[metrics["key"] == PRIMARY_METRIC].drop_duplicates(
        "run_id", keep="last"
    )
    recent = recent.merge(
        primary[["run_id", "value"]].rename(columns={"value": PRIMARY_METRIC}),
        on="run_id",
        how="left",
    )
    label = recent["candidate"].copy()
    label = label.where(recent["run_kind"] != "batch", "batch")
    label = label.where(recent["run_kind"] != "production_score", PRODUCTION_SERIES)
    recent["candidate"] = label
    recent = recent.sort_values(
        ["batch_date", "start_time"], ascending=False, na_position="last"
    )
    columns = [
        "run_id",
        "run_name",
        "batch_date",
        "candidate",
        "run_kind",
        "status",
        "start_time",
        "duration_seconds",
        PRIMARY_METRIC,
    ]
    return recent[columns].reset_index(drop=True)
