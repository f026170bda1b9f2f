"""The store: snapshots of assets and their evidence (see inventory.py)."""

# The inventory every command uses when no --db is given: a SQLite file in the working directory.
DEFAULT_DB = "vendorscope.db"
