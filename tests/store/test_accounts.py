"""Users, API tokens and stream tickets on SQLite and PostgreSQL, timed by a fake clock."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.domain.outline import CourseRequest
from courseforge.store.accounts import (
    AccountStore,
    Credential,
    UserExistsError,
    UserNotFoundError,
)
from courseforge.store.database import Database
from courseforge.store.job_store import JobStore
from courseforge.store.passwords import MIN_PASSWORD_LENGTH, PasswordHasher, PasswordPolicyError
from courseforge.store.stream_tickets import TicketLimitError
from courseforge.store.tables import api_tokens, stream_tickets, users


@pytest.fixture
def accounts(database: Database, clock: FakeClock) -> AccountStore:
    return AccountStore(database, clock)


@pytest.fixture
async def alice(accounts: AccountStore) -> User:
    return await accounts.create_user("alice", "Acme", "teacher")


@pytest.fixture
async def alices(accounts: AccountStore, alice: User) -> Credential:
    """One of alice's tokens, as a request that showed it is authenticated."""
    return await credential_of(accounts, await accounts.issue_token(alice))


@pytest.fixture
async def two_processes(
    accounts: AccountStore, database_url: str, clock: FakeClock
) -> AsyncIterator[list[AccountStore]]:
    """The store twice, on two engines, as two API processes would have it."""
    second = Database(database_url)
    try:
        yield [accounts, AccountStore(second, clock)]
    finally:
        await second.dispose()


async def credential_of(accounts: AccountStore, token: str) -> Credential:
    found = await accounts.credential(token)
    assert found is not None
    return found


async def new_job(database: Database, clock: FakeClock) -> str:
    return await JobStore(database, clock).create_course_job(CourseRequest(topic="Photosynthesis"))


async def token_rows(database: Database) -> list[sa.Row[tuple[object, ...]]]:
    async with database.connect() as conn:
        return list((await conn.execute(sa.select(api_tokens))).all())


# --- users ----------------------------------------------------------------------


async def test_a_taken_name_is_refused(accounts: AccountStore, alice: User) -> None:
    with pytest.raises(UserExistsError, match="alice"):
        await accounts.create_user("alice", "Other", "student")

    assert await accounts.find_user("alice") == alice
    assert await accounts.get_user(alice.id) == alice
    assert await accounts.get_user("no-such-id") is None


async def test_users_of_one_organization_share_it(accounts: AccountStore, alice: User) -> None:
    bob = await accounts.create_user("bob", "Acme", "admin")
    cy = await accounts.create_user("cy", "Elsewhere", "student")

    assert bob.organization_id == alice.organization_id != cy.organization_id


async def test_list_users_counts_working_tokens(
    accounts: AccountStore, alice: User, clock: FakeClock
) -> None:
    bob = await accounts.create_user("bob", "Beta", "admin")
    await accounts.issue_token(alice)
    await accounts.issue_token(alice, "ci")
    await accounts.issue_token(bob)
    await accounts.revoke_tokens("bob")
    await accounts.create_user("aaron", "Acme", "student")

    summaries = await accounts.list_users()

    assert [(s.name, s.organization, s.role, s.active_tokens) for s in summaries] == [
        ("aaron", "Acme", "student", 0),
        ("alice", "Acme", "teacher", 2),
        ("bob", "Beta", "admin", 0),
    ]
    assert summaries[1].created_at == clock.now()


# --- API tokens -----------------------------------------------------------------


async def test_an_issued_token_authenticates_its_user(accounts: AccountStore, alice: User) -> None:
    bob = await accounts.create_user("bob", "Acme", "student")
    token = await accounts.issue_token(alice)
    other = await accounts.issue_token(bob)

    assert token.startswith("cf_")
    assert token != other
    assert await accounts.authenticate(token) == alice
    assert await accounts.authenticate(other) == bob


