"""Plotly figures of the dashboard, built from the frames of dashboard.views.

Each function is pure: frames in, a new ``plotly.graph_objects.Figure`` out. An empty
frame gives a figure with a centred note instead of empty axes.
"""

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import views

PRODUCTION_NAME = "production (out-of-time)"
PROMOTED_NAME = "promoted"
REJECTED_NAME = "rejected"

# PSI colour scale: green below the moderate band, amber up to the significant band,
# red above. The scale tops out at 0.5, so stronger drift shows in the darkest red.
PSI_COLOR_MAX = 0.5
_PSI_SCALE = [
    [0.0, "#f7fcf5"],
    [views.PSI_MODERATE / PSI_COLOR_MAX, "#a1d99b"],
    [views.PSI_SIGNIFICANT / PSI_COLOR_MAX, "#fdae6b"],
    [1.0, "#a50f15"],
]

# uirevision keeps the user's zoom and hidden traces when the page refreshes itself, as
# long as the figure shows the same thing.
_LAYOUT = {
    "template": "plotly_white",
    "uirevision": "keep",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
}

# Up to this many dates, every date gets its own tick. With automatic ticks, plotly
# labels a few days at 12-hour steps, which suggests times the data does not have.
DAILY_TICKS_MAX_DATES = 15
ONE_DAY_MS = 86_400_000


def _date_axis(dates: pd.Series) -> dict:
    axis = {"type": "date", "tickformat": "%b %d\n%Y"}
    if pd.Series(dates).nunique() <= DAILY_TICKS_MAX_DATES:
        axis["dtick"] = ONE_DAY_MS
    return axis


def message_figure(message: str, title: str = "") -> go.Figure:
    """Return an empty figure that shows ``message`` in its centre."""
    figure = go.Figure()
    figure.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 15, "color": "#555"},
    )
    figure.update_layout(
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False},
        **{key: value for key, value in _LAYOUT.items() if key != "legend"},
    )
    return figure


def _event_hover(events: pd.DataFrame) -> list[str]:
    return [
        f"{row.decision} {row.candidate} (version {row.version})<br>{row.reason}"
        for row in events.itertuples()
    ]


def timeline_figure(
    points: pd.DataFrame, events: pd.DataFrame, metric: str
) -> go.Figure:
    """Draw one line per candidate and one for production, with gate markers.

    ``points`` comes from views.timeline_points and ``events`` from views.gate_events.
    Candidate traces are named after the candidate, in alphabetical order, followed by
    the production trace and the ``promoted`` and ``rejected`` markers when present.
    """
    label = views.TIMELINE_METRICS.get(metric, metric)
    title = f"{label} by batch date"
    if points.empty:
        return message_figure(f"No {label.lower()} logged for these dates yet.", title)

    figure = go.Figure()
    candidates = sorted(set(points["series"]) - {views.PRODUCTION_SERIES})
    for name in candidates:
        series = points[points["series"] == name]
        figure.add_trace(
            go.Scatter(
                x=series["batch_date"],
                y=series["value"],
                mode="lines+markers",
                name=name,
                marker={"size": 6},
                line={"width": 1.5},
            )
        )

    production = points[points["series"] == views.PRODUCTION_SERIES]
    if not production.empty:
        figure.add_trace(
            go.Scatter(
                x=production["batch_date"],
                y=production["value"],
                mode="lines+markers",
                name=PRODUCTION_NAME,
                text=[f"version {version}" for version in production["model_version"]],
                line={"color": "black", "width": 3, "dash": "dash"},
                marker={"size": 8, "color": "black"},
            )
        )

    for decision, name, symbol, color in (
        ("promoted", PROMOTED_NAME, "star", "#2ca02c"),
        ("rejected", REJECTED_NAME, "x", "#d62728"),
    ):
        chosen = events[(events["decision"] == decision) & events["value"].notna()]
        if chosen.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=chosen["batch_date"],
                y=chosen["value"],
                mode="markers",
                name=name,
                hovertext=_event_hover(chosen),
                hoverinfo="text",
                marker={
                    "symbol": symbol,
                    "size": 15,
                    "color": color,
                    "line": {"width": 1, "color": "white"},
                },
            )
        )

    figure.update_layout(
        title=title, yaxis_title=label, **{**_LAYOUT, "uirevision": metric}
    )
    figure.update_xaxes(**_date_axis(points["batch_date"]))
    return figure


def batch_health_figure(health: pd.DataFrame) -> go.Figure:
    """Draw accepted and quarantined rows per day as stacked bars, and the fraud rate.

    ``health`` comes from views.batch_health. The fraud rate is drawn in percent.
    """
    title = "Batch health"
    if health.empty:
        return message_figure("No batches validated for these dates yet.", title)

    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.6, 0.4],
        subplot_titles=("Rows per day", "Fraud rate of accepted rows"),
    )
    figure.add_trace(
        go.Bar(
            x=health["batch_date"],
            y=health["batch_accepted_rows"],
            name="accepted rows",
            marker_color="#4c78a8",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=health["batch_date"],
            y=health["batch_quarantined_rows"],
            name="quarantined rows",
            marker_color="#e45756",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=health["batch_date"],
            y=health["batch_fraud_rate"] * 100,
            mode="lines+markers",
            name="fraud rate (%)",
            line={"color": "#f58518"},
        ),
        row=2,
        col=1,
    )
    figure.update_layout(barmode="stack", **_LAYOUT)
    figure.update_xaxes(**_date_axis(health["batch_date"]))
    figure.update_yaxes(title_text="rows", row=1, col=1)
    figure.update_yaxes(title_text="%", rangemode="tozero", row=2, col=1)
    return figure


def drift_heatmap_figure(matrix: pd.DataFrame) -> go.Figure:
    """Draw the PSI of each feature (rows) per batch date (columns) as a heatmap.

    ``matrix`` comes from views.drift_matrix.
    """
    title = "Feature drift: PSI against the training window"
    if matrix.empty:
        return message_figure(
            "No drift measured yet: the first batch date has no training window to "
            "compare with.",
            title,
        )

    figure = go.Figure(
        go.Heatmap(
            name="PSI",
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            zmin=0,
            zmax=PSI_COLOR_MAX,
            colorscale=_PSI_SCALE,
            colorbar={"title": {"text": "PSI"}},
            hovertemplate="%{y} on %{x|%Y-%m-%d}: PSI %{z:.3f}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        title=title,
        xaxis=_date_axis(pd.Series(matrix.columns)),
        yaxis={"autorange": "reversed", "dtick": 1},
        height=620,
        **{key: value for key, value in _LAYOUT.items() if key != "legend"},
    )
    return figure
