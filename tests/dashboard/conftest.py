"""Fixtures of the dashboard tests: MLflow stores and headless Chromium.

``write_contract_store`` fills a store with the MlflowClient exactly as docs/tracking.md
describes, with chosen edge cases (a failed date, a deleted run). PostgreSQL databases
come from the suite-wide ``postgres_database`` factory in tests/conftest.py, which fails
when the server is missing. Browser tests skip when Chromium is missing, except under
CI=true, where they fail.
"""

import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from pipeline.evaluation import METRIC_NAMES
from pipeline.schema import FEATURE_COLUMNS
from tests.support import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

FEATURES = FEATURE_COLUMNS
CANDIDATE_METRICS = [*METRIC_NAMES, "training_seconds"]


def browser_available() -> bool:
    return os.access(CHROMIUM, os.X_OK) and shutil.which(CHROMEDRIVER) is not None


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser"):
        require_service(browser_available(), f"needs {CHROMIUM} and {CHROMEDRIVER}")


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    return options


@dataclass
class ContractStore:
    """A store written by write_contract_store, with the ids tests check against."""

    tracking_uri: str
    experiment_name: str
    model_name: str
    dates: list[str]
    candidates: list[str]
    batch_run_ids: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)
    production_after: dict[str, str | None] = field(default_factory=dict)
    deleted_run_ids: list[str] = field(default_factory=list)
    failed_dates: list[str] = field(default_factory=list)


def _log(client: MlflowClient, run_id: str, values: dict[str, float]) -> None:
    now = 1_700_000_000_000
    metrics = [Metric(key, float(value), now, 0) for key, value in values.items()]
    client.log_batch(run_id, metrics=metrics)


