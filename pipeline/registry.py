"""The production model in the MLflow registry and the gate a challenger must pass."""

import logging
import math
import warnings
from dataclasses import asdict, dataclass

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

PRODUCTION_ALIAS = "production"
PRODUCTION_STAGE = "Production"


@dataclass
class GateDecision:
    """Outcome of comparing the best candidate with the production model."""

    decision: str
    reason: str
    challenger_average_precision: float
    production_average_precision: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def production_version(model_name: str) -> ModelVersion | None:
    """Return the version behind ``models:/<model_name>@production``, or None."""
    client = MlflowClient()
    try:
        return client.get_model_version_by_alias(model_name, PRODUCTION_ALIAS)
    except MlflowException as err:
        if err.error_code in (
            "RESOURCE_DOES_NOT_EXIST",
            "INVALID_PARAMETER_VALUE",
            "NOT_FOUND",
        ):
            return None
        raise


def load_version(model_name: str, version: str):
    """Load registry version ``version`` as a scikit-learn estimator."""
    return mlflow.sklearn.load_model(f"models:/{model_name}/{version}")


def decide(
    challenger_ap: float, production_ap: float | None, margin: float
) -> GateDecision:
    """Apply the promotion gate: the first model wins, later ones must beat production by ``margin``."""
    if challenger_ap is None or math.isnan(challenger_ap):
        return GateDecision(
            "skipped",
            "the challenger's validation average precision is undefined (no fraud rows in validation)",
            challenger_ap,
            production_ap,
        )
    if production_ap is None:
        return GateDecision("promoted", "no production model yet", challenger_ap, None)
    if challenger_ap > production_ap + margin:
        return GateDecision(
            "promoted",
            f"challenger {challenger_ap:.4f} beats production {production_ap:.4f} by more than {margin}",
            challenger_ap,
            production_ap,
        )
    return GateDecision(
        "rejected",
        f"challenger {challenger_ap:.4f} does not beat production {production_ap:.4f} by more than {margin}",
        challenger_ap,
        production_ap,
    )


def find_version(model_name: str, run_id: str) -> ModelVersion | None:
    """Return the version already registered from ``run_id``, so a retry registers nothing new."""
    client = MlflowClient()
    try:
        versions = client.search_model_versions(
            f"name = '{model_name}' and run_id = '{run_id}'"
        )
    except MlflowException:
        return None
    return versions[0] if versions else None


def register(
    model_name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> ModelVersion:
    """Register the logged model of ``run_id`` (the evaluated artifact, never a refit)."""
    client = MlflowClient()
    version = find_version(model_name, run_id)
    if version is None:
        try:
            client.create_registered_model(model_name)
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        # A logged model's URI is models:/<model id>. A tracking server rejects it as a
        # source unless the model id is passed too; the SQLite store accepts either.
        model_id = None
        if model_uri.startswith("models:/"):
            model_id = model_uri.removeprefix("models:/")
        version = client.create_model_version(
            model_name, model_uri, run_id=run_id, tags=tags, model_id=model_id
        )
        logger.info(
            "registered %s version %s from run %s", model_name, version.version, run_id
        )
    else:
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version.version, key, value)
    return version


def make_production(model_name: str, version: str) -> None:
    """Point the ``production`` alias at ``version`` and keep the legacy stage in step."""
    client = MlflowClient()
    client.set_registered_model_alias(model_name, PRODUCTION_ALIAS, version)
    # Stages are deprecated since MLflow 2.9 in favour of aliases, but the MLflow UI still
    # shows them, so the legacy "Production" stage follows the alias for UI users.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*stage.*")
        client.transition_model_version_stage(
            model_name, version, PRODUCTION_STAGE, archive_existing_versions=True
        )
    logger.info("%s version %s is now production", model_name, version)
