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
        if connection.dialect.name == "sqlite":
            # Persisted in the file: every later connection finds WAL already on.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.commit()  # end the autobegun transaction: alembic opens its own
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    if engine.dialect.name == "sqlite":
        # Fold the log into the file, so a copy of the file alone is the whole schema.
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    engine.dispose()


run_migrations()
