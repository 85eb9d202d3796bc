"""The first response to a request with an Idempotency-Key, kept to answer its repeats.

A key belongs to one user (two users may pick the same key). A repeat is recognised by
its fingerprint, so that the API can tell a retry (same request: same answer) from a
key reused for a different request (a client bug: refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.store.database import Database
from courseforge.store.tables import idempotency_keys


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
        statement = sa.select(
            idempotency_keys.c.request_hash,
            idempotency_keys.c.status_code,
            idempotency_keys.c.response,
        ).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        async with self._database.connect() as conn:
            row = (await conn.execute(statement)).first()
        return StoredResponse(row.request_hash, row.status_code, row.response) if row else None

    async def remember(
        self, user_id: str, key: str, fingerprint: str, status_code: int, body: dict[str, Any]
    ) -> StoredResponse:
        """Stores the response; if a concurrent request stored one for the key first, that one.

        The caller compares the returned fingerprint with its own to learn which happened.
        """
        statement = idempotency_keys.insert().values(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=body,
            created_at=self._clock.now(),
        )
        try:
            async with self._database.transaction() as conn:
                await conn.execute(statement)
        except sa.exc.IntegrityError:
            stored = await self.find(user_id, key)
            if stored is None:  # not a duplicate key (an unknown user, say)
                raise
            return stored
        return StoredResponse(fingerprint, status_code, body)

    async def purge_older_than(self, age: timedelta) -> int:
        """Forgets responses stored more than `age` ago; how many."""
        cutoff = self._clock.now() - age
        statement = idempotency_keys.delete().where(idempotency_keys.c.created_at < cutoff)
        async with self._database.transaction() as conn:
            return (await conn.execute(statement)).rowcount
