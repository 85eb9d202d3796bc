"""PostgreSQL's pool pings a connection before use only after it sat idle a while: a dead
one is then replaced unseen; one that died within the window fails once, and the pool
connects afresh."""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from courseforge.store import database as database_module
from courseforge.store.database import Database


async def backend_pid(database: Database) -> int:
    async with database.connect() as conn:
        return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


def terminate(postgres_url: str, pid: int) -> None:
    """Ends the server side of one pooled connection, and waits until it is gone."""
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)


@pytest.fixture
async def database(postgres_url: str) -> Database:
    return Database(postgres_url, pool_size=1)  # one connection: the one we kill


async def test_an_idle_connection_that_died_is_replaced_unseen(
    database: Database, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_S", 0.0)  # every checkout is "idle"
    try:
        first = await backend_pid(database)
        terminate(postgres_url, first)

        second = await backend_pid(database)
    finally:
        await database.dispose()
    assert second != first


async def test_a_connection_that_died_within_the_window_fails_once(
    database: Database, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_S", 3600.0)  # never pinged
    try:
        first = await backend_pid(database)
        terminate(postgres_url, first)

        with pytest.raises(sa.exc.DBAPIError) as failed:
            await backend_pid(database)
        assert failed.value.connection_invalidated
        second = await backend_pid(database)
    finally:
        await database.dispose()
    assert second != first


async def test_a_host_that_never_answers_fails_the_connect_within_its_timeout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts the TCP connection and then says nothing (a host dropping
    packets looks the same): the connect gives up, so retry loops back off, not hang."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes handshakes; nobody ever reads or writes
    monkeypatch.setattr(database_module, "CONNECT_TIMEOUT_S", 2)  # libpq's minimum
    port = silent.getsockname()[1]
    database = Database(make_url(postgres_url).set(port=port).render_as_string(False))
    started = time.monotonic()
    try:
        with pytest.raises(sa.exc.OperationalError, match="timeout"):
            await backend_pid(database)
    finally:
        await database.dispose()
        silent.close()
    assert time.monotonic() - started < 10
