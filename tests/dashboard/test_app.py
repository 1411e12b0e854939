import pytest

import dashboard.app
from dashboard import server, store
from dashboard.app import DashboardConfig, create_app


def config_for(uri: str) -> DashboardConfig:
    return DashboardConfig.from_environment(
        database_uri=uri,
        mlflow_ui_url="http://127.0.0.1:5000",
        experiment_name="fraud-detection",
    )


def test_healthz_before_first_run(tmp_path):
    app = create_app(config_for(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    response = app.server.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["store"] == {"reachable": True, "initialized": False, "error": None}
    assert body["experiment"] == "fraud-detection"


def test_healthz_filled_store(contract_store):
    app = create_app(config_for(contract_store.tracking_uri))
    body = app.server.test_client().get("/healthz").get_json()
    assert body["store"]["initialized"] is True


def test_healthz_unreachable_store():
    app = create_app(config_for("postgresql://postgres:secret@127.0.0.1:9/mlflow"))
    response = app.server.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["store"]["reachable"] is False
    assert "secret" not in response.get_data(as_text=True)


def test_config_from_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://postgres@127.0.0.1/mlflow")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "nightly")
    monkeypatch.setenv(dashboard.app.MLFLOW_UI_URL_VARIABLE, "http://127.0.0.1:5001")
    monkeypatch.delenv("FRAUD_DASHBOARD_DATABASE_URI", raising=False)
    config = DashboardConfig.from_environment()
    assert config.database_uri == "postgresql+psycopg2://postgres@127.0.0.1/mlflow"
    assert config.experiment_name == "nightly"
    assert config.mlflow_ui_url == "http://127.0.0.1:5001"


def test_module_server_attribute(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "FRAUD_DASHBOARD_DATABASE_URI", f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    monkeypatch.setattr(dashboard.app, "_server", None)
    wsgi = dashboard.app.server
    assert wsgi is dashboard.app.server
    assert wsgi.test_client().get("/healthz").status_code == 200
    with pytest.raises(AttributeError, match="no_such_attribute"):
        _ = dashboard.app.no_such_attribute


def test_main_server_uri_without_database(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.delenv("FRAUD_DASHBOARD_DATABASE_URI", raising=False)
    assert server.main(["--port", "8050"]) == 2
    error = capsys.readouterr().err
    assert "--database-uri" in error
    assert "FRAUD_DASHBOARD_DATABASE_URI" in error


def test_main_rejects_bad_refresh(capsys):
    assert server.main(["--refresh-seconds", "0"]) == 2
    assert "--refresh-seconds" in capsys.readouterr().err


def test_main_serves_on_requested_address(monkeypatch, tmp_path):
    served = {}

    def fake_run(self, host, port, debug):
        served.update(host=host, port=port, debug=debug)

    monkeypatch.setattr("dash.Dash.run", fake_run)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert server.main(["--database-uri", uri, "--port", "8123"]) == 0
    assert served == {"host": "127.0.0.1", "port": 8123, "debug": False}


def test_parser_defaults():
    args = server.build_parser().parse_args([])
    assert args.host == "127.0.0.1"
    assert args.port == 8050
    assert args.database_uri is None
    assert args.debug is False


def test_cli_passes_dashboard_options(monkeypatch, tmp_path):
    from pipeline import cli

    served = {}

    def fake_run(self, host, port, debug):
        served.update(host=host, port=port)

    monkeypatch.setattr("dash.Dash.run", fake_run)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert cli.main(["dashboard", "--port", "8124", "--database-uri", uri]) == 0
    assert served == {"host": "127.0.0.1", "port": 8124}


def test_page_outputs_on_error(monkeypatch, tmp_path):
    def broken_build_page(*args):
        raise KeyError("batch_date")

    monkeypatch.setattr("dashboard.page.build_page", broken_build_page)
    config = config_for(f"sqlite:///{tmp_path / 'mlflow.db'}")
    engine = store.create_read_only_engine(config.database_uri)
    outputs = dashboard.app.page_outputs(
        engine, config, "average_precision", None, None
    )
    assert outputs[0] == "Building the page failed: KeyError('batch_date')"
    assert outputs[1] == "status status-error"
    assert outputs[2].layout.annotations[0].text == outputs[0]
