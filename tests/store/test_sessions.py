"""Browser sessions on SQLite and PostgreSQL: stored hashed, idle and absolute expiry on a
fake clock, logout, and `revoke_access` ending every session of the user."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.store.accounts import AccountStore, secret_digest
from courseforge.store.database import Database
from courseforge.store.sessions import SessionStore
from courseforge.store.tables import browser_sessions

IDLE = timedelta(hours=12)
LIFETIME = timedelta(days=7)


@pytest.fixture
def accounts(database: Database, clock: FakeClock) -> AccountStore:
    return AccountStore(database, clock)


@pytest.fixture
def sessions(database: Database, clock: FakeClock) -> SessionStore:
    return SessionStore(database, clock, idle=IDLE, lifetime=LIFETIME)


@pytest.fixture
async def alice(accounts: AccountStore) -> User:
    return await accounts.create_user("alice", "Acme", "teacher")


async def session_rows(database: Database) -> list[sa.Row[tuple[object, ...]]]:
    async with database.connect() as conn:
        return list((await conn.execute(sa.select(browser_sessions))).all())


async def test_a_session_is_stored_only_as_its_hash(
    sessions: SessionStore, alice: User, database: Database
) -> None:
    session_id = await sessions.start_session(alice)

    assert len(session_id) == 43
    rows = await session_rows(database)
    assert [row.session_hash for row in rows] == [secret_digest(session_id)]
    assert session_id not in str([tuple(row) for row in rows])
    assert await sessions.session_user(session_id) == alice


async def test_a_session_used_regularly_lasts_past_the_idle_time(
    sessions: SessionStore, alice: User, clock: FakeClock
) -> None:
    session_id = await sessions.start_session(alice)

    for _ in range(3):
        clock.advance((IDLE - timedelta(minutes=1)).total_seconds())
        assert await sessions.session_user(session_id) == alice


async def test_a_session_unused_for_the_idle_time_ends(
    sessions: SessionStore, alice: User, clock: FakeClock, database: Database
) -> None:
    session_id = await sessions.start_session(alice)
    clock.advance(30)  # used within the minute: no write; the idle time counts from the login
    assert await sessions.session_user(session_id) == alice

    clock.advance(IDLE.total_seconds() - 30)

    assert await sessions.session_user(session_id) is None
    assert await session_rows(database) == []


async def test_a_session_ends_at_its_absolute_expiry_even_when_used(
    sessions: SessionStore, alice: User, clock: FakeClock
) -> None:
    session_id = await sessions.start_session(alice)
    step = IDLE / 2
    for _ in range(int(LIFETIME / step) - 1):
        clock.advance(step.total_seconds())
        assert await sessions.session_user(session_id) == alice

    clock.advance(step.total_seconds())

    assert await sessions.session_user(session_id) is None


async def test_logout_ends_only_that_session(sessions: SessionStore, alice: User) -> None:
    laptop = await sessions.start_session(alice)
    phone = await sessions.start_session(alice)

    assert await sessions.end_session(laptop) is True

    assert await sessions.session_user(laptop) is None
    assert await sessions.session_user(phone) == alice
    assert await sessions.end_session(laptop) is False


async def test_revoking_a_users_access_ends_all_their_sessions(
    sessions: SessionStore, accounts: AccountStore, alice: User
) -> None:
    bob = await accounts.create_user("bob", "Acme", "teacher")
    alices = [await sessions.start_session(alice) for _ in range(2)]
    bobs = await sessions.start_session(bob)
    await accounts.issue_token(alice)

    revoked = await accounts.revoke_access("alice")

    assert (revoked.tokens, revoked.sessions) == (1, 2)
    for session_id in alices:
        assert await sessions.session_user(session_id) is None
    assert await sessions.session_user(bobs) == bob


@pytest.mark.parametrize(
    "session_id", ["", "short", "x" * 44, "!" * 43, "cf_" + "a" * 40, "a" * 43]
)
async def test_a_malformed_or_unknown_id_is_no_session(
    sessions: SessionStore, alice: User, session_id: str
) -> None:
    await sessions.start_session(alice)

    assert await sessions.session_user(session_id) is None
    assert await sessions.end_session(session_id) is False


async def test_purge_deletes_only_sessions_that_can_no_longer_be_used(
    sessions: SessionStore, alice: User, clock: FakeClock, database: Database
) -> None:
    idle = await sessions.start_session(alice)
    clock.advance((IDLE - timedelta(hours=1)).total_seconds())
    recent = await sessions.start_session(alice)
    clock.advance(timedelta(hours=1).total_seconds())

    assert await sessions.purge_expired() == 1

    assert [row.session_hash for row in await session_rows(database)] == [secret_digest(recent)]
    assert await sessions.session_user(idle) is None
    assert await sessions.session_user(recent) == alice
