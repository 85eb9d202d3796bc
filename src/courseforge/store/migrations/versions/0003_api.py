"""api: tokens, stream tickets, idempotency keys, course owners, listing indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _user_column(name: str) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


# PostgreSQL tells every API process when a job has new events (payload: the job id), so a
# worker on one host reaches the event streams of an API process on another. NOTIFY is
# sent at commit, once per job and transaction however many rows were inserted.
NOTIFY_FUNCTION = """
CREATE FUNCTION courseforge_notify_job_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('courseforge_events', NEW.job_id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
FOR EACH ROW EXECUTE FUNCTION courseforge_notify_job_event()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_column("user_id"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_used_at", UTC_TIME),
        sa.Column("revoked_at", UTC_TIME),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "stream_tickets",
        sa.Column("ticket_hash", sa.String(64), primary_key=True),
        _user_column("user_id"),
        sa.Column(
            "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("expires_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("organization_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            "fk_courses_owner", "users", ["owner_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_courses_organization",
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # Lists are newest first, per owner (or per organization for admins), by a stable cursor.
    op.create_index("ix_courses_owner_created", "courses", ["owner_id", "created_at", "id"])
    op.create_index(
        "ix_courses_organization_created", "courses", ["organization_id", "created_at", "id"]
    )
    op.create_index("ix_jobs_owner_created", "jobs", ["owner_id", "created_at", "id"])
    op.create_index("ix_jobs_organization_created", "jobs", ["organization_id", "created_at", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER job_events_notify ON job_events")
        op.execute("DROP FUNCTION courseforge_notify_job_event()")
    op.drop_index("ix_jobs_organization_created", table_name="jobs")
    op.drop_index("ix_jobs_owner_created", table_name="jobs")
    op.drop_index("ix_courses_organization_created", table_name="courses")
    op.drop_index("ix_courses_owner_created", table_name="courses")
    with op.batch_alter_table("courses") as batch:
        batch.drop_constraint("fk_courses_organization", type_="foreignkey")
        batch.drop_constraint("fk_courses_owner", type_="foreignkey")
        batch.drop_column("organization_id")
        batch.drop_column("owner_id")
    op.drop_table("idempotency_keys")
    op.drop_table("stream_tickets")
    op.drop_table("api_tokens")
