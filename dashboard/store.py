"""Read-only access to the MLflow backend store (the tracking database).

The dashboard reads MLflow's tables with SQL instead of going through a tracking
server, so it needs the database URI itself. It comes from, in order: an explicit
``--database-uri``, the ``FRAUD_DASHBOARD_DATABASE_URI`` variable, or the tracking URI
of the pipeline (``MLFLOW_TRACKING_URI`` or the embedded SQLite store).
"""

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pipeline import settings

logger = logging.getLogger(__name__)

DATABASE_URI_VARIABLE = "FRAUD_DASHBOARD_DATABASE_URI"

# Seconds to wait for PostgreSQL to accept a connection, and the maximum run time of
# one statement, so that a stuck database shows as an error instead of a hung page.
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 30_000

# MLflow creates these tables together; without them the store has never been used.
REQUIRED_TABLES = ("experiments", "runs", "tags", "latest_metrics", "model_versions")


class StoreConfigError(ValueError):
    """The database URI is missing, unsupported or invalid."""


def translate_uri(uri: str) -> str:
    """Return the SQLAlchemy URI of the database behind a tracking or database URI.

    ``sqlite:///`` URIs stay as they are. ``postgresql://`` and ``postgres://`` become
    ``postgresql+psycopg2://``, because SQLAlchemy 2.1 maps the bare scheme to psycopg 3,
    which the project does not install. Raise StoreConfigError for any other scheme.
    """
    text = uri.strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("http", "https"):
        raise StoreConfigError(
            f"the tracking URI {text!r} is an MLflow server, which gives no access to its "
            f"database; pass --database-uri or set {DATABASE_URI_VARIABLE} to the URI of "
            "the server's backend store (sqlite:///... or postgresql://...)"
        )
    try:
        url = make_url(text)
    except ArgumentError as err:
        raise StoreConfigError(
            f"invalid database URI {text!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE"
        ) from err

    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise StoreConfigError(
                f"the SQLite URI {text!r} names no database file; "
                "use sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return url.render_as_string(hide_password=False)

    if url.get_backend_name() in ("postgresql", "postgres"):
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg2")
        return url.render_as_string(hide_password=False)

    raise StoreConfigError(
        f"unsupported database URI {url.render_as_string(hide_password=True)!r}: "
        "the dashboard reads SQLite (sqlite:///...) and PostgreSQL (postgresql://...) "
        "MLflow stores"
    )


def resolve_database_uri(explicit: str | None = None) -> str:
    """Pick the database URI (see the module docstring) and translate it."""
    if explicit:
        return translate_uri(explicit)
    configured = os.environ.get(DATABASE_URI_VARIABLE)
    if configured:
        return translate_uri(configured)
    return translate_uri(settings.tracking_uri())


def display_uri(database_uri: str) -> str:
    """Return the URI with any password masked, for pages and logs."""
    return make_url(database_uri).render_as_string(hide_password=True)


def sqlite_path(database_uri: str) -> Path | None:
    """Return the database file of a SQLite URI, or None for other databases."""
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite":
        return None
    return Path(url.database).expanduser().resolve()


def create_read_only_engine(database_uri: str) -> Engine:
    """Create an engine whose connections cannot write to the store.

    SQLite files open with ``mode=ro``, which also means a missing file is never
    created. PostgreSQL sessions start with ``default_transaction_read_only=on``.
    """
    url: URL = make_url(database_uri)
    path = sqlite_path(database_uri)
    if path is not None:
        read_only_uri = f"{path.as_uri()}?mode=ro"

        def connect_read_only() -> sqlite3.Connection:
            return sqlite3.connect(read_only_uri, uri=True, check_same_thread=False)

        return sa.create_engine("sqlite://", creator=connect_read_only)

    options = (
        "-c default_transaction_read_only=on "
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    )
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": options},
    )


@dataclass(frozen=True)
class StoreStatus:
    """Result of a store probe: whether the database responds and has MLflow's tables."""

    reachable: bool
    initialized: bool
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "reachable": self.reachable,
            "initialized": self.initialized,
            "error": self.error,
        }


def probe(engine: Engine, database_uri: str) -> StoreStatus:
    """Check that the store responds and has MLflow's tables.

    A SQLite file that does not exist yet, and a database without MLflow's tables
    (such as a fresh PostgreSQL database), count as reachable but not initialized:
    that is the state of every store before the first pipeline run.
    """
    path = sqlite_path(database_uri)
    if path is not None and not path.exists():
        return StoreStatus(reachable=True, initialized=False)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            initialized = all(inspector.has_table(name) for name in REQUIRED_TABLES)
    except SQLAlchemyError as err:
        message = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        _log_outage(database_uri, message)
        return StoreStatus(reachable=False, initialized=False, error=message)
    _log_outage(database_uri, None)
    return StoreStatus(reachable=True, initialized=initialized)


# Last probe error per database URI, so that a page refreshing every minute during an
# outage logs the outage once, and once more when the error changes or the store is back.
_last_errors: dict[str, str | None] = {}


def _log_outage(database_uri: str, error: str | None) -> None:
    previous = _last_errors.get(database_uri)
    _last_errors[database_uri] = error
    if error is not None and error != previous:
        logger.warning(
            "MLflow store %s is unreachable: %s", display_uri(database_uri), error
        )
    elif error is None and previous is not None:
        logger.info("MLflow store %s is reachable again", display_uri(database_uri))
