"""Static layout of the page: controls, section containers and the style sheet.

The callbacks in dashboard.app fill the containers. The style sheet sits in the page
template instead of an assets folder, so that an installed wheel needs no data files.
"""

from dash import dcc, html

from dashboard import views

STYLE_SHEET = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       background: #f4f5f7; color: #222; }
header { background: #1f2933; color: #fff; padding: 14px 28px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #cbd2d9; font-size: 13px; }
main { padding: 16px 28px 40px; }
section { background: #fff; border-radius: 6px; padding: 14px 18px; margin-bottom: 18px;
          box-shadow: 0 1px 2px rgba(0,0,0,0.08); }
section h2 { font-size: 17px; margin: 0 0 10px; }
.controls { display: flex; gap: 28px; align-items: flex-end; flex-wrap: wrap; }
.control label { display: block; font-size: 13px; color: #52606d; margin-bottom: 4px; }
.status { padding: 10px 14px; border-radius: 6px; margin-bottom: 16px; font-size: 14px; }
.status-ready { background: #e3f9e5; color: #05400a; }
.status-empty { background: #fff3c4; color: #513c06; }
.status-unreachable, .status-error { background: #ffe3e3; color: #610404; }
.data-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.data-table th { text-align: left; border-bottom: 2px solid #d9e2ec; padding: 6px 8px;
                 color: #52606d; font-weight: 600; }
.data-table td { border-bottom: 1px solid #eef1f4; padding: 5px 8px; white-space: nowrap; }
.data-table td .wrap { white-space: normal; }
.scroll { max-height: 420px; overflow-y: auto; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e4e7eb; }
.badge-promoted, .badge-stable { background: #e3f9e5; color: #05400a; }
.badge-rejected, .badge-significant { background: #ffe3e3; color: #610404; }
.badge-skipped, .badge-moderate { background: #fff3c4; color: #513c06; }
span.status-failed { color: #b91c1c; font-weight: 600; }
span.status-running { color: #1d4ed8; }
.empty-note { color: #52606d; font-style: italic; }
.columns { display: grid; grid-template-columns: 2fr 1fr; gap: 18px; }
"""

INDEX_TEMPLATE = f"""<!DOCTYPE html>
<html>
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
        <style>{STYLE_SHEET}</style>
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>
"""


def _section(title: str, *children, section_id: str) -> html.Section:
    return html.Section([html.H2(title), *children], id=section_id)


def build_layout(
    experiment_name: str, store_label: str, refresh_seconds: int
) -> html.Div:
    """Return the page layout with empty containers for the callbacks to fill."""
    metric_options = [
        {"label": label, "value": key} for key, label in views.TIMELINE_METRICS.items()
    ]
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("Metric", htmlFor="metric"),
                    dcc.Dropdown(
                        id="metric",
                        options=metric_options,
                        value=views.PRIMARY_METRIC,
                        clearable=False,
                        style={"width": "240px"},
                    ),
                ],
                className="control",
            ),
            html.Div(
                [
                    html.Label("Batch dates", htmlFor="date-range"),
                    dcc.DatePickerRange(
                        id="date-range",
                        display_format="YYYY-MM-DD",
                        clearable=True,
                        start_date_placeholder_text="first date",
                        end_date_placeholder_text="last date",
                    ),
                ],
                className="control",
            ),
        ],
        className="controls",
    )
    return html.Div(
        [
            html.Header(
                [
                    html.H1("Fraud model monitor"),
                    html.P(
                        f"Experiment '{experiment_name}' in {store_label}, "
                        f"refreshed every {refresh_seconds} s"
                    ),
                ]
            ),
            html.Main(
                [
                    html.Div(id="store-status", className="status"),
                    html.Section(controls),
                    _section(
                        "Model timeline",
                        dcc.Graph(id="timeline-graph", style={"height": "460px"}),
                        section_id="timeline-section",
                    ),
                    _section(
                        "Registry history",
                        html.Div(id="registry-history", className="scroll"),
                        section_id="registry-section",
                    ),
                    _section(
                        "Batch health",
                        dcc.Graph(id="health-graph", style={"height": "460px"}),
                        section_id="health-section",
                    ),
                    _section(
                        "Feature drift",
                        html.Div(
                            [
                                dcc.Graph(id="drift-graph"),
                                html.Div(
                                    [
                                        html.H2("Top drifting features"),
                                        html.Div(id="drift-top"),
                                    ]
                                ),
                            ],
                            className="columns",
                        ),
                        section_id="drift-section",
                    ),
                    _section(
                        "Latest runs",
                        html.Div(id="latest-runs", className="scroll"),
                        section_id="runs-section",
                    ),
                    dcc.Interval(id="refresh", interval=refresh_seconds * 1000),
                ]
            ),
        ]
    )
