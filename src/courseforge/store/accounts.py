"""Users and organizations; their passwords, API tokens and short-lived stream tickets.

Tokens and tickets are stored as their SHA-256 only: a stolen database copy holds no
usable credential, and a lookup by hash compares nothing secret in Python (no timing
leak about the token). The token itself is shown once, when it is issued.

A stream ticket belongs to the token that asked for it: it stops working when that token
is revoked. A user holds at most a few unused tickets at a time, counted in the database
so that the cap holds across API processes and bounds the table.

Passwords are kept as argon2 hashes (store/passwords.py); browser sessions live in
store/sessions.py, and revoking a user's access ends them with the tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import Role, User
from courseforge.store import stream_tickets
from courseforge.store.credential_cache import CredentialCache
from courseforge.store.database import Database
from courseforge.store.passwords import PasswordHasher
from courseforge.store.stream_tickets import DEFAULT_LIVE_TICKETS
from courseforge.store.tables import api_tokens, browser_sessions, organizations, users

# The owner of jobs started from this machine's command line.
LOCAL_USER, LOCAL_ORGANIZATION = "local", "local"

TOKEN_PREFIX = "cf_"
# secrets.token_urlsafe(32) is 43 characters of the URL-safe alphabet.
TOKEN_PATTERN = re.compile(r"cf_[A-Za-z0-9_-]{43}")
# A token's last use is recorded at most this often: not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UserExistsError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a user named {name!r} already exists")
        self.name = name


class UserNotFoundError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no user named {name!r}")
        self.name = name


@dataclass(frozen=True)
class Credential:
    """A working API token: whose it is, and which one (a stream ticket names it)."""

    user: User
    token_id: str


@dataclass(frozen=True)
class Revocation:
    """What `revoke_access` ended: working API tokens, and browser sessions."""

    tokens: int
    sessions: int


@dataclass(frozen=True)
class UserSummary:
    name: str
    organization: str
    role: Role
    active_tokens: int
    created_at: datetime


def secret_digest(secret: str) -> str:
    """What is stored of a token or ticket: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AccountStore:
    """`cache_s` > 0 remembers a token's user for that long (see CredentialCache): a token
    revoked elsewhere keeps working here for at most that long."""

    def __init__(
        self,
        database: Database,
        clock: Clock | None = None,
        *,
        cache_s: float = 0.0,
        passwords: PasswordHasher | None = None,
    ) -> None:
        self._database = database
        self._clock = clock or SystemClock()
        self._passwords = passwords or PasswordHasher()
        self._credentials: CredentialCache[Credential] = CredentialCache(
            cache_s, self._clock.monotonic
        )

    # --- users ------------------------------------------------------------------

    async def create_user(self, name: str, organization: str, role: Role) -> User:
        """Creates the user (and the organization, the first time it is named).

        Raises UserExistsError when the name is taken.
        """
        try:
            return await self._insert_user(name, organization, role)
        except sa.exc.IntegrityError as error:
            if await self.find_user(name) is not None:
                raise UserExistsError(name) from error
        # Another writer created the organization between our read and insert: it exists now.
        return await self._insert_user(name, organization, role)

    async def find_user(self, name: str) -> User | None:
        async with self._database.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.name == name))).first()
        return stored_user(row) if row else None

    async def get_user(self, user_id: str) -> User | None:
        async with self._database.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return stored_user(row) if row else None

    async def list_users(self) -> list[UserSummary]:
        """Every user by name, with their organization and how many tokens still work."""
        active = sa.func.count(api_tokens.c.id)
        statement = (
            sa.select(users, organizations.c.name.label("organization"), active.label("tokens"))
            .join(organizations, organizations.c.id == users.c.organization_id)
            .outerjoin(
                api_tokens,
                sa.and_(api_tokens.c.user_id == users.c.id, api_tokens.c.revoked_at.is_(None)),
            )
            .group_by(users.c.id, organizations.c.name)
            .order_by(users.c.name)
        )
        async with self._database.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            UserSummary(row.name, row.organization, row.role, row.tokens, row.created_at)
            for row in rows
        ]

    async def local_user(self) -> User:
        """The owner of command-line jobs, created on first use."""
        found = await self.find_user(LOCAL_USER)
        if found is not None:
            return found
        try:
            return await self.create_user(LOCAL_USER, LOCAL_ORGANIZATION, "admin")
        except UserExistsError:  # another process created it first
            again = await self.find_user(LOCAL_USER)
            assert again is not None
            return again

    async def _insert_user(self, name: str, organization: str, role: Role) -> User:
        now = self._clock.now()
        async with self._database.transaction() as conn:
            org_id = (
                await conn.execute(
                    sa.select(organizations.c.id).where(organizations.c.name == organization)
                )
            ).scalar()
            if org_id is None:
                org_id = str(uuid.uuid4())
                await conn.execute(
                    organizations.insert().values(id=org_id, name=organization, created_at=now)
                )
            user = User(str(uuid.uuid4()), name, org_id, role)
            await conn.execute(
                users.insert().values(
                    id=user.id, name=name, organization_id=org_id, role=role, created_at=now
                )
            )
        return user

    # --- passwords (hashing: store/passwords.py) --------------------------------------

    async def set_password(self, user_name: str, password: str) -> None:
        """Sets or changes the user's password (only its hash is kept).

        Raises UserNotFoundError, or PasswordPolicyError for a password too short or long.
        """
        password_hash = await self._passwords.hash(password)
        statement = (
            users.update().where(users.c.name == user_name).values(password_hash=password_hash)
        )
        async with self._database.transaction() as conn:
            if (await conn.execute(statement)).rowcount == 0:
                raise UserNotFoundError(user_name)

    async def authenticate_password(self, user_name: str, password: str) -> User | None:
        """The user, if the password is theirs; None otherwise, after the same hashing work
        whether or not the user exists (or has a password)."""
        async with self._database.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.name == user_name))).first()
        verified = await self._passwords.verify(password, row.password_hash if row else None)
        if row is None or not verified.matches:
            return None
        if verified.rehashed is not None:  # made with parameters no longer recommended
            statement = (
                users.update().where(users.c.id == row.id).values(password_hash=verified.rehashed)
            )
            async with self._database.transaction() as conn:
                await conn.execute(statement)
        return stored_user(row)

    # --- API tokens -------------------------------------------------------------

    async def issue_token(self, user: User, name: str = "default") -> str:
        """A new token for `user`, returned this once (only its hash is kept)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._database.transaction() as conn:
            await conn.execute(
                api_tokens.insert().values(
                    id=str(uuid.uuid4()),
                    user_id=user.id,
                    name=name,
                    token_hash=secret_digest(token),
                    created_at=self._clock.now(),
                )
            )
        return token

    async def authenticate(self, token: str) -> User | None:
        """The token's user; None for an unknown, malformed or revoked token."""
        found = await self.credential(token)
        return found.user if found else None

    async def credential(self, token: str) -> Credential | None:
        """The token's user and id; None for an unknown, malformed or revoked token."""
        if not TOKEN_PATTERN.fullmatch(token):
            return None
        digest = secret_digest(token)
        cached = self._credentials.get(digest)
        if cached is not None:
            return cached
        statement = (
            sa.select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == digest)
            .where(api_tokens.c.revoked_at.is_(None))
        )
        async with self._database.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        await self._record_use(row.token_id, row.last_used_at)
        found = Credential(stored_user(row), row.token_id)
        self._credentials.put(digest, found)
        return found

    async def revoke_tokens(self, user_name: str) -> int:
        """Revokes every working token of the user, and ends their browser sessions; how
        many tokens there were."""
        return (await self.revoke_access(user_name)).tokens

    async def revoke_access(self, user_name: str) -> Revocation:
        """Revokes every working token of the user (rows are kept) and deletes every browser
        session of theirs, in one transaction."""
        user = await self.find_user(user_name)
        if user is None:
            raise UserNotFoundError(user_name)
        revoke = (
            api_tokens.update()
            .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self._clock.now())
        )
        end_sessions = browser_sessions.delete().where(browser_sessions.c.user_id == user.id)
        async with self._database.transaction() as conn:
            revoked = (await conn.execute(revoke)).rowcount
            ended = (await conn.execute(end_sessions)).rowcount
        self._credentials.clear()  # revocation is rare: forget every token, not just these
        return Revocation(revoked, ended)

    async def _record_use(self, token_id: str, last_used_at: datetime | None) -> None:
        now = self._clock.now()
        stale = now - LAST_USED_RESOLUTION
        if last_used_at is not None and last_used_at > stale:
            return
        # The guard repeats the check, so requests racing past the read write only once.
        statement = (
            api_tokens.update()
            .where(api_tokens.c.id == token_id)
            .where(sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= stale))
            .values(last_used_at=now)
        )
        async with self._database.transaction() as conn:
            await conn.execute(statement)

    # --- stream tickets (their statements: store/stream_tickets.py) ------------------

    async def issue_stream_ticket(
        self,
        credential: Credential,
        job_id: str,
        ttl_s: float = 60,
        max_live: int = DEFAULT_LIVE_TICKETS,
    ) -> str:
        """A single-use credential for one job's event stream, valid for `ttl_s` seconds
        and while the token in `credential` is not revoked.

        Raises stream_tickets.TicketLimitError when the user already holds `max_live` unused tickets.
        """
        ticket = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._database.transaction() as conn:
            await stream_tickets.add_ticket(
                conn,
                secret_digest(ticket),
                credential.user.id,
                credential.token_id,
                job_id,
                now=now,
                expires_at=now + timedelta(seconds=ttl_s),
                max_live=max_live,
            )
        return ticket

    async def redeem_stream_ticket(self, ticket: str, job_id: str) -> User | None:
        """The ticket's user, once: the DELETE that finds the ticket also consumes it.

        None for an unknown, used or expired ticket, one issued for another job (which
        stays valid for its own job), or one whose token was revoked since.
        """
        async with self._database.transaction() as conn:
            row = await stream_tickets.consume_ticket(
                conn, secret_digest(ticket), job_id, self._clock.now()
            )
        return stored_user(row) if row else None

    async def purge_expired_tickets(self) -> int:
        async with self._database.transaction() as conn:
            return await stream_tickets.delete_expired(conn, self._clock.now())


def stored_user(row: Any) -> User:
    """The User of a row holding the users table's columns."""
    return User(row.id, row.name, row.organization_id, row.role)