async def test_only_the_tokens_hash_is_stored(
    accounts: AccountStore, alice: User, database: Database
) -> None:
    token = await accounts.issue_token(alice, "laptop")

    (row,) = await token_rows(database)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(value) for value in row]
    assert (row.user_id, row.name, row.revoked_at) == (alice.id, "laptop", None)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: "cf_" + "A" * 43,  # well-formed, never issued
        lambda token: token[:-1],
        lambda token: token + "A",
        lambda token: token.upper(),
        lambda token: token.removeprefix("cf_"),
        lambda token: f"Bearer {token}",
        lambda token: "",
        lambda token: token[:-1] + "\u00e9",
    ],
)
async def test_wrong_and_malformed_tokens_do_not_authenticate(
    accounts: AccountStore, alice: User, mangle: Callable[[str], str]
) -> None:
    token = await accounts.issue_token(alice)

    assert await accounts.authenticate(mangle(token)) is None


async def test_revoked_tokens_stop_working_and_are_kept(
    accounts: AccountStore, alice: User, database: Database, clock: FakeClock
) -> None:
    bob = await accounts.create_user("bob", "Acme", "student")
    first, second = await accounts.issue_token(alice), await accounts.issue_token(alice)
    bobs = await accounts.issue_token(bob)

    assert await accounts.revoke_tokens("alice") == 2
    assert await accounts.revoke_tokens("alice") == 0

    assert await accounts.authenticate(first) is None
    assert await accounts.authenticate(second) is None
    assert await accounts.authenticate(bobs) == bob
    rows = await token_rows(database)
    assert sorted((row.user_id, row.revoked_at) for row in rows if row.user_id == alice.id) == [
        (alice.id, clock.now()),
        (alice.id, clock.now()),
    ]
    fresh = await accounts.issue_token(alice)
    assert await accounts.authenticate(fresh) == alice


async def test_revoking_for_an_unknown_user_says_so(accounts: AccountStore) -> None:
    with pytest.raises(UserNotFoundError, match="nobody"):
        await accounts.revoke_tokens("nobody")


async def test_last_use_is_recorded_at_most_once_a_minute(
    accounts: AccountStore, alice: User, database: Database, clock: FakeClock
) -> None:
    token = await accounts.issue_token(alice)
    (row,) = await token_rows(database)
    assert row.last_used_at is None

    first_use = clock.now()
    await accounts.authenticate(token)
    clock.advance(59)
    await accounts.authenticate(token)
    (row,) = await token_rows(database)
    assert row.last_used_at == first_use

    clock.advance(1)
    await accounts.authenticate(token)
    (row,) = await token_rows(database)
    assert row.last_used_at == first_use + timedelta(seconds=60)


# --- stream tickets -------------------------------------------------------------


