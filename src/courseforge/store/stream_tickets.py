"""The statements behind stream tickets: a capped insert, a consuming redeem, a purge.

A ticket names the API token that asked for it and is honoured only while that token is
not revoked. A user holds at most `max_live` unused, unexpired tickets: counted in the
database, so the cap holds across API processes and bounds the table.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from courseforge.store.tables import api_tokens, stream_tickets, users

# Unused, unexpired stream tickets one user may hold at once.
DEFAULT_LIVE_TICKETS = 20


class TicketLimitError(Exception):
    """The user holds `limit` unused tickets; the first expires in `retry_after_s`."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(
            f"at most {limit} unused stream tickets at a time: open a stream with one, "
            f"or wait {retry_after_s} s for one to expire"
        )
        self.limit = limit
        self.retry_after_s = retry_after_s


async def add_ticket(
    conn: AsyncConnection,
    ticket_hash: str,
    user_id: str,
    token_id: str,
    job_id: str,
    *,
    now: datetime,
    expires_at: datetime,
    max_live: int,
) -> None:
    """Inserts the ticket unless the user is at the cap (TicketLimitError)."""
    await conn.execute(_lock_user(user_id))
    live, first_expiry = (await conn.execute(_live_tickets(user_id, now))).one()
    if live >= max_live:
        wait = (first_expiry - now).total_seconds() if first_expiry else 1.0
        raise TicketLimitError(max_live, max(1, math.ceil(wait)))
    await conn.execute(
        stream_tickets.insert().values(
            ticket_hash=ticket_hash,
            user_id=user_id,
            token_id=token_id,
            job_id=job_id,
            expires_at=expires_at,
        )
    )


async def consume_ticket(
    conn: AsyncConnection, ticket_hash: str, job_id: str, now: datetime
) -> Any | None:
    """Deletes the ticket if it is valid for `job_id` now; the users row of its holder
    if their token still works, else None (a used-up ticket is gone either way)."""
    statement = (
        stream_tickets.delete()
        .where(stream_tickets.c.ticket_hash == ticket_hash)
        .where(stream_tickets.c.job_id == job_id)
        .where(stream_tickets.c.expires_at > now)
        .returning(stream_tickets.c.token_id)
    )
    token_id = (await conn.execute(statement)).scalar()
    if token_id is None:
        return None
    return (await conn.execute(_holder_of_working_token(token_id))).first()


async def delete_expired(conn: AsyncConnection, now: datetime) -> int:
    statement = stream_tickets.delete().where(stream_tickets.c.expires_at <= now)
    return (await conn.execute(statement)).rowcount


def _lock_user(user_id: str) -> sa.Select[str]:
    """PostgreSQL: a user's ticket requests take turns on their users row, so the count
    and the insert cannot interleave between processes (the cap holds exactly). FOR NO
    KEY UPDATE, so inserts referencing the user do not wait on it. SQLite renders no
    lock: BEGIN IMMEDIATE already admits one writer at a time."""
    return sa.select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True)


def _live_tickets(user_id: str, now: datetime) -> sa.Select[int, datetime | None]:
    return sa.select(sa.func.count(), sa.func.min(stream_tickets.c.expires_at)).where(
        stream_tickets.c.user_id == user_id, stream_tickets.c.expires_at > now
    )


def _holder_of_working_token(token_id: str) -> sa.Select[Any]:
    return (
        sa.select(users)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
    )
