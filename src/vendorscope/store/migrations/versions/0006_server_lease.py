"""Each server's lease and each job's owner, so that two servers over one inventory do not take each
other's jobs.

Revision ID: 0006_server_lease
Revises: 0005_watch_config
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vendorscope.store.models import UTCDateTime

# A name, not only a number: branches adding their own 0006 cannot take the same revision id.
revision = "0006_server_lease"
down_revision = "0005_watch_config"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_server",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_server"),
    )
    # A nullable column: SQLite adds it in place (ALTER TABLE ADD COLUMN), no table copy. Jobs from
    # before have no owner: a starting server treats them as a stopped server's, as it always did.
    op.add_column("web_job", sa.Column("owner", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_job") as batch:
        batch.drop_column("owner")
    op.drop_table("web_server")
