"""Engines for SQLite (aiosqlite) and PostgreSQL (psycopg 3), and migrating to head."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """The driver each backend runs on: aiosqlite for SQLite, psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL {parsed.drivername!r}: use sqlite:/// or postgresql://"
    )


def sync_url(url: str) -> str:
    parsed = make_url(async_url(url))
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


DEFAULT_POOL_SIZE = 20
CONNECT_TIMEOUT_S = 10


class Database:
    """An engine and the one way to write through it.

    SQLite has one writer at a time. Write transactions start with BEGIN IMMEDIATE, so
    they take the write lock up front instead of failing when a read turns into a write
    after another process committed; and within a process writers queue on a lock,
    which avoids SQLite's busy-wait backoff (up to 100 ms a retry) between our own tasks.
    PostgreSQL needs neither.
    """

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size)
        self._writer = asyncio.Lock() if is_sqlite(url) else None
        # PostgreSQL reads run without BEGIN/ROLLBACK round trips: each is one statement
        # (or statements that need no common snapshot).
        self._reader = (
            self.engine
            if self._writer
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writer, self.engine.connect() as conn:
            immediate = await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with immediate.begin():
                yield immediate

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads."""
        return self._reader.connect()

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(async_url(url), connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A fixed pool: under overload requests wait for a connection instead of opening and
    # closing overflow connections by the hundred.
    # A connect gives up after CONNECT_TIMEOUT_S: against a host that drops packets it
    # would otherwise wait for the OS's TCP timeout (minutes), and the loops that retry
    # through an outage (store/outages.py) would stall instead of backing off.
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    event.listen(engine.sync_engine, "checkin", _note_idle_since)
    event.listen(engine.sync_engine, "checkout", _pinger(engine.sync_engine.dialect))
    return engine


# A pooled connection is pinged before use only if it has been idle this long (HikariCP's
# "alive bypass window"): one used this recently worked a moment ago. pool_pre_ping's
# round trip on every checkout was a tenth of a GET's CPU. A connection broken within the
# window fails its statement instead; that error invalidates the whole pool, so the next
# checkout connects afresh.
PING_AFTER_IDLE_S = 0.5


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _pinger(dialect: sa.Dialect) -> Callable[[Any, Any, Any], None]:
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces it (up to 3 tries) and goes on
            raise sa.exc.DisconnectionError(f"a pooled connection is dead: {error}") from error

    return ping_if_idle


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's own implicit BEGIN is off (see _sqlite_pragmas); we say which kind.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: the statements below may wait
    # WAL lets readers run beside the one writer; NORMAL sync is durable across app crashes.
    # The mode is stored in the file (migrations set it): switching needs a lock that
    # other connections may hold, so only switch when the file is not in WAL yet.
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start (it is a no-op when current)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def current_revision(database: Database) -> str | None:
    """The migration the database is at (None: not migrated)."""
    async with database.connect() as conn:
        try:
            row = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).first()
        except sa.exc.DBAPIError:
            return None
    return str(row[0]) if row else None
