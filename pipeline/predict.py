"""Score any creditcard.csv-layout file with the production model."""

import logging
import sys
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline import registry, scoring, settings, tracking
from pipeline.validation import validate_file

logger = logging.getLogger(__name__)


class ModelNotFoundError(RuntimeError):
    """The registry has no production model, or not the requested version."""


def predict_file(source: Path, output: Path | None, version: str | None = None) -> int:
    """Write predictions for ``source`` to ``output`` (CSV) or stdout.

    Rows that fail validation are not scored: they are written to
    ``<output>.quarantine.csv`` (or stderr) with the reason, and the command exits 3.
    """
    tracking.configure()
    model_name = settings.fraud().model_name
    if version is None:
        current = registry.production_version(model_name)
        if current is None:
            raise ModelNotFoundError(
                f"registered model {model_name!r} has no production version in "
                f"{settings.tracking_uri()}; run 'fraud-pipeline backfill' first"
            )
        version = current.version
    try:
        model_version = MlflowClient().get_model_version(model_name, str(version))
    except MlflowException as err:
        raise ModelNotFoundError(
            f"version {version!r} of registered model {model_name!r} not found in "
            f"{settings.tracking_uri()}: {err.message}"
        ) from err
    threshold = float(model_version.tags.get("fraud.threshold", 0.5))

    batch = validate_file(source, require_label=False)
    model = registry.load_version(model_name, str(version))
    probability = scoring.fraud_probability(model, batch.accepted)
    predictions = scoring.predictions_frame(
        batch.accepted, probability, threshold, str(version)
    )

    if output is None:
        predictions.to_csv(sys.stdout, index=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(output, index=False)
        logger.info(
            "wrote %d predictions of %s v%s to %s",
            len(predictions),
            model_name,
            version,
            output,
        )

    if batch.quarantined.empty:
        return 0
    if output is None:
        print("Rows not scored:", file=sys.stderr)
        batch.quarantined.to_csv(sys.stderr, index=False)
    else:
        quarantine_path = output.with_name(output.stem + ".quarantine.csv")
        batch.quarantined.to_csv(quarantine_path, index=False)
        logger.warning(
            "%d rows not scored; reasons in %s", len(batch.quarantined), quarantine_path
        )
    return 3
