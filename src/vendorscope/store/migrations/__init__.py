"""Alembic migrations of the inventory schema; run by ``Inventory`` on open."""
