"""Idempotency keys: request fingerprints, and stored first responses on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from courseforge.clock import FakeClock
from courseforge.domain.accounts import User
from courseforge.store.accounts import AccountStore
from courseforge.store.database import Database
from courseforge.store.idempotency import (
    PENDING,
    IdempotencyStore,
    StoredResponse,
    request_fingerprint,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def reordered(value: Any, shuffle: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        keys = list(value)
        shuffle.shuffle(keys)
        return {key: reordered(value[key], shuffle) for key in keys}
    if isinstance(value, list):
        return [reordered(item, shuffle) for item in value]
    return value


# --- fingerprints -----------------------------------------------------------------


@given(
    document=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6),
    seed=st.integers(),
    indent=st.none() | st.integers(0, 4),
    ascii_only=st.booleans(),
)
def test_the_same_json_in_another_layout_is_the_same_request(
    document: dict[str, Any], seed: int, indent: int | None, ascii_only: bool
) -> None:
    compact = json.dumps(document, separators=(",", ":")).encode()
    spaced = json.dumps(
        reordered(document, random.Random(seed)), indent=indent, ensure_ascii=ascii_only
    ).encode()

    assert request_fingerprint("POST", "/api/courses", compact) == request_fingerprint(
        "POST", "/api/courses", spaced
    )


def test_different_requests_have_different_fingerprints() -> None:
    body = b'{"topic": "SQL", "modules": 3}'
    fingerprints = {
        request_fingerprint("POST", "/api/courses", body),
        request_fingerprint("POST", "/api/outlines", body),
        request_fingerprint("PUT", "/api/courses", body),
        request_fingerprint("POST", "/api/courses", b'{"topic": "SQL", "modules": 4}'),
        request_fingerprint("POST", "/api/courses", b'{"topic": "SQL", "modules": 3.0}'),
        request_fingerprint("POST", "/api/courses", b'[{"topic": "SQL", "modules": 3}]'),
        request_fingerprint("POST", "/api/courses", b""),
        # The parts cannot run into each other.
        request_fingerprint("POST", "/api/courses{}", b""),
        request_fingerprint("POST", "/api/courses", b"{}"),
    }
    assert len(fingerprints) == 9
    assert all(len(fingerprint) == 64 for fingerprint in fingerprints)


def test_a_body_that_is_not_json_counts_by_its_bytes() -> None:
    def fingerprint(body: bytes) -> str:
        return request_fingerprint("POST", "/upload", body)

    assert fingerprint(b"topic: SQL") == fingerprint(b"topic: SQL")
    assert fingerprint(b"topic: SQL") != fingerprint(b"topic:  SQL")
    assert fingerprint(b"\xff\xfe not utf-8") != fingerprint(b"\xff\xfe not utf-8 ")
    assert fingerprint(b"[" * 100_000) != fingerprint(b"[" * 99_999)  # too deep to parse


def test_the_method_is_compared_without_case() -> None:
    assert request_fingerprint("post", "/a", b"{}") == request_fingerprint("POST", "/a", b"{}")


# --- the store --------------------------------------------------------------------


@pytest.fixture
def store(database: Database, clock: FakeClock) -> IdempotencyStore:
    return IdempotencyStore(database, clock)


@pytest.fixture
async def alice(database: Database) -> User:
    return await AccountStore(database).create_user("alice", "Acme", "teacher")


async def remember(
    store: IdempotencyStore, user_id: str, key: str, fingerprint: str, status: int, body: Any
) -> StoredResponse:
    """What the API does: claim the key, run, settle the answer; else what the key holds."""
    held = await store.claim(user_id, key, fingerprint)
    if held is not None:
        return held
    await store.settle(user_id, key, status, body)
    return StoredResponse(fingerprint, status, body)


async def test_a_remembered_response_is_found(store: IdempotencyStore, alice: User) -> None:
    body = {"job_id": "j-1", "nested": {"list": [1, 2.5, None, "é"]}}

    assert await store.find(alice.id, "key-1") is None
    remembered = await remember(store, alice.id, "key-1", "f" * 64, 202, body)

    assert remembered == StoredResponse("f" * 64, 202, body)
    assert await store.find(alice.id, "key-1") == remembered
    assert await store.find(alice.id, "key-2") is None


async def test_the_first_response_for_a_key_stays(store: IdempotencyStore, alice: User) -> None:
    first = await remember(store, alice.id, "k", "a" * 64, 202, {"job_id": "first"})

    again = await remember(store, alice.id, "k", "b" * 64, 202, {"job_id": "second"})

    assert again == first
    assert await store.find(alice.id, "k") == first


async def test_keys_belong_to_one_user(
    store: IdempotencyStore, alice: User, database: Database
) -> None:
    bob = await AccountStore(database).create_user("bob", "Acme", "teacher")

    mine = await remember(store, alice.id, "same", "a" * 64, 202, {"job_id": "alice's"})
    theirs = await remember(store, bob.id, "same", "b" * 64, 201, {"job_id": "bob's"})

    assert theirs == StoredResponse("b" * 64, 201, {"job_id": "bob's"})
    assert await store.find(alice.id, "same") == mine
    assert await store.find(bob.id, "same") == theirs


async def test_a_key_of_the_longest_length_is_kept(store: IdempotencyStore, alice: User) -> None:
    key = "k" * 200

    await remember(store, alice.id, key, "a" * 64, 202, {})

    assert await store.find(alice.id, key) == StoredResponse("a" * 64, 202, {})


async def test_an_unknown_user_is_an_error_not_a_stored_response(
    store: IdempotencyStore,
) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        await remember(store, "no-such-user", "k", "a" * 64, 202, {})


async def test_of_racing_requests_with_one_key_exactly_one_claims_it(
    store: IdempotencyStore, alice: User, database_url: str, clock: FakeClock
) -> None:
    """Two engines (two API processes), six requests racing for one key."""
    second = Database(database_url)
    try:
        stores = [store, IdempotencyStore(second, clock)]
        outcomes = await asyncio.gather(
            *(stores[n % 2].claim(alice.id, "race", f"{n}" * 64) for n in range(6))
        )
    finally:
        await second.dispose()

    winners = [n for n, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1
    held = StoredResponse(f"{winners[0]}" * 64, PENDING, {})
    assert all(outcome == held for outcome in outcomes if outcome is not None)

    await store.settle(alice.id, "race", 202, {"job_id": "the one"})
    assert await store.claim(alice.id, "race", "x" * 64) == StoredResponse(
        held.fingerprint, 202, {"job_id": "the one"}
    )


async def test_a_claim_whose_request_died_is_taken_over_after_a_minute(
    store: IdempotencyStore, alice: User, clock: FakeClock
) -> None:
    assert await store.claim(alice.id, "k", "a" * 64) is None
    clock.advance(59)
    assert await store.claim(alice.id, "k", "a" * 64) == StoredResponse("a" * 64, PENDING, {})
    clock.advance(2)
    assert await store.claim(alice.id, "k", "b" * 64) is None


async def test_a_forgotten_key_is_free_again(store: IdempotencyStore, alice: User) -> None:
    assert await store.claim(alice.id, "k", "a" * 64) is None
    await store.forget(alice.id, "k")
    assert await store.find(alice.id, "k") is None
    assert await store.claim(alice.id, "k", "b" * 64) is None


async def test_purge_forgets_old_responses(
    store: IdempotencyStore, alice: User, clock: FakeClock
) -> None:
    await remember(store, alice.id, "old", "a" * 64, 202, {})
    clock.advance(3600)
    await remember(store, alice.id, "new", "b" * 64, 202, {})
    clock.advance(1)

    assert await store.purge_older_than(timedelta(hours=1)) == 1
    assert await store.find(alice.id, "old") is None
    assert await store.find(alice.id, "new") is not None
    assert await store.purge_older_than(timedelta(hours=1)) == 0
