"""stream tickets: the token that asked for each, and a user's tickets indexed for the cap

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Tickets live a minute: the table is recreated rather than altered (SQLite cannot add a
NOT NULL foreign key column), so tickets issued before the upgrade stop working.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _reference(name: str, target: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(36), sa.ForeignKey(target, ondelete="CASCADE"), nullable=False)


def _create_tickets(*, with_token: bool) -> None:
    token = [_reference("token_id", "api_tokens.id")] if with_token else []
    op.create_table(
        "stream_tickets",
        sa.Column("ticket_hash", sa.String(64), primary_key=True),
        _reference("user_id", "users.id"),
        *token,
        _reference("job_id", "jobs.id"),
        sa.Column("expires_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"])


def upgrade() -> None:
    op.drop_table("stream_tickets")
    _create_tickets(with_token=True)
    op.create_index(
        "ix_stream_tickets_user_id_expires_at", "stream_tickets", ["user_id", "expires_at"]
    )


def downgrade() -> None:
    op.drop_table("stream_tickets")
    _create_tickets(with_token=False)
