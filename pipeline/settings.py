"""Paths and settings shared by the tasks, the command line and the dashboard.

Task parameters come from luigi.cfg (section ``[fraud]`` and one ``[candidate.NAME]``
section per candidate). Tracking follows the standard MLflow variables: with
``MLFLOW_TRACKING_URI`` unset, runs go to a SQLite store under the data folder.
"""

import json
import os
from datetime import date
from pathlib import Path

import luigi
import luigi.configuration

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_CONFIG = PROJECT_ROOT / "luigi.cfg"
DATA_DIR_VARIABLE = "FRAUD_DATA_DIR"


class SettingsError(ValueError):
    """A setting in luigi.cfg or the environment is missing or invalid."""


def load_project_config() -> None:
    """Make Luigi read the project's luigi.cfg unless LUIGI_CONFIG_PATH names another."""
    if "LUIGI_CONFIG_PATH" not in os.environ and PROJECT_CONFIG.exists():
        luigi.configuration.add_config_path(str(PROJECT_CONFIG))


load_project_config()


class fraud(luigi.Config):  # noqa: N801 - Luigi names the config section after the class
    """The ``[fraud]`` section of luigi.cfg."""

    experiment_name = luigi.Parameter(description="MLflow experiment of the daily runs")
    model_name = luigi.Parameter(
        description="Registered model name in the MLflow registry"
    )
    hours_per_day = luigi.FloatParameter(
        description="Hours of the source's Time column that make one simulated day"
    )
    start_date = luigi.DateParameter(
        description="Date given to the first simulated day"
    )
    window_days = luigi.IntParameter(
        description="Number of dates up to the batch date that form the training window"
    )
    validation_fraction = luigi.FloatParameter(
        description="Latest fraction of the batch date's rows held out for validation"
    )
    promotion_margin = luigi.FloatParameter(
        description="Average precision a challenger must gain over production"
    )
    seed = luigi.IntParameter(description="Random seed of every candidate")
    candidates = luigi.ListParameter(
        description="Names of the [candidate.NAME] sections"
    )


def data_dir() -> Path:
    """Return the data folder: FRAUD_DATA_DIR, or ./data."""
    return Path(os.environ.get(DATA_DIR_VARIABLE, "data")).resolve()


def tracking_uri() -> str:
    """Return MLFLOW_TRACKING_URI, or a SQLite store in the data folder."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def uses_embedded_store() -> bool:
    """Tell whether tracking goes to the default SQLite store, with local artifacts."""
    return not os.environ.get("MLFLOW_TRACKING_URI")


def local_artifact_root() -> Path:
    """Return where the embedded store keeps artifacts."""
    return data_dir() / "mlflow" / "artifacts"


def experiment_name() -> str:
    """Return MLFLOW_EXPERIMENT_NAME, or ``experiment_name`` from luigi.cfg."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or fraud().experiment_name


def candidate_spec(name: str) -> dict:
    """Read the ``[candidate.NAME]`` section: ``{"estimator": str, "params": dict}``."""
    section = f"candidate.{name}"
    config = luigi.configuration.get_config()
    if not config.has_section(section):
        raise SettingsError(
            f"candidate {name!r} is listed in [fraud] candidates but luigi.cfg has no "
            f"[{section}] section; add one with 'estimator' and 'params'"
        )
    estimator = config.get(section, "estimator", None)
    if not estimator:
        raise SettingsError(f"[{section}] in luigi.cfg is missing 'estimator'")
    raw_params = config.get(section, "params", "{}")
    try:
        params = json.loads(raw_params)
    except json.JSONDecodeError as err:
        raise SettingsError(
            f"[{section}] params in luigi.cfg is not valid JSON ({err}): {raw_params!r}"
        ) from err
    if not isinstance(params, dict):
        raise SettingsError(f"[{section}] params in luigi.cfg must be a JSON object")
    return {"estimator": estimator, "params": params}


def parse_date(text: str) -> date:
    """Parse an ISO date (YYYY-MM-DD) given on the command line or in a file name."""
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise SettingsError(f"invalid date {text!r}: expected YYYY-MM-DD") from err


def validate_config() -> None:
    """Check luigi.cfg's [fraud] and candidate sections before any task starts.

    Raises SettingsError naming the file, section and key of the first invalid value.
    """
    from pipeline import candidates

    try:
        config = fraud()
    except (ValueError, luigi.parameter.MissingParameterException) as err:
        raise SettingsError(f"[fraud] in {config_files()}: {err}") from err
    checks = [
        ("window_days", config.window_days >= 1, "a whole number of days, at least 1"),
        ("hours_per_day", config.hours_per_day > 0, "a positive number of hours"),
        (
            "validation_fraction",
            0 < config.validation_fraction < 1,
            "a fraction between 0 and 1 (exclusive)",
        ),
        ("promotion_margin", config.promotion_margin >= 0, "zero or a positive number"),
        ("candidates", len(config.candidates) > 0, "a JSON list of at least one name"),
    ]
    for key, valid, expected in checks:
        if not valid:
            raise SettingsError(
                f"[fraud] {key} = {getattr(config, key)!r} in {config_files()} is "
                f"invalid: expected {expected}"
            )
    for name in config.candidates:
        spec = candidate_spec(name)
        candidates.check_spec(name, spec)


def config_files() -> str:
    """Name the luigi.cfg in use, for error messages."""
    return os.environ.get("LUIGI_CONFIG_PATH") or str(PROJECT_CONFIG)
