"""The one place that wires ibmflow together: settings, database, clock, documents, definitions."""

from __future__ import annotations

from ibmflow.clock import Clock, SystemClock
from ibmflow.config import Settings, load_settings
from ibmflow.definitions import load_folder
from ibmflow.documents import DocumentStore
from ibmflow.services.context import Context
from ibmflow.storage.db import Database


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Context:
    """Build a Context; nothing connects until a command runs."""
    settings = settings or load_settings()
    db = Database(settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return Context(
        settings=settings,
        db=db,
        clock=clock or SystemClock(),
        documents=DocumentStore(settings.documents_dir),
        load_workflows=lambda: load_folder(settings.workflows_dir),
    )
