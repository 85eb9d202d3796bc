"""Pages of rows, newest first, and the opaque cursor that says where the next one starts.

The cursor holds the last row's (created_at, id) and the next page takes the rows strictly
before it (keyset pagination): a row inserted meanwhile is newer than every row already
shown, so it never shifts nor repeats the rows of later pages, as an OFFSET would.

Its text, `<microseconds since 1970>.<row id>`, is exactly what CURSOR_PATTERN says: an
API can declare the pattern, and every cursor that matches it is a position (perhaps
one with no row after it) that the database can compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
# Rows' ids are str(uuid.uuid4()), made by the store.
ROW_ID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CURSOR_PATTERN = rf"^[0-9]{{1,16}}\.{ROW_ID_PATTERN}$"  # 16 digits: until the year 2286
_ROW_ID = re.compile(ROW_ID_PATTERN)
_CURSOR = re.compile(rf"(?P<micros>[0-9]{{1,16}})\.(?P<id>{ROW_ID_PATTERN})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def is_row_id(text: str | None) -> bool:
    """Whether `text` could name a row: the stores answer "not found" for anything else
    (a NUL or a non-ASCII digit never reaches the database, where PostgreSQL rejects it)."""
    return text is not None and _ROW_ID.fullmatch(text) is not None


class InvalidCursorError(ValueError):
    """A cursor this service did not hand out (or one that was altered)."""

    def __init__(self, cursor: str) -> None:
        shown = cursor if len(cursor) <= 40 else cursor[:40] + "…"
        super().__init__(
            f"invalid cursor {shown!r}: pass the next_cursor of the previous page unchanged"
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True)
class Position:
    """The row a page ended on."""

    created_at: datetime
    id: str


def encode_cursor(position: Position) -> str:
    micros = (position.created_at.astimezone(UTC) - _EPOCH) // _MICROSECOND
    return f"{micros}.{position.id}"


def decode_cursor(cursor: str) -> Position:
    found = _CURSOR.fullmatch(cursor)
    if found is None:
        raise InvalidCursorError(cursor)
    return Position(_EPOCH + int(found["micros"]) * _MICROSECOND, found["id"])


async def fetch_page(
    conn: AsyncConnection,
    query: sa.Select[Any],
    table: sa.Table,
    *,
    limit: int,
    cursor: str | None,
    to_item: Callable[[Any], T],
) -> Page[T]:
    """One page of `query` (rows of `table`, which has created_at and id), newest first.

    The cursor is decoded before any statement runs, so a bad one costs no query.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    order = (table.c.created_at, table.c.id)
    if cursor is not None:
        after = decode_cursor(cursor)
        query = query.where(sa.tuple_(*order) < sa.tuple_(*_bound(table, after)))
    # One row more than asked: whether it comes back says if there is a next page.
    query = query.order_by(*(column.desc() for column in order)).limit(limit + 1)
    rows = (await conn.execute(query)).mappings().all()
    shown = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = shown[-1]
        next_cursor = encode_cursor(Position(last["created_at"], last["id"]))
    return Page([to_item(row) for row in shown], next_cursor)


def _bound(table: sa.Table, position: Position) -> tuple[sa.BindParameter[Any], ...]:
    # Typed like the columns, so SQLite compares the timestamp in its stored text form.
    return (
        sa.literal(position.created_at, table.c.created_at.type),
        sa.literal(position.id, table.c.id.type),
    )
