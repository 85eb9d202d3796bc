"""job retries: runs lost with their worker counted apart from runs that failed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lost_runs", sa.Integer, nullable=False, server_default="0"))
    # Until now every earlier run of an active job had been lost with its worker.
    op.execute(
        "UPDATE jobs SET lost_runs = CASE WHEN status = 'running' THEN attempts - 1 "
        "ELSE attempts END WHERE attempts > 0 AND status IN ('pending', 'running')"
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lost_runs")
