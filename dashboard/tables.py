"""HTML tables of the dashboard, built from the frames of dashboard.views."""

from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd
from dash import html

EMPTY_CELL = "–"


@dataclass(frozen=True)
class MlflowLinks:
    """Builds links into the MLflow UI at ``base_url`` for one experiment."""

    base_url: str
    experiment_id: str | None

    def run(self, run_id: str) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}/#/experiments/{self.experiment_id}/runs/{quote(run_id)}"

    def model_version(self, name: str, version: str) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}/#/models/{quote(name, safe='')}/versions/{quote(str(version))}"


def _text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return EMPTY_CELL
    return str(value)


def _number(value, digits: int = 4) -> str:
    if value is None or pd.isna(value):
        return EMPTY_CELL
    return f"{value:.{digits}f}"


def _date(value) -> str:
    if value is None or pd.isna(value):
        return EMPTY_CELL
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _duration(seconds) -> str:
    if seconds is None or pd.isna(seconds):
        return "running"
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _link(text: str, href: str) -> html.A:
    return html.A(text, href=href, target="_blank", rel="noopener noreferrer")


def _table(table_id: str, header: list[str], rows: list[list]) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(name) for name in header])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
        ],
        id=table_id,
        className="data-table",
    )


def _decision_badge(decision) -> html.Span:
    text = _text(decision) if _text(decision) != EMPTY_CELL else "no decision"
    return html.Span(text, className=f"badge badge-{text.replace(' ', '-')}")


def registry_table(
    history: pd.DataFrame, links: MlflowLinks, limit: int = 60
) -> html.Table:
    """List which version was production after each batch date, newest first.

    ``history`` comes from views.registry_history. A date whose run failed before the
    gate shows "no decision" and keeps the version that scored it.
    """
    header = [
        "date",
        "production version",
        "candidate",
        "decision",
        "challenger AP",
        "production AP",
        "reason",
        "links",
    ]
    rows = []
    for row in history.head(limit).itertuples():
        version = _text(row.production_version)
        if version != EMPTY_CELL and isinstance(row.model_name, str):
            version_cell = _link(
                f"version {version}", links.model_version(row.model_name, version)
            )
        else:
            version_cell = "none" if version == EMPTY_CELL else f"version {version}"
        run_links = [_link("batch run", links.run(row.batch_run_id))]
        if isinstance(row.production_run_id, str):
            run_links += [" · ", _link("model run", links.run(row.production_run_id))]
        reason = row.reason
        if not isinstance(reason, str):
            reason = f"run {row.status}"
            if isinstance(row.failed_task, str):
                reason += f" in {row.failed_task}"
        challenger_ap = _number(row.challenger_ap)
        if isinstance(row.challenger_candidate, str):
            challenger_ap = f"{challenger_ap} ({row.challenger_candidate})"
        rows.append(
            [
                _date(row.batch_date),
                version_cell,
                _text(row.production_candidate),
                _decision_badge(row.decision),
                challenger_ap,
                _number(row.production_ap),
                html.Span(reason, className="wrap"),
                html.Span(run_links),
            ]
        )
    return _table("registry-table", header, rows)


def latest_runs_table(frame: pd.DataFrame, links: MlflowLinks) -> html.Table:
    """List the most recent runs: date, candidate, status, primary metric, duration."""
    header = ["date", "candidate", "status", "average precision", "duration", "run"]
    rows = [
        [
            _text(row.batch_date),
            _text(row.candidate),
            html.Span(row.status, className=f"status status-{str(row.status).lower()}"),
            _number(row.average_precision),
            _duration(row.duration_seconds),
            _link(_text(row.run_name), links.run(row.run_id)),
        ]
        for row in frame.itertuples()
    ]
    return _table("latest-runs-table", header, rows)


def drift_table(top: pd.DataFrame) -> html.Table:
    """List the features drifting most on the latest date shown."""
    header = ["feature", "PSI on latest date", "level", "max PSI shown", "max on"]
    rows = [
        [
            row.feature,
            _number(row.latest_psi, 3),
            html.Span(row.level, className=f"badge badge-{row.level}"),
            _number(row.max_psi, 3),
            _date(row.max_date),
        ]
        for row in top.itertuples()
    ]
    return _table("drift-table", header, rows)
