"""The first inventory schema: snapshots, observations, assets, attributions,
conflicts and annotations.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vendorscope.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _snapshot_fk() -> sa.ForeignKey:
    return sa.ForeignKey("snapshot.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "snapshot",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("observation_count", sa.Integer(), nullable=False),
        sa.Column("asset_count", sa.Integer(), nullable=False),
        sa.Column("attributed_count", sa.Integer(), nullable=False),
        sa.Column("attribution_count", sa.Integer(), nullable=False),
        sa.Column("conflict_count", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("tool_version", sa.String(50), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshot"),
    )
    op.create_index("ix_snapshot_source", "snapshot", ["source"])
    op.create_table(
        "observation",
        sa.Column("snapshot_id", sa.Integer(), _snapshot_fk(), nullable=False),
        sa.Column("asset_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("observation_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source", sa.String(1000), nullable=True),
        sa.Column("mac", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("hostname", sa.String(300), nullable=True),
        sa.Column("serial", sa.String(300), nullable=True),
        sa.Column("asset_tag", sa.String(300), nullable=True),
        sa.Column("first_seen", UTCDateTime(), nullable=True),
        sa.Column("last_seen", UTCDateTime(), nullable=True),
        sa.Column("sighting_count", sa.Integer(), nullable=False),
        sa.Column("sightings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "asset_no", "observation_no", name="pk_observation"),
    )
    op.create_table(
        "asset",
        sa.Column("snapshot_id", sa.Integer(), _snapshot_fk(), nullable=False),
        sa.Column("asset_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("asset_id", sa.String(400), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("vendor", sa.String(200), nullable=True),
        sa.Column("vendor_name", sa.String(400), nullable=True),
        sa.Column("vendor_group", sa.String(200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("device_type", sa.String(200), nullable=True),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("site", sa.String(400), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=True),
        sa.Column("last_seen", UTCDateTime(), nullable=True),
        sa.Column("observation_count", sa.Integer(), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "asset_no", name="pk_asset"),
    )
    op.create_index("ix_asset_asset_id", "asset", ["asset_id"])
    op.create_table(
        "attribution",
        sa.Column("snapshot_id", sa.Integer(), _snapshot_fk(), nullable=False),
        sa.Column("asset_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("attribution_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("observation_no", sa.Integer(), nullable=True),
        sa.Column("vendor", sa.String(200), nullable=False),
        sa.Column("vendor_name", sa.String(400), nullable=False),
        sa.Column("vendor_group", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(400), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("device_type", sa.String(200), nullable=True),
        sa.Column("sightings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "asset_no", "attribution_no", name="pk_attribution"),
    )
    op.create_table(
        "conflict",
        sa.Column("snapshot_id", sa.Integer(), _snapshot_fk(), nullable=False),
        sa.Column("asset_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("conflict_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("label_vendor", sa.String(200), nullable=False),
        sa.Column("label_kind", sa.String(200), nullable=False),
        sa.Column("fingerprint_vendor", sa.String(200), nullable=False),
        sa.Column("fingerprint_kind", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "asset_no", "conflict_no", name="pk_conflict"),
    )
    op.create_table(
        "annotation",
        sa.Column("asset_id", sa.String(400), nullable=False),
        sa.Column("role", sa.String(50), nullable=True),
        sa.Column("site", sa.String(400), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("removed_tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", name="pk_annotation"),
    )


def downgrade() -> None:
    for table in ("annotation", "conflict", "attribution", "asset", "observation"):
        op.drop_table(table)
    op.drop_index("ix_snapshot_source", table_name="snapshot")
    op.drop_table("snapshot")
