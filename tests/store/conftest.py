"""Fixtures of the store tests: a Database on each backend, a fake clock, the people of the
visibility matrix (tests/store/listing_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from courseforge.clock import FakeClock
from courseforge.store.accounts import AccountStore
from courseforge.store.database import Database
from tests.store.listing_helpers import People


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    opened = Database(database_url)
    yield opened
    await opened.dispose()


@pytest.fixture
async def people(database: Database, clock: FakeClock) -> People:
    accounts = AccountStore(database, clock)
    return People(
        owner=await accounts.create_user("olivia", "Acme", "teacher"),
        peer=await accounts.create_user("paul", "Acme", "teacher"),
        admin=await accounts.create_user("ada", "Acme", "admin"),
        outsider=await accounts.create_user("otto", "Globex", "admin"),
    )
