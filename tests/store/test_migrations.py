"""Migrations and table definitions agree, and every migration runs down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from courseforge.store.database import alembic_config, sync_url, upgrade_database
from courseforge.store.tables import metadata


def test_the_migrated_schema_matches_the_table_definitions(postgres_url: str) -> None:
    engine = sa.create_engine(sync_url(postgres_url))
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def table_names(database_url: str) -> set[str]:
    engine = sa.create_engine(sync_url(database_url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_go_down_to_nothing_and_up_again(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
    assert table_names(database_url) <= {"alembic_version"}

    upgrade_database(database_url)

    expected = {"jobs", "job_units", "job_events", "llm_calls", "users", "organizations"}
    assert expected | {"courses", "course_versions"} <= table_names(database_url)
