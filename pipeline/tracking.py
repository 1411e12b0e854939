"""MLflow set-up and the run lookups that make every task safe to re-run.

Each run carries the tags listed in docs/tracking.md. Before a task starts a run it looks
for a finished run with the same identifying tags and reuses it, so re-running a date
creates no duplicates. A run left RUNNING by an interrupted attempt is marked FAILED.
"""

import logging
import subprocess
import time
from functools import cache

import mlflow
from mlflow.entities import Metric, Run, RunStatus
from mlflow.tracking import MlflowClient

from pipeline import settings

logger = logging.getLogger(__name__)

TAG_PREFIX = "fraud."
BATCH_DATE = "fraud.batch_date"
RUN_KIND = "fraud.run_kind"
CANDIDATE = "fraud.candidate"
SPEC_DIGEST = "fraud.spec_digest"
CODE_VERSION = "fraud.code_version"
SEED = "fraud.seed"


@cache
def code_version() -> str:
    """Return the git commit of the project, with ``-dirty`` for local changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=settings.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if status else commit


def uses_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def configure() -> str:
    """Point MLflow at the configured store and return the experiment id.

    A server decides where artifacts go. With a database URI (the embedded SQLite store
    or a direct PostgreSQL URI) the experiment keeps its artifacts in the data folder
    instead of MLflow's default of ./mlruns under whatever folder the task runs in.
    """
    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        settings.local_artifact_root().mkdir(parents=True, exist_ok=True)
    name = settings.experiment_name()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        artifact_location = None
        if not uses_server(uri):
            artifact_location = settings.local_artifact_root().as_uri()
        experiment_id = mlflow.create_experiment(
            name, artifact_location=artifact_location
        )
        logger.info("created MLflow experiment %s (%s) in %s", name, experiment_id, uri)
        return experiment_id
    if experiment.lifecycle_stage != "active":
        raise RuntimeError(
            f"MLflow experiment {name!r} is deleted; restore it in the MLflow UI "
            "or set MLFLOW_EXPERIMENT_NAME to another name"
        )
    return experiment.experiment_id


def common_tags(batch_date: str, run_kind: str) -> dict[str, str]:
    return {
        BATCH_DATE: batch_date,
        RUN_KIND: run_kind,
        CODE_VERSION: code_version(),
        SEED: str(settings.fraud().seed),
    }


def find_runs(experiment_id: str, tags: dict[str, str]) -> list[Run]:
    """Active runs whose tags include ``tags``, newest first."""
    clauses = [f"tags.`{key}` = '{value}'" for key, value in tags.items()]
    return MlflowClient().search_runs(
        [experiment_id],
        filter_string=" and ".join(clauses),
        order_by=["attributes.start_time DESC"],
    )


def finished_run(experiment_id: str, tags: dict[str, str]) -> Run | None:
    """Return the finished run with these tags, after failing any unfinished ones."""
    client = MlflowClient()
    finished = None
    for run in find_runs(experiment_id, tags):
        if (
            run.info.status == RunStatus.to_string(RunStatus.FINISHED)
            and finished is None
        ):
            finished = run
        elif run.info.status == RunStatus.to_string(RunStatus.RUNNING):
            logger.warning(
                "marking interrupted run %s (%s) as FAILED", run.info.run_id, tags
            )
            client.set_terminated(run.info.run_id, status="FAILED")
    return finished


def open_parent_run(experiment_id: str, batch_date: str) -> str:
    """Return the id of the date's parent run, creating it on the first attempt.

    A parent run left FAILED by an earlier attempt is reopened, so a resumed date keeps
    all its runs under one parent.
    """
    client = MlflowClient()
    existing = find_runs(experiment_id, {BATCH_DATE: batch_date, RUN_KIND: "batch"})
    if existing:
        run = existing[0]
        if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
            client.update_run(run.info.run_id, status="RUNNING")
        logger.info("reopened parent run %s of %s", run.info.run_id, batch_date)
        return run.info.run_id
    run = client.create_run(
        experiment_id,
        run_name=f"batch-{batch_date}",
        tags=common_tags(batch_date, "batch"),
    )
    logger.info("opened parent run %s of %s", run.info.run_id, batch_date)
    return run.info.run_id


def metric_entities(metrics: dict[str, float]) -> list[Metric]:
    """Turn a metrics dict into entities for one ``log_batch`` call at step 0."""
    timestamp = int(time.time() * 1000)
    return [Metric(key, float(value), timestamp, 0) for key, value in metrics.items()]


def candidate_result(run: Run) -> dict:
    """Rebuild a candidate task's output from its finished MLflow run."""
    models = MlflowClient().search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    if not models:
        raise RuntimeError(
            f"finished run {run.info.run_id} has no logged model; delete the run in the "
            "MLflow UI so that the candidate is trained again"
        )
    return {
        "run_id": run.info.run_id,
        "model_uri": models[0].model_uri,
        "metrics": dict(run.data.metrics),
    }
