"""Alembic environment: runs migrations on a sync connection of the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from courseforge.store.tables import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by courseforge.store.database.alembic_config"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
