"""Who may see a row: its owner, or an admin of its organization.

Every read and write on behalf of an API user goes through `visible_to`, so that another
user's job or course is simply not found (a 404, never a 403 that confirms it exists).
"""

from __future__ import annotations

import sqlalchemy as sa

from courseforge.domain.accounts import User


def visible_to(viewer: User, table: sa.Table) -> sa.ColumnElement[bool]:
    """The rows of `table` (which has owner_id and organization_id) that `viewer` may see."""
    if viewer.role == "admin":
        return table.c.organization_id == viewer.organization_id
    return table.c.owner_id == viewer.id
