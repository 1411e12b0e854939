import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures, page, store, views


@pytest.fixture(scope="module")
def snapshot(contract_store):
    uri = store.translate_uri(contract_store.tracking_uri)
    engine = store.create_read_only_engine(uri)
    with engine.connect() as connection:
        loaded = page.load_snapshot(connection, contract_store.experiment_name)
    engine.dispose()
    return loaded


def timeline(snapshot, metric):
    points = views.timeline_points(snapshot.runs, snapshot.metrics, metric)
    events = views.gate_events(snapshot.runs, points)
    return figures.timeline_figure(points, events, metric)


def test_timeline_traces(snapshot, contract_store):
    figure = timeline(snapshot, "average_precision")
    assert isinstance(figure, go.Figure)
    names = [trace.name for trace in figure.data]
    expected = [
        *sorted(contract_store.candidates),
        figures.PRODUCTION_NAME,
        figures.PROMOTED_NAME,
        figures.REJECTED_NAME,
    ]
    assert names == expected
    assert "Average precision" in figure.layout.title.text


def test_timeline_markers_on_gate_dates(snapshot, contract_store):
    figure = timeline(snapshot, "average_precision")
    by_name = {trace.name: trace for trace in figure.data}
    promoted = [
        d for d, decision in contract_store.decisions.items() if decision == "promoted"
    ]
    rejected = [
        d for d, decision in contract_store.decisions.items() if decision == "rejected"
    ]
    promoted_x = [pd.Timestamp(x).strftime("%Y-%m-%d") for x in by_name["promoted"].x]
    rejected_x = [pd.Timestamp(x).strftime("%Y-%m-%d") for x in by_name["rejected"].x]
    assert promoted_x == promoted
    assert rejected_x == rejected


def test_timeline_production_starts_second_date(snapshot, contract_store):
    figure = timeline(snapshot, "average_precision")
    production = next(t for t in figure.data if t.name == figures.PRODUCTION_NAME)
    first_x = pd.Timestamp(production.x[0]).strftime("%Y-%m-%d")
    assert first_x == contract_store.dates[1]


def test_timeline_metric_changes_values(snapshot):
    average_precision = timeline(snapshot, "average_precision")
    money = timeline(snapshot, "amount_caught")
    assert "Money caught" in money.layout.title.text
    assert list(average_precision.data[0].y) != list(money.data[0].y)
    assert max(money.data[0].y) > 1


def test_timeline_skips_deleted_run(snapshot, contract_store):
    figure = timeline(snapshot, "average_precision")
    first_candidate = next(
        t for t in figure.data if t.name == contract_store.candidates[0]
    )
    dates = [pd.Timestamp(x).strftime("%Y-%m-%d") for x in first_candidate.x]
    assert contract_store.dates[1] not in dates
    assert contract_store.dates[0] in dates


def test_timeline_empty_points():
    points = pd.DataFrame(
        columns=["batch_date", "series", "value", "run_id", "status", "model_version"]
    )
    events = pd.DataFrame(
        columns=["batch_date", "decision", "candidate", "version", "reason", "value"]
    )
    figure = figures.timeline_figure(points, events, "roc_auc")
    assert len(figure.data) == 0
    assert "No roc-auc logged" in figure.layout.annotations[0].text


def test_batch_health_figure(snapshot, contract_store):
    health = views.batch_health(snapshot.runs, snapshot.metrics)
    figure = figures.batch_health_figure(health)
    names = [trace.name for trace in figure.data]
    assert names == ["accepted rows", "quarantined rows", "fraud rate (%)"]
    assert len(figure.data[0].x) == len(contract_store.dates)
    assert figure.layout.barmode == "stack"
    assert max(figure.data[2].y) < 1


def test_drift_heatmap_skips_first_date(snapshot, contract_store):
    matrix = views.drift_matrix(snapshot.runs, snapshot.metrics)
    figure = figures.drift_heatmap_figure(matrix)
    heatmap = figure.data[0]
    assert isinstance(heatmap, go.Heatmap)
    assert list(heatmap.y[:3]) == ["V1", "V2", "V3"]
    assert heatmap.y[-1] == "Amount"
    dates = [pd.Timestamp(x).strftime("%Y-%m-%d") for x in heatmap.x]
    assert dates == contract_store.dates[1:]


def test_top_drift_ranks_latest_date(snapshot):
    top = views.top_drift(views.drift_matrix(snapshot.runs, snapshot.metrics), limit=5)
    assert len(top) == 5
    assert top.loc[0, "feature"] == "V14"
    assert top.loc[0, "level"] == "significant"
    assert top["latest_psi"].is_monotonic_decreasing


@pytest.mark.parametrize(
    ("value", "level"),
    [(0.05, "stable"), (0.1, "moderate"), (0.3, "significant"), (None, "unknown")],
)
def test_psi_level_bands(value, level):
    assert views.psi_level(value) == level


def test_empty_frames_give_messages():
    for figure in (
        figures.batch_health_figure(pd.DataFrame()),
        figures.drift_heatmap_figure(pd.DataFrame()),
    ):
        assert len(figure.data) == 0
        assert figure.layout.annotations[0].text
