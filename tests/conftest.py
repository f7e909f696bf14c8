"""Shared fixtures: a fixed clock, real SQLite files, fresh databases on the machine's PostgreSQL, and
axe-core (the accessibility checker the browser tests inject), installed from npm on first use."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from axecore import install_axe
from hypothesis import settings
from webconsole import site  # noqa: F401  (the console on a real server, with accounts)
from webserver import start  # noqa: F401  (the web tests' real server)

from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services.context import Context
from ibmflow.storage import migrate
from ibmflow.testing import FixedClock

# Speed is measured in bench/, never by a test: Hypothesis's per-example deadline (200 ms) failed a
# mail-folding test on a machine loaded by two test runs at once (290 ms an example). Off for all.
settings.register_profile("ibmflow", deadline=None)
settings.load_profile("ibmflow")

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "workflows"
A11Y = REPO / "tests" / "a11y"  # package.json and package-lock.json pin axe-core
PG_ADMIN = os.environ.get("IBMFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin() -> str:
    """The PostgreSQL maintenance URL; skips (or fails under CI) when the server is down."""
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI but unreachable at {PG_ADMIN}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN}: {problem}")
    return PG_ADMIN


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"ibmflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A real database, once as an SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ibmflow.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at Monday 5 January 2026, 09:00 UTC."""
    return FixedClock()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment variables pointing ibmflow at a test's database and data folder."""
    return {
        "IBMFLOW_DATABASE_URL": database_url,
        "IBMFLOW_PATHS_DATA_DIR": str(tmp_path / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(WORKFLOWS),
        "IBMFLOW_PATHS_NOTIFICATIONS_DIR": str(REPO / "notifications"),
        # Who the command-line tests act as: `cli:NAME` is known without any roster or account.
        "IBMFLOW_CLI_ACTOR": "cli:coordinator",
    }


@pytest.fixture
def ctx(env: dict[str, str], clock: FixedClock, tmp_path: Path) -> Iterator[Context]:
    """A wired ibmflow on a migrated database, its clock fixed."""
    settings = load_settings(config_path=REPO / "config.toml", environ=env)
    context = bootstrap(settings, clock=clock)
    migrate.upgrade(context.db)
    yield context
    context.db.dispose()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's `axe.min.js`, at the version tests/a11y/package-lock.json pins, installed on first
    use (kept in tests/a11y/node_modules); skips without npm, except under CI=true where it fails."""
    return install_axe(A11Y, os.environ, shutil.which("npm"))
