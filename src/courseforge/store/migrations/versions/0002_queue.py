"""queue: owners, leases, scheduling, cancellation, dedup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('pending', 'running')")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column(
            "organization_id",
            sa.String(36),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("organization_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(120), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key("fk_jobs_owner", "users", ["owner_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(
            "fk_jobs_organization", "organizations", ["organization_id"], ["id"], ondelete="CASCADE"
        )
    # The claim: the oldest, most urgent pending job.
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        [sa.text("priority DESC"), "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    # The rescue: running jobs whose lease ran out.
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )
    op.create_index("ix_jobs_owner_status", "jobs", ["owner_id", "status", "created_at"])
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])
    # At most one active job per (owner, outline).
    op.create_index(
        "uq_jobs_active_dedup",
        "jobs",
        ["owner_id", "dedup_key"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    for index in (
        "uq_jobs_active_dedup",
        "ix_jobs_finished_at",
        "ix_jobs_owner_status",
        "ix_jobs_lease",
        "ix_jobs_claim",
    ):
        op.drop_index(index, table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_organization", type_="foreignkey")
        batch.drop_constraint("fk_jobs_owner", type_="foreignkey")
        for column in (
            "cancel_requested",
            "lease_expires_at",
            "lease_owner",
            "scheduled_for",
            "dedup_key",
            "organization_id",
            "owner_id",
        ):
            batch.drop_column(column)
    op.drop_table("users")
    op.drop_table("organizations")
