"""A job's configuration, so that a watch started from the web survives a server restart.

Revision ID: 0005_watch_config
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# A name, not only a number: branches adding their own 0005 cannot take the same revision id.
revision = "0005_watch_config"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: SQLite adds it in place (ALTER TABLE ADD COLUMN), no table copy.
    op.add_column("web_job", sa.Column("config", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_job") as batch:
        batch.drop_column("config")
