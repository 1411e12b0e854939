"""Luigi tasks of the daily pipeline. Each task is thin and calls the stage modules.

Graph for batch date D (P is the previous batch date in the landing folder):

    IncomingBatch(D) -> ValidateBatch(D) -> BatchRun(D) -> TrainCandidate(D, c) ...
    PromoteModel(P) -> ScoreBatch(D) -> PromoteModel(D) <- TrainCandidate(D, c) ...
    DailyPipeline(D) wraps PromoteModel(D); Backfill(start, end) wraps DailyPipeline.

Run one date with ``luigi --module pipeline.tasks DailyPipeline --date D --local-scheduler``.
"""

import hashlib
import json
import logging
from datetime import date, timedelta
from pathlib import Path

import luigi
import luigi.format
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline import (
    candidates,
    layout,
    monitoring,
    promotion,
    registry,
    settings,
    tracking,
    training,
)
from pipeline.features import BATCH_DATE_COLUMN, combine_batches, split_window
from pipeline.scoring import PREDICTION_COLUMNS
from pipeline.validation import BatchValidationError, validate_file

logger = logging.getLogger(__name__)


def write_json(target: luigi.LocalTarget, payload: dict) -> None:
    with target.open("w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)


def read_json(target: luigi.LocalTarget) -> dict:
    with target.open("r") as handle:
        return json.load(handle)


_logged_messages: set[str] = set()


def log_once(level: int, message: str) -> None:
    if message not in _logged_messages:
        _logged_messages.add(message)
        logger.log(level, message)


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def warn_if_batch_changed(day: date, source: str, report_target) -> None:
    """Warn once when a batch file no longer matches the file that was validated.

    Stored batches are immutable: a changed file is not read again by itself.
    """
    if not Path(source).exists():
        return
    recorded = read_json(report_target).get("sha256")
    if recorded and recorded != file_digest(source):
        log_once(
            logging.WARNING,
            f"{source} changed after it was validated on the first run of {day}; the "
            "stored batch is kept. To process the new file, delete "
            f"{layout.validated_dir(day)} and {layout.runs_dir(day)} and run the date "
            "again (its MLflow runs stay, the new ones are added).",
        )


def window_dates(batch_date: date) -> list[date]:
    """Batch dates in the training window of ``batch_date``, oldest first."""
    first = batch_date - timedelta(days=settings.fraud().window_days - 1)
    return [day for day in layout.batch_dates() if first <= day <= batch_date]


def load_window(batch_date: date) -> pd.DataFrame:
    batches = {
        day: pd.read_parquet(layout.validated_dir(day) / "transactions.parquet")
        for day in window_dates(batch_date)
    }
    return combine_batches(batches)


class BatchDateTask(luigi.Task):
    """A task of one batch date."""

    date = luigi.DateParameter(description="Batch date, YYYY-MM-DD")

    def parent_run_id(self) -> str:
        return read_json(BatchRun(date=self.date).output())["run_id"]

    def on_failure(self, exception):
        """Mark the date's parent run FAILED, so the MLflow UI shows the broken date."""
        run_file = BatchRun(date=self.date).output()
        if run_file.exists():
            try:
                tracking.configure()
                client = MlflowClient()
                run_id = read_json(run_file)["run_id"]
                client.set_tag(run_id, "fraud.failed_task", self.task_id)
                client.set_terminated(run_id, status="FAILED")
            except (MlflowException, OSError, KeyError, ValueError) as err:
                logger.error(
                    "could not mark the parent run of %s as failed: %s", self.date, err
                )
        return super().on_failure(exception)


class IncomingBatch(luigi.ExternalTask):
    """A batch file dropped into the landing folder by the upstream system."""

    date = luigi.DateParameter(description="Batch date, YYYY-MM-DD")

    def output(self):
        return luigi.LocalTarget(layout.incoming_path(self.date))


class ValidateBatch(luigi.Task):
    """Validate a batch and store accepted rows (Parquet), quarantined rows and a report."""

    date = luigi.DateParameter(description="Batch date, YYYY-MM-DD")

    def requires(self):
        return IncomingBatch(date=self.date)

    def output(self):
        folder = layout.validated_dir(self.date)
        return {
            "accepted": luigi.LocalTarget(
                folder / "transactions.parquet", format=luigi.format.Nop
            ),
            "quarantine": luigi.LocalTarget(folder / "quarantine.csv"),
            "report": luigi.LocalTarget(folder / "report.json"),
        }

    def complete(self):
        done = super().complete()
        if done:
            warn_if_batch_changed(self.date, self.input().path, self.output()["report"])
        return done

    def run(self):
        source = self.input().path
        self.set_status_message(f"validating {source}")
        result = validate_file(source)
        result.report["sha256"] = file_digest(source)
        with self.output()["quarantine"].open("w") as handle:
            result.quarantined.to_csv(handle, index=False)
        if result.accepted.empty:
            raise BatchValidationError(
                f"{source}: no row passed validation ({result.report['rows_read']} read, "
                f"{result.report['rows_quarantined']} quarantined, reasons in "
                f"{self.output()['quarantine'].path}). Replace the file with a valid "
                "batch and run the date again."
            )
        with self.output()["accepted"].open("w") as handle:
            result.accepted.to_parquet(handle, index=False)
        # The report is written last: it marks the stored batch as whole.
        write_json(self.output()["report"], result.report)
        self.set_status_message(
            f"{result.report['rows_accepted']} rows accepted, "
            f"{result.report['rows_quarantined']} quarantined"
        )


class BatchRun(luigi.Task):
    """Open the date's parent MLflow run and log the batch's health and drift."""

    date = luigi.DateParameter(description="Batch date, YYYY-MM-DD")

    def requires(self):
        days = set(window_dates(self.date)) | {self.date}
        return [ValidateBatch(date=day) for day in sorted(days)]

    def output(self):
        return luigi.LocalTarget(layout.runs_dir(self.date) / "batch.json")

    def run(self):
        experiment_id = tracking.configure()
        window = load_window(self.date)
        today = window[window[BATCH_DATE_COLUMN] == self.date]
        reference = window[window[BATCH_DATE_COLUMN] < self.date]
        report = read_json(ValidateBatch(date=self.date).output()["report"])
        metrics = monitoring.batch_health(
            report, today, reference if len(reference) else None
        )

        run_id = tracking.open_parent_run(experiment_id, self.date.isoformat())
        MlflowClient().log_batch(run_id, metrics=tracking.metric_entities(metrics))
        write_json(
            self.output(),
            {"run_id": run_id, "experiment_id": experiment_id, "metrics": metrics},
        )


class ScoreBatch(BatchDateTask):
    """Score the batch with the model that was production at the end of the previous date."""

    def requires(self):
        required = {
            "batch": BatchRun(date=self.date),
            "validated": ValidateBatch(date=self.date),
        }
        previous = layout.previous_batch_date(self.date)
        if previous is not None:
            required["previous"] = PromoteModel(date=previous)
        return required

    def output(self):
        return {
            "predictions": luigi.LocalTarget(
                layout.predictions_dir(self.date) / "predictions.csv"
            ),
            "summary": luigi.LocalTarget(layout.runs_dir(self.date) / "score.json"),
        }

    def run(self):
        experiment_id = tracking.configure()
        model_name = settings.fraud().model_name
        if "previous" in self.input():
            version_number = read_json(self.input()["previous"])[
                "production_version_after"
            ]
        else:
            current = registry.production_version(model_name)
            version_number = current.version if current else None

        parent_run_id = self.parent_run_id()
        client = MlflowClient()
        if version_number is None:
            logger.info(
                "%s: no production model yet; the batch is not scored", self.date
            )
            client.set_tag(
                parent_run_id,
                "fraud.production.model_version",
                monitoring.NO_PRODUCTION_MODEL,
            )
            predictions = pd.DataFrame(columns=PREDICTION_COLUMNS)
            summary = {"model_version": None, "run_id": None, "metrics": None}
        else:
            self.set_status_message(
                f"scoring with {model_name} version {version_number}"
            )
            version = client.get_model_version(model_name, str(version_number))
            model = registry.load_version(model_name, str(version_number))
            batch = pd.read_parquet(self.input()["validated"]["accepted"].path)
            predictions, summary = monitoring.score_batch(
                batch_date=self.date,
                batch=batch,
                model=model,
                version=version,
                experiment_id=experiment_id,
                parent_run_id=parent_run_id,
            )
            client.set_tag(
                parent_run_id, "fraud.production.model_version", str(version_number)
            )

        with self.output()["predictions"].open("w") as handle:
            predictions.to_csv(handle, index=False)
        write_json(self.output()["summary"], summary)


class TrainCandidate(BatchDateTask):
    """Train one candidate on the date's window and log it as a nested MLflow run."""

    candidate = luigi.Parameter(
        description="Name of a [candidate.NAME] section in luigi.cfg"
    )

    def requires(self):
        return BatchRun(date=self.date)

    def spec(self) -> dict:
        return settings.candidate_spec(self.candidate)

    def digest(self) -> str:
        config = settings.fraud()
        return candidates.spec_digest(
            self.spec(),
            {
                "window_days": config.window_days,
                "validation_fraction": config.validation_fraction,
                "seed": config.seed,
            },
        )

    def output(self):
        name = f"{self.candidate}-{self.digest()}.json"
        return luigi.LocalTarget(layout.runs_dir(self.date) / "candidates" / name)

    def run(self):
        config = settings.fraud()
        experiment_id = tracking.configure()
        identity = {
            tracking.BATCH_DATE: self.date.isoformat(),
            tracking.RUN_KIND: "candidate",
            tracking.CANDIDATE: self.candidate,
            tracking.SPEC_DIGEST: self.digest(),
        }
        existing = tracking.finished_run(experiment_id, identity)
        if existing is not None:
            logger.info(
                "%s %s: reusing finished run %s",
                self.date,
                self.candidate,
                existing.info.run_id,
            )
            write_json(self.output(), tracking.candidate_result(existing))
            return

        self.set_status_message(f"loading the window for {self.candidate}")
        window = load_window(self.date)
        split = split_window(window, self.date, config.validation_fraction)
        self.set_progress_percentage(20)
        self.set_status_message(f"fitting {self.candidate} on {len(split.train)} rows")
        result = training.train_candidate(
            batch_date=self.date,
            name=self.candidate,
            spec=self.spec(),
            split=split,
            run_params=training.window_params(
                split, config.window_days, config.validation_fraction
            ),
            experiment_id=experiment_id,
            parent_run_id=self.parent_run_id(),
            digest=self.digest(),
            seed=config.seed,
            data_source=str(layout.validated_dir(self.date)),
        )
        self.set_progress_percentage(100)
        self.set_status_message(
            f"average precision {result.metrics['average_precision']:.4f}"
        )
        write_json(self.output(), result.to_dict())


class PromoteModel(BatchDateTask):
    """Register the day's best candidate; make it production if it beats production."""

    def requires(self):
        return {
            "score": ScoreBatch(date=self.date),
            "candidates": {
                name: TrainCandidate(date=self.date, candidate=name)
                for name in settings.fraud().candidates
            },
        }

    def output(self):
        return luigi.LocalTarget(layout.runs_dir(self.date) / "promotion.json")

    def run(self):
        config = settings.fraud()
        tracking.configure()
        results = {
            name: read_json(target)
            for name, target in self.input()["candidates"].items()
        }
        production_version = self.current_production(config.model_name)
        split = split_window(
            load_window(self.date), self.date, config.validation_fraction
        )

        self.set_status_message("comparing the best candidate with production")
        outcome = promotion.promote(
            batch_date=self.date,
            model_name=config.model_name,
            results=results,
            production_version=production_version,
            validation=split.validation,
            margin=config.promotion_margin,
            parent_run_id=self.parent_run_id(),
        )
        MlflowClient().set_terminated(self.parent_run_id(), status="FINISHED")
        self.set_status_message(f"{outcome['decision']}: {outcome['reason']}")
        write_json(self.output(), outcome)

    def current_production(self, model_name: str) -> str | None:
        """Return the version the challenger must beat: production as it is now.

        It differs from the version that scored the batch only when the batch arrived
        after later dates had run. The gate then compares with the newer model, so a
        late batch never replaces it without beating it.
        """
        scored = read_json(self.input()["score"]["summary"])["model_version"]
        current = registry.production_version(model_name)
        if current is None:
            return scored
        if str(current.version) != str(scored):
            logger.warning(
                "%s arrived late: it was scored with version %s, but production is now "
                "version %s, so the challenger is compared with version %s",
                self.date,
                scored,
                current.version,
                current.version,
            )
        return str(current.version)


class DailyPipeline(luigi.WrapperTask):
    """Everything for one batch date."""

    date = luigi.DateParameter(description="Batch date, YYYY-MM-DD")

    def requires(self):
        return PromoteModel(date=self.date)


class Backfill(luigi.WrapperTask):
    """Every batch date from ``start`` to ``end`` that has a batch file, in date order."""

    start = luigi.DateParameter(description="First batch date, YYYY-MM-DD")
    end = luigi.DateParameter(description="Last batch date (inclusive), YYYY-MM-DD")

    def requires(self):
        available = set(layout.batch_dates())
        days = [
            self.start + timedelta(days=n)
            for n in range((self.end - self.start).days + 1)
        ]
        present = [day for day in days if day in available]
        gaps = [day for day in days if present and present[0] < day < present[-1]]
        gaps = [day.isoformat() for day in gaps if day not in available]
        # Luigi calls requires() several times per build: each message is logged once.
        if gaps:
            log_once(
                logging.WARNING,
                f"no batch file for {len(gaps)} date(s) between {present[0]} and "
                f"{present[-1]}: {', '.join(gaps[:10])}{' ...' if len(gaps) > 10 else ''}",
            )
        waiting = len([day for day in days if not present or day > present[-1]])
        if waiting:
            log_once(
                logging.INFO,
                f"waiting for the batch files of {waiting} date(s) up to {self.end}",
            )
        return [DailyPipeline(date=day) for day in days if day in available]
