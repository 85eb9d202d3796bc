"""Users and organizations."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from courseforge.clock import Clock, SystemClock
from courseforge.domain.accounts import Role, User
from courseforge.store.database import Database
from courseforge.store.tables import organizations, users

# The owner of jobs started from this machine's command line.
LOCAL_USER, LOCAL_ORGANIZATION = "local", "local"


class AccountStore:
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    async def create_user(self, name: str, organization: str, role: Role) -> User:
        """Creates the user (and the organization, the first time it is named)."""
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

    async def find_user(self, name: str) -> User | None:
        async with self._database.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.name == name))).first()
        return User(row.id, row.name, row.organization_id, row.role) if row else None

    async def local_user(self) -> User:
        """The owner of command-line jobs, created on first use."""
        found = await self.find_user(LOCAL_USER)
        if found is not None:
            return found
        try:
            return await self.create_user(LOCAL_USER, LOCAL_ORGANIZATION, "admin")
        except sa.exc.IntegrityError:  # another process created it first
            again = await self.find_user(LOCAL_USER)
            assert again is not None
            return again
