"""Alembic environment: runs on the connection the inventory hands over.

The inventory opens the connection, takes its lock (an advisory lock on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and passes it in
``config.attributes["connection"]``; migrations run inside that transaction.
For a developer's ``alembic revision --autogenerate``, a URL in
``sqlalchemy.url`` works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vendorscope.store.models import Base

VERSION_TABLE = "vendorscope_schema"

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///vendorscope.db")
    with engine.begin() as conn:
        _run(conn)
