"""Results computed from a snapshot (judged history and diff coverage), kept per snapshot and key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vendorscope.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_cache",
        sa.Column("snapshot_id", sa.Integer(), sa.ForeignKey("snapshot.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "key", name="pk_result_cache"),
    )


def downgrade() -> None:
    op.drop_table("result_cache")