def _scores(rng: np.random.Generator, quality: float) -> dict[str, float]:
    average_precision = float(np.clip(quality + rng.normal(0, 0.03), 0.05, 0.99))
    precision = float(np.clip(average_precision + rng.normal(0, 0.05), 0.01, 1))
    recall = float(np.clip(average_precision + rng.normal(0, 0.05), 0.01, 1))
    return {
        "average_precision": average_precision,
        "roc_auc": float(np.clip(0.9 + rng.normal(0, 0.03), 0.5, 1)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "mcc": average_precision * 0.9,
        "threshold": 0.5,
        "true_positives": 20,
        "false_positives": 5,
        "true_negatives": 2000,
        "false_negatives": 4,
        "amount_caught": float(rng.uniform(500, 3000)),
        "amount_missed": float(rng.uniform(0, 500)),
        "training_seconds": float(rng.uniform(0.5, 5)),
    }


def write_contract_store(
    tracking_uri: str,
    dates: int = 5,
    candidates: tuple[str, ...] = ("logistic_regression", "random_forest", "xgboost"),
    failed_last_date: bool = False,
    delete_one_candidate_run: bool = False,
    experiment_name: str = "fraud-detection",
    model_name: str = "fraud-detector",
    margin: float = 0.005,
    seed: int = 7,
) -> ContractStore:
    """Write ``dates`` batch dates of runs and registry versions as in docs/tracking.md.

    With ``failed_last_date`` the last date's parent run ends FAILED after validation,
    without candidates or a gate decision. With ``delete_one_candidate_run`` the first
    candidate run of the second date is deleted (lifecycle_stage 'deleted').
    """
    rng = np.random.default_rng(seed)
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(experiment_name)
    client.create_registered_model(model_name)
    first = date(2013, 9, 1)
    written = ContractStore(
        tracking_uri, experiment_name, model_name, [], list(candidates)
    )
    production: tuple[str, str, float] | None = None
    quality = {name: 0.55 + 0.1 * index for index, name in enumerate(candidates)}

    for index in range(dates):
        day = (first + timedelta(days=index)).isoformat()
        written.dates.append(day)
        base_tags = {
            "fraud.batch_date": day,
            "fraud.code_version": "test",
            "fraud.seed": "42",
        }
        parent = client.create_run(
            experiment_id,
            tags={**base_tags, "fraud.run_kind": "batch"},
            run_name=f"batch-{day}",
        ).info.run_id
        written.batch_run_ids[day] = parent
        rows = int(rng.integers(2000, 3000))
        quarantined = int(rng.integers(0, 30))
        batch_metrics = {
            "batch_rows": rows,
            "batch_accepted_rows": rows - quarantined,
            "batch_quarantined_rows": quarantined,
            "batch_fraud_rate": float(rng.uniform(0.001, 0.004)),
        }
        if index > 0:
            for number, feature in enumerate(FEATURES):
                drift = 0.02 + 0.01 * index * (number % 5 == 0)
                batch_metrics[f"psi_{feature}"] = float(abs(rng.normal(drift, 0.01)))
            batch_metrics["psi_V14"] = 0.05 * index
        _log(client, parent, batch_metrics)
        production_tag = production[0] if production else "none"
        client.set_tag(parent, "fraud.production.model_version", production_tag)

        if failed_last_date and index == dates - 1:
            client.set_terminated(parent, status="FAILED")
            written.failed_dates.append(day)
            written.production_after[day] = production[0] if production else None
            continue

        child_tags = {**base_tags, "mlflow.parentRunId": parent}
        if production is not None:
            version, source, _ = production
            scored = client.create_run(
                experiment_id,
                tags={
                    **child_tags,
                    "fraud.run_kind": "production_score",
                    "fraud.candidate": "production",
                    "fraud.model_version": version,
                    "fraud.production.candidate": source,
                },
                run_name=f"{day}-production",
            ).info.run_id
            _log(client, scored, _scores(rng, quality[source] - 0.05))
            client.set_terminated(scored)

        results = {}
        for name in candidates:
            run_id = client.create_run(
                experiment_id,
                tags={
                    **child_tags,
                    "fraud.run_kind": "candidate",
                    "fraud.candidate": name,
                    "fraud.estimator": name,
                    "fraud.spec_digest": "digest",
                },
                run_name=f"{day}-{name}",
            ).info.run_id
            scores = _scores(rng, quality[name] + 0.02 * index)
            _log(client, run_id, scores)
            client.set_terminated(run_id)
            results[name] = (run_id, scores["average_precision"])
            if delete_one_candidate_run and index == 1 and name == candidates[0]:
                client.delete_run(run_id)
                written.deleted_run_ids.append(run_id)

        best = max(results, key=lambda name: results[name][1])
        best_run, challenger_ap = results[best]
        production_ap = production[2] if production else None
        if production_ap is None:
            decision, reason = "promoted", "no production model yet"
        elif challenger_ap > production_ap + margin:
            decision, reason = (
                "promoted",
                f"challenger beats production by more than {margin}",
            )
        else:
            decision, reason = (
                "rejected",
                f"challenger does not beat production by {margin}",
            )
        version = client.create_model_version(
            model_name,
            f"runs:/{best_run}/model",
            run_id=best_run,
            tags={
                "fraud.batch_date": day,
                "fraud.candidate": best,
                "fraud.promotion.decision": decision,
                "fraud.promotion.reason": reason,
                "fraud.promotion.challenger_average_precision": str(challenger_ap),
                "fraud.promotion.production_average_precision": str(production_ap),
                "fraud.threshold": "0.5",
            },
        ).version
        if decision == "promoted":
            client.set_registered_model_alias(model_name, "production", version)
            production = (str(version), best, challenger_ap)

        promotion = {"promotion_challenger_average_precision": challenger_ap}
        if production_ap is not None and not math.isnan(production_ap):
            promotion["promotion_production_average_precision"] = production_ap
        _log(client, parent, promotion)
        for key, value in {
            "fraud.promotion.decision": decision,
            "fraud.promotion.reason": reason,
            "fraud.promotion.candidate": best,
            "fraud.promotion.model_version": str(version),
        }.items():
            client.set_tag(parent, key, value)
        client.set_terminated(parent)
        written.decisions[day] = decision
        written.production_after[day] = production[0] if production else None
    return written


@pytest.fixture(scope="session")
def contract_store(tmp_path_factory) -> ContractStore:
    """A SQLite store with five good dates, a failed sixth date and a deleted run."""
    folder = tmp_path_factory.mktemp("contract-store")
    return write_contract_store(
        f"sqlite:///{folder / 'mlflow.db'}",
        dates=6,
        failed_last_date=True,
        delete_one_candidate_run=True,
    )


@pytest.fixture(scope="session")
def one_date_store(tmp_path_factory) -> ContractStore:
    """A SQLite store with a single batch date, so no drift and no production score."""
    folder = tmp_path_factory.mktemp("one-date-store")
    return write_contract_store(f"sqlite:///{folder / 'mlflow.db'}", dates=1)


@pytest.fixture(scope="session")
def empty_postgres_database(postgres_database) -> str:
    """A fresh PostgreSQL database without MLflow's tables."""
    return postgres_database("dashboard_empty")


@pytest.fixture(scope="session")
def postgres_contract_store(postgres_database) -> ContractStore:
    """The same records as contract_store, in a PostgreSQL database."""
    return write_contract_store(
        postgres_database("dashboard_contract"),
        dates=6,
        failed_last_date=True,
        delete_one_candidate_run=True,
    )


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def any_contract_store(request) -> ContractStore:
    """contract_store, then postgres_contract_store."""
    if request.param == "sqlite":
        return request.getfixturevalue("contract_store")
    return request.getfixturevalue("postgres_contract_store")
