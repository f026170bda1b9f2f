"""Keys of the assets of a snapshot being written, so that batches merge through the store.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset_key",
        sa.Column("snapshot_id", sa.Integer(), sa.ForeignKey("snapshot.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("asset_no", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "name", "value", "asset_no", name="pk_asset_key"),
    )


def downgrade() -> None:
    op.drop_table("asset_key")
