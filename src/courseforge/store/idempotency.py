"""The first response to a request with an Idempotency-Key, kept to answer its repeats.

A key belongs to one user (two users may pick the same key). A repeat is recognised by
its fingerprint, so that the API can tell a retry (same request: same answer) from a
key reused for a different request (a client bug: refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.store.database import Database
from courseforge.store.tables import idempotency_keys

PENDING = 0  # the status of a key whose request is still running
STALE_CLAIM = timedelta(seconds=60)  # a request holding its key longer has died


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status_code: int
    body: dict[str, Any]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 (hex) of the request in a canonical form.

    A JSON body counts by its meaning: the same object with its keys in another order or
    other whitespace is the same request. Any other body counts by its bytes. `path` is
    taken as given (include the query string when it matters).
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8)
        kind, payload = b"bytes", body
    else:
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        kind, payload = b"json", canonical.encode("utf-8")
    # Each part is length-prefixed, so no two different requests share one encoding.
    digest = hashlib.sha256()
    for part in (method.upper().encode("utf-8"), path.encode("utf-8"), kind, payload):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    async def find(self, user_id: str, key: str) -> StoredResponse | None:
        held = await self._held(user_id, key)
        return held[0] if held else None

    async def claim(self, user_id: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Takes the key for a request about to run: None if it is now this request's,
        else what the key holds (a finished answer, or `PENDING` while another request
        with it runs). A pending claim older than `STALE_CLAIM` (its request died) is
        taken over."""
        try:
            await self._insert_pending(user_id, key, fingerprint)
            return None
        except sa.exc.IntegrityError:
            held = await self._held(user_id, key)
            if held is None:  # not a duplicate key (an unknown user, say), or just freed
                await self._insert_pending(user_id, key, fingerprint)
                return None
            stored, claimed_at = held
            if stored.status_code != PENDING or claimed_at > self._clock.now() - STALE_CLAIM:
                return stored
            await self.forget(user_id, key)
            return await self.claim(user_id, key, fingerprint)

    async def settle(self, user_id: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        """Stores the answer of the request that claimed the key."""
        statement = (
            idempotency_keys.update()
            .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
            .values(status_code=status_code, response=body)
        )
        async with self._database.transaction() as conn:
            await conn.execute(statement)

    async def forget(self, user_id: str, key: str) -> None:
        """Frees the key (its request's answer is not one to repeat, or it failed)."""
        statement = idempotency_keys.delete().where(
            idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key
        )
        async with self._database.transaction() as conn:
            await conn.execute(statement)

    async def _insert_pending(self, user_id: str, key: str, fingerprint: str) -> None:
        statement = idempotency_keys.insert().values(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            status_code=PENDING,
            response={},
            created_at=self._clock.now(),
        )
        async with self._database.transaction() as conn:
            await conn.execute(statement)

    async def _held(self, user_id: str, key: str) -> tuple[StoredResponse, datetime] | None:
        statement = sa.select(
            idempotency_keys.c.request_hash,
            idempotency_keys.c.status_code,
            idempotency_keys.c.response,
            idempotency_keys.c.created_at,
        ).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        async with self._database.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        return StoredResponse(row.request_hash, row.status_code, row.response), row.created_at

    async def purge_older_than(self, age: timedelta) -> int:
        """Forgets responses stored more than `age` ago; how many."""
        cutoff = self._clock.now() - age
        statement = idempotency_keys.delete().where(idempotency_keys.c.created_at < cutoff)
        async with self._database.transaction() as conn:
            return (await conn.execute(statement)).rowcount
