"""The tables, as SQLAlchemy Core metadata (migrations are the source of truth for DDL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware everywhere: SQLite hands back naive datetimes, which we read as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass timezone-aware values")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column(
        "organization_id",
        sa.String(36),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # argon2 hash (store/passwords.py); None: the user signs in with API tokens only.
    sa.Column("password_hash", sa.String(255)),
)

ACTIVE_JOB = sa.text("status IN ('pending', 'running')")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("step", sa.String(32)),
    sa.Column("request", JsonDocument, nullable=False),
    sa.Column("outline", JsonDocument),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("auto_publish", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("items_completed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("items_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("current_item", sa.String(300)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # runs begun
    # Runs lost with their worker (its lease expired): a job lost before may be a poison
    # job, claimed only by an idle worker and run alone (runs that failed are not suspect).
    sa.Column("lost_runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("failed_unit", sa.String(200)),
    sa.Column("llm_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tokens_in", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("tokens_out", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("course_id", sa.String(36)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column(
        "organization_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE")
    ),
    sa.Column("dedup_key", sa.String(64)),
    sa.Column("scheduled_for", UTCDateTime),
    sa.Column("lease_owner", sa.String(120)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(
        "ix_jobs_claim",
        sa.text("priority DESC"),
        "created_at",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    ),
    sa.Index("ix_jobs_owner_status", "owner_id", "status", "created_at"),
    sa.Index("ix_jobs_owner_created", "owner_id", "created_at", "id"),
    sa.Index("ix_jobs_organization_created", "organization_id", "created_at", "id"),
    sa.Index("ix_jobs_finished_at", "finished_at"),
    sa.Index(
        "uq_jobs_active_dedup",
        "owner_id",
        "dedup_key",
        unique=True,
        postgresql_where=ACTIVE_JOB,
        sqlite_where=ACTIVE_JOB,
    ),
)

job_units = sa.Table(
    "job_units",
    metadata,
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("step", sa.String(32), nullable=False),
    sa.Column("result", JsonDocument, nullable=False),
    sa.Column("completed_at", UTCDateTime, nullable=False),
)

llm_calls = sa.Table(
    "llm_calls",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("tokens_in", sa.Integer, nullable=False),
    sa.Column("tokens_out", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_llm_calls_job_id", "job_id"),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("payload", JsonDocument, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_job_events_job_id_id", "job_id", "id"),
)

courses = sa.Table(
    "courses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
    sa.Column("slug", sa.String(80), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column(
        "organization_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE")
    ),
    sa.Index("ix_courses_owner_created", "owner_id", "created_at", "id"),
    sa.Index("ix_courses_organization_created", "organization_id", "created_at", "id"),
)

course_versions = sa.Table(
    "course_versions",
    metadata,
    sa.Column(
        "course_id",
        sa.String(36),
        sa.ForeignKey("courses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("content", JsonDocument, nullable=False),
    sa.Column("quality", JsonDocument, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(120), nullable=False),
    # SHA-256 of the token: the token itself is shown once and never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)

# A browser's login (store/sessions.py): the cookie holds the id, the table its SHA-256.
browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=False),
    sa.Index("ix_browser_sessions_user_id", "user_id"),
    sa.Index("ix_browser_sessions_last_used_at", "last_used_at"),
)

# Short-lived, single-use credentials for one job's event stream (a browser's EventSource
# cannot send a header, and a long-lived token must never appear in a URL).
stream_tickets = sa.Table(
    "stream_tickets",
    metadata,
    sa.Column("ticket_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    # The token that asked for the ticket: revoking it ends the ticket too.
    sa.Column(
        "token_id",
        sa.String(36),
        sa.ForeignKey("api_tokens.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_stream_tickets_expires_at", "expires_at"),
    # A user's unused tickets are counted against a cap at each issue.
    sa.Index("ix_stream_tickets_user_id_expires_at", "user_id", "expires_at"),
)

# The first response to a POST with an Idempotency-Key, returned again for the same key.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", JsonDocument, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

# A new-course wizard's work in progress (store/outline_drafts.py): the outline job it
# drafted, the outline as the user edits it (any shape, validated when queued), and the
# course job once queued.
outline_drafts = sa.Table(
    "outline_drafts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "outline_job_id",
        sa.String(36),
        sa.ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("tasks_per_lesson", sa.Integer, nullable=False),
    sa.Column("questions_per_quiz", sa.Integer, nullable=False),
    sa.Column("outline", JsonDocument),
    sa.Column("course_job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_outline_drafts_owner_id", "owner_id"),
)
