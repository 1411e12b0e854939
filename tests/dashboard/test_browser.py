"""The page in headless Chromium, through dash[testing]'s dash_duo fixture.

Set DASHBOARD_SCREENSHOT=docs/dashboard.png to save a screenshot of the full page.
"""

import os
import time

import pytest
from selenium.common.exceptions import JavascriptException

from dashboard.app import DashboardConfig, create_app
from pipeline import settings

pytestmark = pytest.mark.browser

TRACE_NAMES = (
    "return Array.from(document.querySelector('#{} .js-plotly-plot').data, t => t.name)"
)
# plotly.py sends numbers base64-encoded; _fullData contains them decoded into arrays.
TRACE_Y = (
    "return Array.from(document.querySelector('#{} .js-plotly-plot')._fullData[0].y)"
)


def start(dash_duo, uri: str):
    config = DashboardConfig.from_environment(
        database_uri=uri,
        mlflow_ui_url="http://127.0.0.1:5000",
        experiment_name=settings.fraud().experiment_name,
    )
    dash_duo.start_server(create_app(config))


def wait_for_traces(dash_duo, graph_id: str, expected_first: str, timeout: float = 15):
    """Wait until the graph's first trace is named ``expected_first``; return all names."""
    deadline = time.monotonic() + timeout
    names = []
    while time.monotonic() < deadline:
        try:
            names = dash_duo.driver.execute_script(TRACE_NAMES.format(graph_id)) or []
        except JavascriptException:  # the plot is not drawn yet
            names = []
        if names and names[0] == expected_first:
            return names
        time.sleep(0.2)
    raise AssertionError(
        f"{graph_id} shows traces {names}, expected {expected_first} first"
    )


def test_page_renders_charts(dash_duo, pipeline_store):
    start(dash_duo, pipeline_store["tracking_uri"])
    candidates = sorted(settings.fraud().candidates)
    names = wait_for_traces(dash_duo, "timeline-graph", candidates[0])
    assert names[: len(candidates)] == candidates
    assert names[len(candidates)] == "production (out-of-time)"
    assert "promoted" in names

    health = wait_for_traces(dash_duo, "health-graph", "accepted rows")
    assert health == ["accepted rows", "quarantined rows", "fraud rate (%)"]
    assert wait_for_traces(dash_duo, "drift-graph", "PSI") == ["PSI"]
    dash_duo.wait_for_contains_text("#registry-history", "promoted")
    dash_duo.wait_for_contains_text("#latest-runs", "FINISHED")
    dash_duo.wait_for_contains_text("#drift-top", "PSI on latest date")
    assert len(dash_duo.find_elements("#drift-table tbody tr")) == 10
    dates = len(pipeline_store["dates"])
    dash_duo.wait_for_contains_text("#store-status", f"{dates} batch dates")

    screenshot = os.environ.get("DASHBOARD_SCREENSHOT")
    if screenshot:
        height = dash_duo.driver.execute_script("return document.body.scrollHeight")
        dash_duo.driver.set_window_size(1400, height + 40)
        time.sleep(1)
        dash_duo.driver.save_screenshot(screenshot)

    assert dash_duo.get_logs() == []


def test_metric_choice_changes_timeline(dash_duo, pipeline_store):
    start(dash_duo, pipeline_store["tracking_uri"])
    wait_for_traces(dash_duo, "timeline-graph", min(settings.fraud().candidates))
    before = dash_duo.driver.execute_script(TRACE_Y.format("timeline-graph"))

    dash_duo.select_dcc_dropdown("#metric", "Money caught")
    dash_duo.wait_for_contains_text("#timeline-graph .gtitle", "Money caught")
    after = dash_duo.driver.execute_script(TRACE_Y.format("timeline-graph"))
    assert after != before
    assert max(after) > 1
    assert dash_duo.get_logs() == []


def test_failed_date_shown(dash_duo, contract_store):
    start(dash_duo, contract_store.tracking_uri)
    dash_duo.wait_for_contains_text("#latest-runs", "FAILED")
    dash_duo.wait_for_contains_text("#registry-history", "no decision")
    assert dash_duo.get_logs() == []


def test_empty_store_message(dash_duo, tmp_path):
    start(dash_duo, f"sqlite:///{tmp_path / 'mlflow.db'}")
    dash_duo.wait_for_contains_text("#store-status", "make run")
    dash_duo.wait_for_contains_text("#timeline-graph", "make run")
    assert "status-empty" in dash_duo.find_element("#store-status").get_attribute(
        "class"
    )
    assert dash_duo.get_logs() == []
