"""Server-side browser sessions: a row per login, so logout and `users revoke` end it
everywhere at once.

The browser's cookie holds only an opaque random id; the table keeps its SHA-256 (as for
API tokens, a stolen database copy holds no usable session). A session ends when it has
not been used for `idle`, and in any case `lifetime` after the login.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import User
from courseforge.store.accounts import LAST_USED_RESOLUTION, secret_digest, stored_user
from courseforge.store.database import Database
from courseforge.store.tables import browser_sessions, users

DEFAULT_IDLE = timedelta(hours=12)
DEFAULT_LIFETIME = timedelta(days=7)
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


class SessionStore:
    def __init__(
        self,
        database: Database,
        clock: Clock | None = None,
        *,
        idle: timedelta = DEFAULT_IDLE,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self._database = database
        self._clock = clock or SystemClock()
        self._idle = idle
        self._lifetime = lifetime

    async def start_session(self, user: User) -> str:
        """A new session for `user`: its id, returned this once (only its hash is kept)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._database.transaction() as conn:
            await conn.execute(
                browser_sessions.insert().values(
                    session_hash=secret_digest(session_id),
                    user_id=user.id,
                    created_at=now,
                    last_used_at=now,
                )
            )
        return session_id

    async def session_user(self, session_id: str) -> User | None:
        """The session's user, its use recorded; None for an unknown, malformed, ended or
        expired session (an expired one is deleted)."""
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            return None
        digest = secret_digest(session_id)
        statement = (
            sa.select(
                users,
                browser_sessions.c.created_at.label("session_created_at"),
                browser_sessions.c.last_used_at.label("session_used_at"),
            )
            .join(browser_sessions, browser_sessions.c.user_id == users.c.id)
            .where(browser_sessions.c.session_hash == digest)
        )
        async with self._database.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        if self._expired(row):
            await self._delete(digest)
            return None
        await self._record_use(digest, row.session_used_at)
        return stored_user(row)

    async def end_session(self, session_id: str) -> bool:
        """Logout: whether there was such a session."""
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            return False
        return await self._delete(secret_digest(session_id)) > 0

    async def purge_expired(self) -> int:
        """Deletes the sessions that can no longer be used; how many."""
        now = self._clock.now()
        statement = browser_sessions.delete().where(
            sa.or_(
                browser_sessions.c.last_used_at <= now - self._idle,
                browser_sessions.c.created_at <= now - self._lifetime,
            )
        )
        async with self._database.transaction() as conn:
            return (await conn.execute(statement)).rowcount

    def _expired(self, row: Any) -> bool:
        now = self._clock.now()
        idle: timedelta = now - row.session_used_at
        age: timedelta = now - row.session_created_at
        return idle >= self._idle or age >= self._lifetime

    async def _delete(self, digest: str) -> int:
        statement = browser_sessions.delete().where(browser_sessions.c.session_hash == digest)
        async with self._database.transaction() as conn:
            return (await conn.execute(statement)).rowcount

    async def _record_use(self, digest: str, last_used_at: datetime) -> None:
        now = self._clock.now()
        stale = now - LAST_USED_RESOLUTION
        if last_used_at > stale:
            return  # used within the last minute: not a write per request
        statement = (
            browser_sessions.update()
            .where(browser_sessions.c.session_hash == digest)
            .where(browser_sessions.c.last_used_at <= stale)
            .values(last_used_at=now)
        )
        async with self._database.transaction() as conn:
            await conn.execute(statement)