async def test_a_ticket_works_once(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    ticket = await accounts.issue_stream_ticket(alices, job_id)

    assert await accounts.redeem_stream_ticket(ticket, job_id) == alice
    assert await accounts.redeem_stream_ticket(ticket, job_id) is None


async def test_a_ticket_is_stored_hashed(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    ticket = await accounts.issue_stream_ticket(alices, job_id, ttl_s=30)

    async with database.connect() as conn:
        (row,) = (await conn.execute(sa.select(stream_tickets))).all()
    assert row.ticket_hash == hashlib.sha256(ticket.encode()).hexdigest()
    assert row.expires_at == clock.now() + timedelta(seconds=30)


async def test_a_ticket_is_only_for_its_job(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id, other_job = await new_job(database, clock), await new_job(database, clock)
    ticket = await accounts.issue_stream_ticket(alices, job_id)

    assert await accounts.redeem_stream_ticket(ticket, other_job) is None
    assert await accounts.redeem_stream_ticket("not-a-ticket", job_id) is None
    assert await accounts.redeem_stream_ticket(ticket, job_id) == alice


async def test_a_ticket_expires(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    early = await accounts.issue_stream_ticket(alices, job_id, ttl_s=60)
    late = await accounts.issue_stream_ticket(alices, job_id, ttl_s=60)

    clock.advance(59.9)
    assert await accounts.redeem_stream_ticket(early, job_id) == alice
    clock.advance(0.1)
    assert await accounts.redeem_stream_ticket(late, job_id) is None


async def test_purge_removes_only_expired_tickets(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    await accounts.issue_stream_ticket(alices, job_id, ttl_s=10)
    await accounts.issue_stream_ticket(alices, job_id, ttl_s=10)
    lasting = await accounts.issue_stream_ticket(alices, job_id, ttl_s=100)

    clock.advance(10)
    assert await accounts.purge_expired_tickets() == 2
    assert await accounts.purge_expired_tickets() == 0
    assert await accounts.redeem_stream_ticket(lasting, job_id) == alice


async def test_concurrent_redeems_let_exactly_one_through(
    accounts: AccountStore,
    alice: User,
    alices: Credential,
    database: Database,
    clock: FakeClock,
    two_processes: list[AccountStore],
) -> None:
    """Two engines (as two API processes would have), racing on each of several tickets."""
    job_id = await new_job(database, clock)
    for _ in range(5):
        ticket = await accounts.issue_stream_ticket(alices, job_id)
        outcomes = await asyncio.gather(
            *(store.redeem_stream_ticket(ticket, job_id) for store in two_processes * 3)
        )
        assert outcomes.count(alice) == 1
        assert outcomes.count(None) == len(outcomes) - 1


async def test_revoking_the_token_that_asked_ends_its_ticket(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    laptop = await credential_of(accounts, await accounts.issue_token(alice, "laptop"))
    from_revoked = await accounts.issue_stream_ticket(alices, job_id)
    from_laptop = await accounts.issue_stream_ticket(laptop, job_id)
    async with database.transaction() as conn:  # revoke one of alice's two tokens
        await conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == alices.token_id)
            .values(revoked_at=clock.now())
        )

    assert await accounts.redeem_stream_ticket(from_revoked, job_id) is None
    assert await accounts.redeem_stream_ticket(from_laptop, job_id) == alice


async def test_revoking_a_users_tokens_ends_their_tickets(
    accounts: AccountStore, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    ticket = await accounts.issue_stream_ticket(alices, job_id)

    await accounts.revoke_tokens("alice")

    assert await accounts.redeem_stream_ticket(ticket, job_id) is None


async def test_a_user_holds_a_bounded_number_of_unused_tickets(
    accounts: AccountStore, alice: User, alices: Credential, database: Database, clock: FakeClock
) -> None:
    job_id = await new_job(database, clock)
    bob = await accounts.create_user("bob", "Acme", "teacher")
    bobs = await credential_of(accounts, await accounts.issue_token(bob))
    first = await accounts.issue_stream_ticket(alices, job_id, ttl_s=60, max_live=3)
    clock.advance(10)
    for _ in range(2):
        await accounts.issue_stream_ticket(alices, job_id, ttl_s=60, max_live=3)

    with pytest.raises(TicketLimitError, match="at most 3 unused") as refused:
        await accounts.issue_stream_ticket(alices, job_id, ttl_s=60, max_live=3)
    assert refused.value.retry_after_s == 50  # when the first one expires
    await accounts.issue_stream_ticket(bobs, job_id, ttl_s=60, max_live=3)  # others are not held

    assert await accounts.redeem_stream_ticket(first, job_id) == alice  # a used one frees a place
    await accounts.issue_stream_ticket(alices, job_id, ttl_s=60, max_live=3)
    clock.advance(60)  # so does an expired one
    await accounts.issue_stream_ticket(alices, job_id, ttl_s=60, max_live=3)


async def test_the_ticket_cap_holds_across_processes(
    alices: Credential,
    database: Database,
    clock: FakeClock,
    two_processes: list[AccountStore],
) -> None:
    """Two engines (as two API processes would have) asking at once, over the cap."""
    job_id = await new_job(database, clock)
    outcomes = await asyncio.gather(
        *(store.issue_stream_ticket(alices, job_id, max_live=4) for store in two_processes * 5),
        return_exceptions=True,
    )
    issued = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, TicketLimitError)]
    assert (len(issued), len(refused)) == (4, 6)
    async with database.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(stream_tickets))
        ).scalar() == 4


# --- the credential cache -------------------------------------------------------


async def test_a_cached_token_outlives_a_revocation_elsewhere_by_at_most_the_cache_time(
    alice: User, database: Database, clock: FakeClock
) -> None:
    api_process = AccountStore(database, clock, cache_s=5)
    command_line = AccountStore(database, clock)
    token = await command_line.issue_token(alice)
    assert await api_process.authenticate(token) == alice

    await command_line.revoke_tokens("alice")

    clock.advance(4.9)
    assert await api_process.authenticate(token) == alice  # remembered
    clock.advance(0.1)
    assert await api_process.authenticate(token) is None
    assert await command_line.authenticate(token) is None  # no cache: at once


async def test_a_revocation_in_the_same_process_applies_at_once(
    alice: User, database: Database, clock: FakeClock
) -> None:
    cached = AccountStore(database, clock, cache_s=5)
    token = await cached.issue_token(alice)
    assert await cached.authenticate(token) == alice

    await cached.revoke_tokens("alice")

    assert await cached.authenticate(token) is None


# --- passwords --------------------------------------------------------------------


class CountingArgon2(Argon2Hasher):
    """argon2 at a test's cost, counting the verifications (the slow part of a login)."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verifications = 0

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(password, hash)


def store_hashing_with(database: Database, clock: FakeClock, argon2: Argon2Hasher) -> AccountStore:
    return AccountStore(database, clock, passwords=PasswordHasher(PasswordHash((argon2,))))


async def stored_password_hash(database: Database, name: str) -> str | None:
    async with database.connect() as conn:
        statement = sa.select(users.c.password_hash).where(users.c.name == name)
        found: str | None = (await conn.execute(statement)).scalar_one()
    return found


async def test_a_password_is_stored_as_an_argon2_hash_and_checked(
    database: Database, clock: FakeClock, alice: User
) -> None:
    accounts = store_hashing_with(database, clock, CountingArgon2())

    await accounts.set_password("alice", "correct horse")

    stored = await stored_password_hash(database, "alice")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await accounts.authenticate_password("alice", "correct horse") == alice
    assert await accounts.authenticate_password("alice", "correct horsE") is None
    assert await accounts.authenticate_password("alice", "") is None


async def test_changing_a_password_retires_the_old_one(
    database: Database, clock: FakeClock, alice: User
) -> None:
    accounts = store_hashing_with(database, clock, CountingArgon2())
    await accounts.set_password("alice", "first password")

    await accounts.set_password("alice", "second password")

    assert await accounts.authenticate_password("alice", "first password") is None
    assert await accounts.authenticate_password("alice", "second password") == alice


async def test_a_password_too_short_or_for_nobody_is_refused(
    database: Database, clock: FakeClock, alice: User
) -> None:
    accounts = store_hashing_with(database, clock, CountingArgon2())

    with pytest.raises(PasswordPolicyError, match=f"at least {MIN_PASSWORD_LENGTH}"):
        await accounts.set_password("alice", "short")
    with pytest.raises(UserNotFoundError):
        await accounts.set_password("nobody", "long enough")
    assert await stored_password_hash(database, "alice") is None


async def test_an_unknown_user_costs_the_same_hashing_as_a_wrong_password(
    database: Database, clock: FakeClock, alice: User
) -> None:
    argon2 = CountingArgon2()
    accounts = store_hashing_with(database, clock, argon2)
    await accounts.create_user("nopass", "Acme", "student")
    await accounts.set_password("alice", "correct horse")
    attempts = [("alice", "wrong guess"), ("nobody", "wrong guess"), ("nopass", "wrong guess")]

    for name, guess in attempts:
        before = argon2.verifications
        assert await accounts.authenticate_password(name, guess) is None
        assert argon2.verifications - before == 1, name


async def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(
    database: Database, clock: FakeClock, alice: User
) -> None:
    await store_hashing_with(database, clock, CountingArgon2(time_cost=1)).set_password(
        "alice", "correct horse"
    )
    weak = await stored_password_hash(database, "alice")
    stronger = store_hashing_with(database, clock, CountingArgon2(time_cost=2))

    assert await stronger.authenticate_password("alice", "correct horse") == alice

    rehashed = await stored_password_hash(database, "alice")
    assert rehashed != weak
    assert rehashed is not None
    assert ",t=2," in rehashed
    assert await stronger.authenticate_password("alice", "correct horse") == alice
    assert await stored_password_hash(database, "alice") == rehashed
