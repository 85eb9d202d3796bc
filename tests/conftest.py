"""Shared fixtures: a fresh migrated database per test, on SQLite and on real PostgreSQL.

PostgreSQL: migrate once into a template database, then `CREATE DATABASE … TEMPLATE`
per test and `DROP … WITH (FORCE)` after. SQLite: migrate once into a file, copy it
per test. No test shares a database with another.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from courseforge.store.database import upgrade_database

PG_ADMIN_URL = os.environ.get(
    "COURSEFORGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEMPLATE = f"courseforge_template_{os.getpid()}"

# No test may reach a real vendor: keys from the developer's shell are dropped.
for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "COURSEFORGE_LLM_BASE_URL"):
    os.environ.pop(variable, None)


def _pg_url(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {TEMPLATE}")
    upgrade_database(_pg_url(TEMPLATE))
    yield TEMPLATE
    _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "courseforge.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    yield from _fresh_pg_database(request.getfixturevalue("pg_template"))


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    """For behaviour only PostgreSQL has (LISTEN/NOTIFY, several processes on one server)."""
    yield from _fresh_pg_database(pg_template)


def _fresh_pg_database(template: str) -> Iterator[str]:
    name = f"cf_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield _pg_url(name)
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """For tests about behaviour that does not depend on the database (CLI, local model)."""
    target = tmp_path / "courseforge.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"
