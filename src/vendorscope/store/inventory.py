"""The inventory: snapshots of assets and their evidence, in SQLite or PostgreSQL.

This is the store stage's one edge with side effects. ``open_inventory`` opens
(and migrates) a database; an ``Inventory`` writes one snapshot per ingest, in
one transaction, and answers the questions the CLI, the report and the web
app ask: which assets are there, what proves each, what changed.

Writes go straight to the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) with rows made by :mod:`vendorscope.store.rows`; reads go through
SQLAlchemy Core and :mod:`vendorscope.store.queries`.

Crash safety: readers only ever look at complete snapshots. ``write_snapshot``
commits a snapshot's rows and its ``complete`` flag together; a
``SnapshotWriter`` (what ``pipeline.ingest`` uses) commits each batch on its
own and sets the flag in a last transaction, so a writer killed at any point
leaves its snapshot incomplete (invisible, its rows unread) and every other
snapshot as it was. An error in the writing process removes its incomplete
snapshot; after a kill -9 its rows stay, unseen, until the next batched write
(any import, pcap, probe…) removes them (``remove_abandoned_snapshots``): on
PostgreSQL a writer holds an advisory lock while it writes, so a snapshot no
lock guards is abandoned, whichever host wrote it; on SQLite the snapshot
names its writer's host and process, and one whose process is gone is.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from vendorscope import __version__
from vendorscope.model import Annotation, Asset, Attribution, Conflict, Finding, Observation, Role
from vendorscope.resolve import (
    GUARDED_KEYS,
    annotation_for,
    annotation_ids,
    apply_annotation,
    group_assets,
    merge_by_id,
    merge_parts,
)
from vendorscope.resolve import asset_id as merged_asset_id
from vendorscope.store import rows as R
from vendorscope.store.models import (
    annotation_table,
    asset_key_table,
    asset_table,
    attribution_table,
    conflict_table,
    observation_table,
    result_cache_table,
    snapshot_table,
)
from vendorscope.store.queries import (
    Coverage,
    Diff,
    HistoryEntry,
    SnapshotInfo,
    annotations_key,
    coverage,
    coverage_from_json,
    coverage_json,
    coverage_progress,
    diff_assets,
    find_snapshot,
    history_entry,
    history_entry_from_json,
    history_entry_json,
    latest_per_source,
    matches,
    only_policy,
    result_key,
    updated_annotation,
)

VERSION_TABLE = "vendorscope_schema"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
OUR_TABLES = frozenset({"snapshot", "observation", "asset", "attribution", "conflict", "annotation", "result_cache",
                        "asset_key", VERSION_TABLE})
SQLITE_BUSY_TIMEOUT_S = 120.0
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-16000",
)
# Any constant will do: it only has to be the same for every vendorscope process.
PG_MIGRATION_LOCK = 0x76656E646F72  # "vendor"
BULK_CHUNK = 50_000
# Results kept per snapshot: enough for a few sets of criteria in use at once; older keys go.
RESULTS_PER_SNAPSHOT = 8
RESULT_CHUNK = 500
# A cache write waits this long for a lock, then gives up (the result is only not kept).
RESULT_WRITE_WAIT_MS = 500

Progress = Callable[[str, int], None]
# How the caller judges a list of assets on a date; the store only calls it (it imports no judge).
Judge = Callable[[Sequence[Asset], date], Iterable[Finding]]

MAX_NEAR_PARTS = 5000  # an asset page groups at most this many linked parts, else all
NEAR_CHUNK = 32  # key values searched per query (each one a LIKE over the key column)
MAX_NEAR_QUERIES = 8  # searches (each a scan of the key column) before grouping all parts is cheaper


class InventoryError(Exception):
    """A problem with the inventory a user can act on; the message is one line."""


class InventoryNotFound(InventoryError):
    pass


class NotAnInventory(InventoryError):
    pass


# ---------------------------------------------------------------- opening


def database_url(url_or_path: str) -> str:
    """A SQLAlchemy URL: plain paths are SQLite files, postgresql:// uses psycopg 3."""
    text = url_or_path.strip()
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser())
    scheme, rest = text.split("://", 1)
    if scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return text


def display_url(url: str) -> str:
    """The URL or path without any password, for messages."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or url
    return parsed.render_as_string(hide_password=True)


@contextmanager
def open_inventory(url_or_path: str, *, create: bool = True) -> Iterator[Inventory]:
    """Open an inventory, creating and migrating its schema as needed.

    ``create=False`` is for commands that only read: a missing SQLite file or a
    database without a vendorscope schema is then an ``InventoryError``.
    """
    url = database_url(url_or_path)
    engine = _create_engine(url, create)
    try:
        inventory = Inventory(engine, url)
        inventory.prepare(create)
        yield inventory
    finally:
        engine.dispose()


def _create_engine(url: str, create: bool) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise InventoryError(f"{url!r} is neither a file path nor a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(url, parsed.database or "", create)
    if backend == "postgresql":
        try:
            return sa.create_engine(url, pool_pre_ping=False)
        except ModuleNotFoundError:
            raise InventoryError(
                "PostgreSQL inventories need psycopg: pip install 'vendorscope[postgres]'"
            ) from None
    raise InventoryError(f"unsupported database {backend!r}: use a file path, sqlite:///PATH or postgresql://…")


def _create_sqlite_engine(url: str, path_text: str, create: bool) -> Engine:
    if not path_text or path_text == ":memory:":
        raise InventoryError("an inventory needs a file; an in-memory SQLite database would vanish")
    path = Path(path_text)
    if path.is_dir():
        raise InventoryError(f"{path}: is a directory, not an inventory file")
    if not path.exists():
        if not create:
            raise InventoryNotFound(
                f"{path}: no inventory there (collecting commands such as `vendorscope pcap` create it)"
            )
        if not path.parent.is_dir():
            raise InventoryError(f"{path.parent}: no such directory")
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the sqlite3 module, start transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front (waiting for it up to the busy timeout),
    # instead of failing when a read transaction tries to become a write one.
    mode = "IMMEDIATE" if connection.get_execution_options().get("for_write") else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


@lru_cache(maxsize=1)
def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# ---------------------------------------------------------------- the inventory


class Inventory:
    """One open inventory. Use :func:`open_inventory` to get one."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.name = display_url(url)
        self.dialect = engine.dialect.name

    # ---- schema

    def prepare(self, create: bool) -> None:
        """Check this is a vendorscope inventory and bring its schema to the newest version."""
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    current = self._schema_revisions(conn, create)
                if current == set(_script_directory().get_heads()):
                    return
                with self._write_transaction(conn):
                    if self.dialect == "postgresql":  # concurrent first opens: one migrates
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
                    if self._schema_revisions(conn, create) != set(_script_directory().get_heads()):
                        command.upgrade(_alembic_config(conn), "head")
        except InventoryError:
            raise
        except sa.exc.DatabaseError as exc:
            raise self._open_error(exc) from None

    def _schema_revisions(self, conn: Connection, create: bool) -> set[str]:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        current = set(context.get_current_heads())
        if current:
            known = {s.revision for s in _script_directory().walk_revisions()}
            if current - known:
                schema = ", ".join(sorted(current))
                raise InventoryError(
                    f"{self.name}: written by a newer vendorscope (schema {schema}); upgrade vendorscope"
                )
            return current
        tables = set(sa.inspect(conn).get_table_names())
        ours = tables & OUR_TABLES
        if ours or (tables and self.dialect == "sqlite"):
            raise NotAnInventory(
                f"{self.name}: not a vendorscope inventory (it has other tables and no schema version)"
            )
        if not create:
            raise NotAnInventory(f"{self.name}: not a vendorscope inventory (empty; collect into it first)")
        return current

    def _open_error(self, exc: sa.exc.DatabaseError) -> InventoryError:
        message = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if self.dialect == "sqlite":
            if "not a database" in message or "malformed" in message:
                return NotAnInventory(f"{self.name}: not a vendorscope inventory ({message})")
            return InventoryError(f"{self.name}: {message}")
        return InventoryError(f"cannot use {self.name}: {message}")

    @contextmanager
    def _write_transaction(self, conn: Connection) -> Iterator[Connection]:
        conn.execution_options(for_write=True)
        try:
            with conn.begin():
                yield conn
        finally:
            conn.execution_options(for_write=False)

    # ---- writing

    def write_snapshot(
        self,
        source: str,
        started_at: datetime,
        observations: Iterable[Observation],
        assets: Sequence[Asset],
        stats: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Store one run as one snapshot, in one transaction; returns the snapshot id.

        ``observations`` are those of the run; the ones in no asset are kept too.
        ``progress(table, rows_written)`` is called after every chunk of rows.
        """
        counts = R.SnapshotCounts()
        time = R.sqlite_time_encoder() if self.dialect == "sqlite" else R.aware_time_encoder()
        with _gc_paused(), self.engine.connect() as conn, self._write_transaction(conn):
            snapshot_id = self._insert_snapshot(conn, source, started_at, stats)
            writer = _BulkWriter(conn, progress)
            for encoded in R.encode_snapshot(snapshot_id, observations, assets, time, counts):
                writer.add(encoded)
            writer.flush()
            self._mark_complete(conn, snapshot_id, counts)
        return snapshot_id

    def snapshot_writer(self, source: str, started_at: datetime, stats: Mapping[str, Any] | None = None,
                        ) -> SnapshotWriter:
        """A writer that stores one run batch by batch (each batch its own transaction).

        The snapshot stays incomplete (invisible to readers) until ``finish``;
        a writer killed half-way leaves the earlier snapshots as they were.
        """
        return SnapshotWriter(self, source, started_at, stats)

    def iter_snapshot_assets(self, snapshot_id: int, chunk: int = 1000) -> Iterator[Asset]:
        """One snapshot's assets in the order they were written, read ``chunk`` asset numbers at a time."""
        a = asset_table.c
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(a.asset_no)).where(a.snapshot_id == snapshot_id)).scalar()
        if last is None:
            return
        for first in range(0, int(last) + 1, chunk):
            with self.engine.connect() as conn, _gc_paused():
                yield from self._load_snapshot_rows(conn, snapshot_id, None, True, no_range=(first, first + chunk))

    def _mark_complete(self, conn: Connection, snapshot_id: int, counts: R.SnapshotCounts,
                       stats: Mapping[str, Any] | None = None) -> None:
        """The snapshot's counts, finish time and ``complete`` flag (readers see it from now on); ``stats``
        replaces what was stored at the start (a batched writer's mark of its process)."""
        values: dict[str, Any] = {
            "complete": True, "finished_at": datetime.now(UTC), "observation_count": counts.observations,
            "asset_count": counts.assets, "attributed_count": counts.attributed,
            "attribution_count": counts.attributions, "conflict_count": counts.conflicts,
        }
        if stats is not None:
            values["stats"] = json.loads(R.encode_json(dict(stats)))
        conn.execute(snapshot_table.update().where(snapshot_table.c.id == snapshot_id).values(**values))

    def _insert_snapshot(self, conn: Connection, source: str, started_at: datetime,
                         stats: Mapping[str, Any] | None) -> int:
        result = conn.execute(
            snapshot_table.insert().values(
                source=R.clean_text(source),
                started_at=started_at,
                observation_count=0,
                asset_count=0,
                attributed_count=0,
                attribution_count=0,
                conflict_count=0,
                stats=json.loads(R.encode_json(dict(stats or {}))),
                tool_version=__version__,
                complete=False,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def _delete_assets(self, conn: Connection, snapshot_id: int, asset_nos: Sequence[int]) -> None:
        for table in (asset_table, observation_table, attribution_table, conflict_table):
            for start in range(0, len(asset_nos), RESULT_CHUNK):
                chunk = list(asset_nos[start:start + RESULT_CHUNK])
                conn.execute(table.delete().where(table.c.snapshot_id == snapshot_id, table.c.asset_no.in_(chunk)))

    def _delete_snapshot(self, conn: Connection, snapshot_id: int) -> None:
        # Children first: SQLite enforces no foreign keys here, so nothing cascades.
        for table in (asset_key_table, result_cache_table, conflict_table, attribution_table, observation_table,
                      asset_table):
            conn.execute(table.delete().where(table.c.snapshot_id == snapshot_id))
        conn.execute(snapshot_table.delete().where(snapshot_table.c.id == snapshot_id))

    def remove_abandoned_snapshots(self) -> list[int]:
        """Remove the snapshots whose writer died before finishing them (kill -9, power loss); their ids.

        A snapshot still being written stays: on PostgreSQL its writer holds an
        advisory lock (WRITER_LOCK_BASE + id), on SQLite its writer's process is
        alive or on another host (see ``writer_gone``).
        """
        s = snapshot_table.c
        removed: list[int] = []
        with self.engine.connect() as conn, self._write_transaction(conn):
            for snapshot_id, stats in conn.execute(sa.select(s.id, s.stats).where(s.complete.is_(False))).all():
                if self.dialect == "postgresql":
                    # Taken only if no writer holds it; a transaction lock, released at commit.
                    gone = bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"),
                                             {"key": WRITER_LOCK_BASE + snapshot_id}).scalar())
                else:
                    gone = writer_gone(stats.get(WRITER_MARK) if isinstance(stats, dict) else None)
                if gone:
                    self._delete_snapshot(conn, snapshot_id)
                    removed.append(snapshot_id)
        return removed

    def annotate(
        self,
        asset_id: str,
        role: Role | str | None = None,
        site: str | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
    ) -> Annotation:
        """Say what an asset is for and where it stands; kept across snapshots.

        ``site=""`` clears the site. Returns the annotation as it now stands.
        """
        if isinstance(role, str) and not isinstance(role, Role):
            if role not in Role.__members__:
                raise ValueError(f"unknown role {role!r}; roles: {', '.join(Role.__members__)}")
            role = Role(role)
        with self.engine.connect() as conn, self._write_transaction(conn):
            old = self._annotations(conn, [asset_id]).get(asset_id)
            new = updated_annotation(old, asset_id, role, R.clean_optional(site), add_tags, remove_tags)
            values = {
                "role": new.role.value if new.role else None,
                "site": new.site,
                "tags": sorted(new.tags),
                "removed_tags": sorted(new.removed_tags),
                "updated_at": datetime.now(UTC),
            }
            if old is None:
                conn.execute(annotation_table.insert().values(asset_id=asset_id, **values))
            else:
                conn.execute(annotation_table.update().where(annotation_table.c.asset_id == asset_id).values(**values))
        return new

    # ---- reading

    def snapshots(self) -> list[SnapshotInfo]:
        """Complete snapshots, oldest first."""
        s = snapshot_table.c
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(snapshot_table).where(s.complete.is_(True)).order_by(s.started_at, s.id))
            return [_snapshot_info(row) for row in found]

    def snapshot(self, ref: str | int) -> SnapshotInfo:
        """A snapshot by id or as ``latest`` / ``previous``; ``SnapshotRefError`` if none."""
        return find_snapshot(ref, self.snapshots())

    def assets(
        self,
        snapshot_id: int | None = None,
        vendor: str | None = None,
        site: str | None = None,
        role: Role | str | None = None,
        *,
        all_observations: bool = True,
    ) -> list[Asset]:
        """Assets, annotations applied, sorted by id.

        By default the inventory as it stands: the latest snapshot of each source,
        merged by asset id (the verdict reconciled again over all sources). With
        ``snapshot_id``, one snapshot's assets. ``vendor`` matches vendor or group.
        ``all_observations=False`` loads each piece of evidence once, with the
        context of its first sighting only (file and frame, port, row): enough to
        judge and to prove, much less to read.
        """
        wanted_role = Role(role) if isinstance(role, str) else role
        with _gc_paused(), self.engine.connect() as conn:
            assets = self._current_assets(conn, snapshot_id, None, all_observations)
            notes = self._annotations(conn)
            annotated = (apply_annotation(a, annotation_for(a, notes)) for a in assets)
            return [a for a in annotated if matches(a, vendor, site, wanted_role)]

    def asset(self, asset_id: str, snapshot_id: int | None = None) -> Asset | None:
        """One asset with its whole evidence chain, as the inventory stands (or as of a snapshot).

        An asset no longer in the current view is shown as its last snapshot saw it.
        """
        with self.engine.connect() as conn:
            found = self._current_assets(conn, snapshot_id, [asset_id], True)
            if not found and snapshot_id is None:
                last = self._snapshots_with(conn, asset_id)[-1:]
                found = self._load_snapshot(conn, last[0].id, [asset_id]) if last else []
            notes = self._annotations(conn, annotation_ids(found[0])) if found else {}
        return apply_annotation(found[0], annotation_for(found[0], notes)) if found else None

    def find_asset_id(self, text: str) -> str | None:
        """The asset id a user means: an id, or a bare MAC, IP, hostname, serial or asset tag."""
        text = text.strip()
        lowered = text.lower()
        candidates = [text] if ":" in text and text.split(":", 1)[0] in _KEY_PREFIXES else []
        candidates += [f"mac:{lowered}", f"serial:{text}", f"asset_tag:{text}", f"hostname:{lowered}", f"ip:{text}"]
        a = asset_table.c
        with self.engine.connect() as conn:
            present = set(
                conn.execute(sa.select(a.asset_id).where(a.asset_id.in_(candidates)).distinct()).scalars()
            )
            if not present:
                present |= set(conn.execute(
                    sa.select(annotation_table.c.asset_id).where(annotation_table.c.asset_id.in_(candidates))
                ).scalars())
            if not present:
                return self._asset_with_key(conn, text)
        return next((c for c in candidates if c in present), None)

    def _asset_with_key(self, conn: Connection, value: str) -> str | None:
        """The newest asset with ``value`` among any of its keys (an IP, a second MAC, …)."""
        a = asset_table.c
        keys_column = a["keys"]  # `a.keys` is the collection's own method
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = conn.execute(
            sa.select(a.asset_id, keys_column)
            .where(sa.cast(keys_column, sa.Text).ilike(f"%{escaped}%", escape="\\"))
            .order_by(a.snapshot_id.desc())
            .limit(1000)
        )
        wanted = value.lower()
        for asset_id, keys in found:
            if any(wanted == v.lower() for vs in (R.json_value(keys) or {}).values() for v in vs):
                return str(asset_id)
        return None

    def asset_snapshots(self, asset_id: str) -> list[SnapshotInfo]:
        """The complete snapshots in which an asset (or a part merged into it) was seen, oldest first."""
        with self.engine.connect() as conn:
            current = latest_per_source(self._complete_snapshots(conn))
            ids = self._merged_part_ids(conn, current, {asset_id})
            return self._snapshots_with(conn, *sorted(ids))

    def annotations(self) -> dict[str, Annotation]:
        with self.engine.connect() as conn:
            return self._annotations(conn)

    def diff(
        self, a: int, b: int, policy: str | None = None, judge: Judge | None = None, cache_key: str | None = None
    ) -> Diff:
        """What appeared, disappeared or was re-identified from snapshot ``a`` to ``b``; with ``judge``,
        also the assets each policy requirement covered in each (as of each snapshot's date).

        With ``cache_key`` (the caller's hash of how ``judge`` judges), each
        snapshot's coverage is kept and read back instead of judged again.
        """
        with _gc_paused(), self.engine.connect() as conn:
            known = {s.id: s for s in self._complete_snapshots(conn)}
            for ref in (a, b):
                if ref not in known:
                    raise InventoryError(f"no snapshot {ref} in {self.name}")
            notes = self._annotations(conn)
            before, after = (
                [apply_annotation(x, annotation_for(x, notes))
                 for x in self._load_snapshot(conn, ref, all_observations=False)]
                for ref in (a, b)
            )
            notes_key = annotations_key(notes) if judge is not None and cache_key is not None else None
            keys = {} if notes_key is None or cache_key is None else {
                ref: result_key("snapshot coverage", cache_key, notes_key, [ref]) for ref in (a, b)
            }
            kept = self._cached_results(conn, keys)
        changes = diff_assets(a, before, b, after)
        if judge is None:
            return changes
        covers: list[list[Coverage]] = []
        fresh: dict[tuple[int, str], str] = {}
        for ref, assets in ((a, before), (b, after)):
            cover = coverage_from_json(kept.get(ref))
            if cover is None:
                cover = coverage(judge(assets, known[ref].started_at.date()))
                if ref in keys:
                    fresh[(ref, keys[ref])] = coverage_json(cover)
            covers.append(only_policy(cover, policy) or [])
        self.keep_results(fresh)
        return dataclasses.replace(changes, progress=coverage_progress(covers[0], covers[1]))

    def history(
        self, policy: str | None = None, judge: Judge | None = None, cache_key: str | None = None
    ) -> list[HistoryEntry]:
        """The inventory after each snapshot, oldest first; with ``judge``, coverage per policy requirement.

        After snapshot *k* the inventory is the latest snapshot of each source up
        to *k*, merged; coverage counts the assets each requirement covers as of
        the snapshot's date (None without ``judge``). The store does not judge:
        :func:`vendorscope.assess.history` passes the judge the report uses.

        With ``cache_key`` (the caller's hash of how ``judge`` judges), each
        entry is kept under a key of that, the annotations and the snapshots
        merged; a later call reads the entries it finds and loads and judges
        only the others.
        """
        entries: list[HistoryEntry] = []
        fresh: dict[tuple[int, str], str] = {}
        with _gc_paused(), self.engine.connect() as conn:
            snapshots = self._complete_snapshots(conn)
            notes = self._annotations(conn)
            states = {s.id: latest_per_source(snapshots, up_to=s) for s in snapshots}
            purpose = "history" if judge is not None else "history unjudged"
            notes_key = annotations_key(notes) if cache_key is not None and snapshots else None
            keys = {} if notes_key is None or cache_key is None else {
                s.id: result_key(purpose, cache_key, notes_key, [x.id for x in states[s.id]]) for s in snapshots
            }
            kept = self._cached_results(conn, keys)
            loaded: dict[str, tuple[int, list[Asset]]] = {}  # per source: its latest snapshot so far
            for snapshot in snapshots:
                entry = history_entry_from_json(snapshot, kept.get(snapshot.id), judged=judge is not None)
                if entry is None:
                    state = states[snapshot.id]
                    for s in state:
                        if loaded.get(s.source, (None,))[0] != s.id:
                            loaded[s.source] = (s.id, self._load_snapshot(conn, s.id, all_observations=False))
                    merged = merge_by_id(loaded[s.source][1] for s in state)
                    assets = [apply_annotation(x, annotation_for(x, notes)) for x in merged]
                    cover = None if judge is None else coverage(judge(assets, snapshot.started_at.date()))
                    entry = history_entry(snapshot, assets, cover)
                    if snapshot.id in keys:
                        fresh[(snapshot.id, keys[snapshot.id])] = history_entry_json(entry)
                entries.append(dataclasses.replace(entry, coverage=only_policy(entry.coverage, policy)))
        self.keep_results(fresh)
        return entries

    # ---- results kept per snapshot

    def _cached_results(self, conn: Connection, keys: Mapping[int, str]) -> dict[int, str]:
        """The values kept for (snapshot, key); a read that fails is only a miss."""
        if not keys:
            return {}
        r = result_cache_table.c
        wanted = sorted(set(keys.values()))
        found: dict[int, str] = {}
        try:
            with conn.begin_nested():
                for start in range(0, len(wanted), RESULT_CHUNK):
                    chunk = wanted[start:start + RESULT_CHUNK]
                    for snapshot_id, key, value in conn.execute(
                        sa.select(r.snapshot_id, r.key, r.value).where(r.key.in_(chunk))
                    ):
                        if keys.get(snapshot_id) == key and isinstance(value, str):
                            found[snapshot_id] = value
        except sa.exc.DBAPIError:
            return {}
        return found

    def keep_results(self, values: Mapping[tuple[int, str], str]) -> bool:
        """Keep results computed from snapshots (JSON text per (snapshot id, key)), all or none.

        Only time depends on it: a write that fails (locked, refused, a snapshot
        deleted meanwhile) is given up quickly and reported by returning False.
        Each snapshot keeps the results of its newest ``RESULTS_PER_SNAPSHOT`` keys.
        """
        if not values:
            return True
        now = datetime.now(UTC)
        rows = [{"snapshot_id": sid, "key": key, "value": value, "created_at": now}
                for (sid, key), value in sorted(values.items())]
        try:
            with self.engine.connect() as conn, self._brief_lock_wait(conn), self._write_transaction(conn):
                if self.dialect == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {RESULT_WRITE_WAIT_MS}")
                insert = (sqlite_insert if self.dialect == "sqlite" else postgresql_insert)(result_cache_table)
                replace = {"value": insert.excluded.value, "created_at": insert.excluded.created_at}
                # A kept value that was unreadable is written again, not left to miss forever.
                conn.execute(insert.on_conflict_do_update(index_elements=["snapshot_id", "key"], set_=replace), rows)
                self._evict_results(conn, sorted({sid for sid, _ in values}))
        except sa.exc.DBAPIError:
            return False
        return True

    @contextmanager
    def _brief_lock_wait(self, conn: Connection) -> Iterator[None]:
        """On SQLite, wait only briefly for the write lock (not minutes behind an ingest)."""
        if self.dialect != "sqlite":
            yield
            return
        raw: Any = conn.connection.driver_connection  # outside any transaction: before BEGIN IMMEDIATE waits
        raw.execute(f"PRAGMA busy_timeout = {RESULT_WRITE_WAIT_MS}")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")

    def _evict_results(self, conn: Connection, snapshot_ids: Sequence[int]) -> None:
        r = result_cache_table.c
        for start in range(0, len(snapshot_ids), RESULT_CHUNK):
            chunk = snapshot_ids[start:start + RESULT_CHUNK]
            per_snapshot: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
            for sid, key, created in conn.execute(
                sa.select(r.snapshot_id, r.key, r.created_at).where(r.snapshot_id.in_(chunk))
            ):
                per_snapshot[sid].append((created, key))
            for sid, kept in per_snapshot.items():
                stale = [key for _, key in sorted(kept, reverse=True)[RESULTS_PER_SNAPSHOT:]]
                if stale:
                    conn.execute(result_cache_table.delete().where(r.snapshot_id == sid, r.key.in_(stale)))

    # ---- loading

    def _complete_snapshots(self, conn: Connection) -> list[SnapshotInfo]:
        s = snapshot_table.c
        found = conn.execute(sa.select(snapshot_table).where(s.complete.is_(True)).order_by(s.started_at, s.id))
        return [_snapshot_info(row) for row in found]

    def _snapshots_with(self, conn: Connection, *asset_ids: str) -> list[SnapshotInfo]:
        s, a = snapshot_table.c, asset_table.c
        found = conn.execute(
            sa.select(snapshot_table)
            .where(s.complete.is_(True), s.id.in_(sa.select(a.snapshot_id).where(a.asset_id.in_(asset_ids))))
            .order_by(s.started_at, s.id)
        )
        return [_snapshot_info(row) for row in found]

    def _current_assets(
        self, conn: Connection, snapshot_id: int | None, asset_ids: Collection[str] | None, all_observations: bool
    ) -> list[Asset]:
        snapshots = self._complete_snapshots(conn)
        if snapshot_id is not None:
            if snapshot_id not in {s.id for s in snapshots}:
                raise InventoryError(f"no snapshot {snapshot_id} in {self.name}")
            return sorted(self._load_snapshot(conn, snapshot_id, asset_ids, all_observations), key=lambda x: x.id)
        current = latest_per_source(snapshots)
        if asset_ids is not None:
            # Parts of one device may carry other ids in other sources (a probe's
            # ip:…, an inventory row's serial:…): find every part that merges with
            # the ids asked for, then load just those parts in full.
            asset_ids = self._merged_part_ids(conn, current, set(asset_ids))
        return merge_by_id(self._load_snapshot(conn, s.id, asset_ids, all_observations) for s in current)

    def _merged_part_ids(self, conn: Connection, current: Sequence[SnapshotInfo], wanted: set[str]) -> set[str]:
        near = self._parts_sharing_keys(conn, current, wanted)
        if near is None:  # too many parts share keys with it: group them all
            parts = [a for s in current for a in self._load_snapshot(conn, s.id, None, False)]
        else:
            # Only parts that share a key, directly or through another part, can merge with the ones
            # wanted; grouped in the same order as all parts would be, they group the same way.
            parts = [a for s in current if near.get(s.id)
                     for a in self._load_snapshot(conn, s.id, near[s.id], False)]
        found = set(wanted)
        for group in group_assets(parts):
            members = [parts[i] for i in group]
            keys: dict[str, set[str]] = {}
            for member in members:
                for name, values in member.keys.items():
                    keys.setdefault(name, set()).update(values)
            if merged_asset_id(keys) in wanted or any(m.id in wanted for m in members):
                found.update(m.id for m in members)
        return found

    def _parts_sharing_keys(self, conn: Connection, current: Sequence[SnapshotInfo], wanted: set[str],
                            ) -> dict[int, set[str]] | None:
        """The ids, per snapshot, of the parts linked to ``wanted`` ids by shared keys, found by
        searching the key columns (no full load); None beyond :data:`MAX_NEAR_PARTS` parts or
        :data:`MAX_NEAR_QUERIES` searches (a NAT address shared by thousands: grouping all is cheaper)."""
        a = asset_table.c
        keys_column = a["keys"]  # `a.keys` is the collection's own method
        snapshot_ids = [s.id for s in current]
        seen_keys: set[tuple[str, str]] = set()
        pending: set[tuple[str, str]] = {(w.split(":", 1)[0], w.split(":", 1)[1]) for w in wanted if ":" in w}
        near: dict[int, set[str]] = defaultdict(set)
        rows_seen: set[tuple[int, int]] = set()
        queries = 0
        while pending:
            queries += 1
            if queries > MAX_NEAR_QUERIES:
                return None
            batch = sorted(pending - seen_keys)[:NEAR_CHUNK]
            pending -= set(batch)
            seen_keys.update(batch)
            if not batch:
                continue
            patterns = [sa.cast(keys_column, sa.Text).like(f"%{_like_escape(json.dumps(value, ensure_ascii=False))}%",
                                                           escape="\\") for _name, value in batch]
            wanted_keys = set(batch)
            query = sa.select(a.snapshot_id, a.asset_no, a.asset_id, keys_column).where(
                a.snapshot_id.in_(snapshot_ids), sa.or_(a.asset_id.in_([f"{n}:{v}" for n, v in batch]), *patterns))
            for snapshot_id, asset_no, asset_id, keys in conn.execute(query):
                if (snapshot_id, asset_no) in rows_seen:
                    continue
                decoded = R.json_value(keys) or {}
                pairs = {(name, str(v)) for name, values in decoded.items() for v in values}
                if not pairs & wanted_keys and asset_id not in {f"{n}:{v}" for n, v in batch}:
                    continue  # the text matched inside another value
                rows_seen.add((snapshot_id, asset_no))
                if len(rows_seen) > MAX_NEAR_PARTS:
                    return None
                near[snapshot_id].add(str(asset_id))
                pending |= pairs - seen_keys
        return near

    def _load_snapshot(
        self,
        conn: Connection,
        snapshot_id: int,
        asset_ids: Collection[str] | None = None,
        all_observations: bool = True,
    ) -> list[Asset]:
        """One snapshot's assets (all, or those with the given ids) with their evidence.

        ``all_observations=False`` skips the sightings: one observation per
        observation row and one attribution per attribution row.
        """
        with _gc_paused():
            return self._load_snapshot_rows(conn, snapshot_id, asset_ids, all_observations)

    def _load_snapshot_rows(
        self, conn: Connection, snapshot_id: int, asset_ids: Collection[str] | None, all_observations: bool,
        asset_nos: Collection[int] | None = None, no_range: tuple[int, int] | None = None,
    ) -> list[Asset]:
        """``asset_nos`` or ``no_range`` (first, end) pick assets by number instead of by id."""
        a, o, t, c = asset_table.c, observation_table.c, attribution_table.c, conflict_table.c
        query = sa.select(asset_table).where(a.snapshot_id == snapshot_id)
        if asset_ids is not None:
            query = query.where(a.asset_id.in_(list(asset_ids)))
        if asset_nos is not None:
            query = query.where(a.asset_no.in_(list(asset_nos)))
        if no_range is not None:
            query = query.where(a.asset_no >= no_range[0], a.asset_no < no_range[1])
        asset_rows = conn.execute(query.order_by(a.asset_no)).all()
        if not asset_rows:
            return []
        numbers = None if asset_ids is None and asset_nos is None else [row.asset_no for row in asset_rows]

        def of_these_assets(columns: list[Any], table: sa.Table) -> sa.Select[Any]:
            # One lower bound only: given "asset_no >= 0 AND asset_no >= first", SQLite's planner searched
            # from 0, so reading a snapshot back chunk by chunk was quadratic in its size.
            lower = 0 if no_range is None else max(0, no_range[0])
            select = sa.select(*columns).where(table.c.snapshot_id == snapshot_id, table.c.asset_no >= lower)
            if no_range is not None:
                select = select.where(table.c.asset_no < no_range[1])
            return select if numbers is None else select.where(table.c.asset_no.in_(numbers))

        # Condensed: only the first sighting's context (file, frame, port, row), extracted by the database.
        with_sightings = [sa.cast(o.sightings, sa.Text) if all_observations else o.sightings[(0, 2)]]
        evidence: dict[int, dict[int, R.LoadedEvidence]] = defaultdict(dict)
        width = len(R.OBSERVATION_READ)
        obs_query = of_these_assets([*(o[n] for n in R.OBSERVATION_READ), *with_sightings], observation_table)
        for row in conn.execute(obs_query.order_by(o.asset_no, o.observation_no)):
            evidence[row[0]][row[1]] = (R.decode_observation(row[:width], row[width]) if all_observations
                                        else R.decode_observation(row[:width], None, row[width]))
        observations = {row.asset_no: _observations(evidence.get(row.asset_no, {}), row.observation_count,
                                                    all_observations) for row in asset_rows}

        attributions: dict[int, list[tuple[int, Attribution]]] = defaultdict(list)
        width = len(R.ATTRIBUTION_READ)
        with_positions = [sa.cast(t.sightings, sa.Text)] if all_observations else []
        att_query = of_these_assets([*(t[n] for n in R.ATTRIBUTION_READ), *with_positions], attribution_table)
        for row in conn.execute(att_query.order_by(t.asset_no, t.attribution_no)):
            asset_no, observation_no = row[0], row[1]
            loaded = evidence[asset_no].get(observation_no) if observation_no is not None else None
            attributions[asset_no].extend(R.decode_attributions(
                row[:width], row[width] if all_observations else None, loaded, observations.get(asset_no, [])
            ))
        conflicts: dict[int, list[Conflict]] = defaultdict(list)
        con_query = of_these_assets([c[n] for n in R.CONFLICT_READ], conflict_table)
        for row in conn.execute(con_query.order_by(c.asset_no, c.conflict_no)):
            conflicts[row[0]].append(R.decode_conflict(row))
        return [
            R.asset_from_row(
                row,
                [x for x in observations[row.asset_no] if x is not None],
                [att for _, att in sorted(attributions.get(row.asset_no, []), key=_first)],
                conflicts.get(row.asset_no, []),
            )
            for row in asset_rows
        ]

    def _annotations(self, conn: Connection, asset_ids: Collection[str] | None = None) -> dict[str, Annotation]:
        query = sa.select(annotation_table)
        if asset_ids is not None:
            query = query.where(annotation_table.c.asset_id.in_(list(asset_ids)))
        return {row.asset_id: _annotation(row) for row in conn.execute(query)}


_KEY_PREFIXES = ("mac", "ip", "hostname", "serial", "asset_tag", "unknown")


def _snapshot_info(row: Any) -> SnapshotInfo:
    return SnapshotInfo(
        id=row.id,
        source=row.source,
        started_at=row.started_at,
        finished_at=row.finished_at,
        observations=row.observation_count,
        assets=row.asset_count,
        attributed=row.attributed_count,
        attributions=row.attribution_count,
        conflicts=row.conflict_count,
        stats=dict(R.json_value(row.stats) or {}),
        tool_version=row.tool_version,
    )


def _annotation(row: Any) -> Annotation:
    return Annotation(
        asset_id=row.asset_id,
        role=R.role_of(row.role) if row.role else None,
        site=row.site,
        tags=frozenset(R.json_value(row.tags) or ()),
        removed_tags=frozenset(R.json_value(row.removed_tags) or ()),
    )


def _observations(
    evidence: Mapping[int, R.LoadedEvidence], count: int, all_observations: bool
) -> list[Observation | None]:
    """An asset's observations in their original order (condensed: one per row)."""
    if not all_observations:
        return [e.sightings[0][1] for e in evidence.values()]
    placed: list[Observation | None] = [None] * count
    for e in evidence.values():
        for position, observation in e.sightings:
            if 0 <= position < count:
                placed[position] = observation
    return placed


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while making or reading rows by the hundred thousand.

    Those objects hold no cycles, but each full collection walks every object
    alive (a million observations, in a big ingest): it would cost more than the
    work itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _first(item: tuple[int, Any]) -> int:
    return item[0]


class _BulkWriter:
    """Buffers rows per table and writes them in chunks: executemany on SQLite, COPY on PostgreSQL."""

    TABLES = ("asset", "observation", "attribution", "conflict", "asset_key")

    def __init__(self, conn: Connection, progress: Progress | None, chunk: int = BULK_CHUNK) -> None:
        self.raw: Any = conn.connection.driver_connection
        self.sqlite = conn.dialect.name == "sqlite"
        quote = conn.dialect.identifier_preparer.quote
        columns = {"asset": R.ASSET_COLUMNS, "observation": R.OBSERVATION_COLUMNS,
                   "attribution": R.ATTRIBUTION_COLUMNS, "conflict": R.CONFLICT_COLUMNS,
                   "asset_key": R.ASSET_KEY_COLUMNS}
        self.statements = {
            table: (
                f"INSERT INTO {quote(table)} ({', '.join(map(quote, cols))}) VALUES ({', '.join('?' * len(cols))})"
                if self.sqlite
                else f"COPY {quote(table)} ({', '.join(map(quote, cols))}) FROM STDIN"
            )
            for table, cols in columns.items()
        }
        self.buffers: dict[str, list[R.Row]] = {table: [] for table in self.TABLES}
        self.buffered = 0
        self.written = dict.fromkeys(self.TABLES, 0)
        self.progress = progress
        self.chunk = chunk

    def add(self, encoded: R.EncodedAsset) -> None:
        if encoded.asset is not None:
            self.buffers["asset"].append(encoded.asset)
        self.buffers["observation"] += encoded.observations
        self.buffers["attribution"] += encoded.attributions
        self.buffers["conflict"] += encoded.conflicts
        self.buffered += 1 + len(encoded.observations) + len(encoded.attributions) + len(encoded.conflicts)
        if self.buffered >= self.chunk:
            self.flush()

    def add_rows(self, table: str, rows: list[R.Row]) -> None:
        self.buffers[table] += rows
        self.buffered += len(rows)
        if self.buffered >= self.chunk:
            self.flush()

    def flush(self) -> None:
        for table in self.TABLES:
            rows = self.buffers[table]
            if not rows:
                continue
            if self.sqlite:
                self.raw.executemany(self.statements[table], rows)
            else:
                with self.raw.cursor() as cursor, cursor.copy(self.statements[table]) as copy:
                    for row in rows:
                        copy.write_row(row)
            self.written[table] += len(rows)
            self.buffers[table] = []
            if self.progress:
                self.progress(table, self.written[table])
        self.buffered = 0


# ---------------------------------------------------------------- writing batch by batch

KEY_CHUNK = 500
# Tests set this to compare with loading every stored holder of a host name or address.
_LOAD_EVERY_HOLDER = False


# PostgreSQL: a batched writer holds the advisory lock WRITER_LOCK_BASE + snapshot id from before its
# snapshot is first committed until it is complete or removed, so a snapshot left incomplete by a killed
# writer is told apart from one still being written, from any host.
WRITER_LOCK_BASE = 0x7673 << 32
# An incomplete snapshot's stats name its writer: host, process id and the process's start time (so a
# process id used again by another process does not keep a dead writer's snapshot alive).
WRITER_MARK = "_writer"


def writer_mark() -> dict[str, Any]:
    """What names this process as a snapshot's writer."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _process_start(pid: int) -> int | None:
    """When a process started (clock ticks after boot, from Linux's /proc); None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; fields after the name start at 3
    except (OSError, IndexError, ValueError):
        return None


def writer_gone(mark: Any) -> bool:
    """Whether the process a snapshot names as its writer is provably gone: same host, and no process of that
    id, or another one started later. A writer on another host, or an unreadable mark, is never judged gone."""
    if not isinstance(mark, dict) or mark.get("host") != socket.gethostname():
        return False
    pid = mark.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return False
    if Path("/proc/self/stat").exists():
        start = _process_start(pid)
        return start is None or start != mark.get("start")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class SnapshotWriter:
    """Writes one snapshot in batches: each ``add`` is one transaction, ``finish`` marks it complete.

    A device seen in two batches is one asset: each asset's keys are kept in
    ``asset_key`` while the snapshot is written, an asset of a later batch that
    shares a key with a stored one is merged with it (``resolve.merge_parts``,
    the rules the store uses across sources) and the stored one rewritten. The
    writer itself keeps only counters, so memory does not grow with the input.
    """

    def __init__(self, inventory: Inventory, source: str, started_at: datetime,
                 stats: Mapping[str, Any] | None) -> None:
        self.inventory = inventory
        self.source = source
        self.started_at = started_at
        self.stats = stats
        self.snapshot_id: int | None = None
        self.counts = R.SnapshotCounts()
        self.next_no = 0
        self.loose_no = 0
        self.merged = 0
        self.time = R.sqlite_time_encoder() if inventory.dialect == "sqlite" else R.aware_time_encoder()
        self._lock: Connection | None = None  # PostgreSQL: the connection holding the writer's advisory lock

    def add(self, observations: Sequence[Observation], assets: Sequence[Asset]) -> None:
        """Store one batch: its assets (resolved from ``observations``), merged with stored ones sharing a key."""
        inventory = self.inventory
        if self.snapshot_id is None:
            self._remove_abandoned()
        with _gc_paused(), inventory.engine.connect() as conn, inventory._write_transaction(conn):
            if self.snapshot_id is None:
                self.snapshot_id = inventory._insert_snapshot(
                    conn, self.source, self.started_at, {**(self.stats or {}), WRITER_MARK: writer_mark()})
                self._hold_lock(self.snapshot_id)  # before the snapshot is committed, so never seen unguarded
            snapshot_id = self.snapshot_id
            writer = _BulkWriter(conn, None)
            fresh: list[Asset] = list(assets)
            rewritten: list[tuple[int, Asset]] = []
            if self.next_no:
                stored = self._stored_numbers(conn, assets)
                if stored:
                    fresh, rewritten = self._merge_with_stored(conn, assets, stored)
            new_keys: list[R.Row] = []
            for asset in fresh:
                no = self.next_no
                self.next_no += 1
                self.counts.add(asset)
                writer.add(R.encode_asset(snapshot_id, no, asset, self.time))
                new_keys.extend(_key_rows(snapshot_id, no, asset))
            for no, asset in rewritten:
                self.counts.add(asset)
                writer.add(R.encode_asset(snapshot_id, no, asset, self.time))
            loose = R.loose_observations(observations, assets)
            if loose:
                self.counts.observations += len(loose)
                rows, _ = R.encode_observations(snapshot_id, R.NO_ASSET, loose, self.time)
                writer.add(R.EncodedAsset(None, [(*r[:2], r[2] + self.loose_no, *r[3:]) for r in rows], [], []))
                self.loose_no += len(rows)
            writer.add_rows("asset_key", new_keys)
            writer.flush()
            if rewritten:
                insert = (sqlite_insert if inventory.dialect == "sqlite" else postgresql_insert)(asset_key_table)
                merged_keys = [dict(zip(R.ASSET_KEY_COLUMNS, row, strict=True))
                               for no, asset in rewritten for row in _key_rows(snapshot_id, no, asset)]
                conn.execute(insert.on_conflict_do_nothing(), merged_keys)

    def _remove_abandoned(self) -> None:
        """Clean up after writers killed earlier, before this one starts (best effort: it only frees space)."""
        with suppress(sa.exc.DBAPIError):
            self.inventory.remove_abandoned_snapshots()

    def _hold_lock(self, snapshot_id: int) -> None:
        if self.inventory.dialect != "postgresql":
            return
        self._lock = self.inventory.engine.connect()
        self._lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": WRITER_LOCK_BASE + snapshot_id})
        self._lock.commit()  # a session lock: it outlives this transaction, and the connection stays idle

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            lock.execute(sa.text("SELECT pg_advisory_unlock_all()"))  # a pooled connection must not keep it
            lock.commit()
        except sa.exc.DBAPIError:
            lock.invalidate()  # closing the session frees the lock
        finally:
            lock.close()

    def _stored_numbers(self, conn: Connection, assets: Sequence[Asset]) -> dict[tuple[str, str], set[int]]:
        """The stored assets of this snapshot that can merge with these, by the key they share.

        A host name or address (GUARDED_KEYS) is tried by group_assets against the first asset
        holding it only: of the stored ones, the one written first (the lowest number). The
        others holding it were kept apart from that one when they were stored (their own MACs,
        or an address reused after the IP window), so they stay as they are whatever this batch
        brings and are not loaded: thousands of devices behind one address cost each later batch
        one row, not thousands.
        """
        k = asset_key_table.c
        wanted: dict[str, set[str]] = defaultdict(set)
        for asset in assets:
            for name, values in asset.keys.items():
                wanted[name].update(values)
        found: dict[tuple[str, str], set[int]] = defaultdict(set)
        for name, values in sorted(wanted.items()):
            ordered = sorted(values)
            for start in range(0, len(ordered), KEY_CHUNK):
                chunk = ordered[start:start + KEY_CHUNK]
                where = (k.snapshot_id == self.snapshot_id, k.name == name, k.value.in_(chunk))
                query = (sa.select(k.value, sa.func.min(k.asset_no)).where(*where).group_by(k.value)
                         if name in GUARDED_KEYS and not _LOAD_EVERY_HOLDER else
                         sa.select(k.value, k.asset_no).where(*where))
                for value, no in conn.execute(query):
                    found[(name, value)].add(no)
        return found

    def _merge_with_stored(
        self, conn: Connection, assets: Sequence[Asset], stored: Mapping[tuple[str, str], set[int]]
    ) -> tuple[list[Asset], list[tuple[int, Asset]]]:
        """(assets to store under new numbers, (number, asset) to store again after merging)."""
        assert self.snapshot_id is not None
        touching = [a for a in assets
                    if any((name, v) in stored for name, values in a.keys.items() for v in values)]
        untouched = [a for a in assets
                     if not any((name, v) in stored for name, values in a.keys.items() for v in values)]
        numbers = sorted({no for nos in stored.values() for no in nos})
        old: list[tuple[int, Asset]] = []
        for start in range(0, len(numbers), KEY_CHUNK):
            chunk = numbers[start:start + KEY_CHUNK]
            rows = self.inventory._load_snapshot_rows(conn, self.snapshot_id, None, True, asset_nos=chunk)
            old.extend(zip(self._numbers_of(conn, chunk), rows, strict=True))
        parts = [a for _, a in old] + touching
        fresh = list(untouched)
        rewritten: list[tuple[int, Asset]] = []
        replaced: list[int] = []
        for group in group_assets(parts):
            members = sorted(group)  # stored parts first, in the order they were written
            olds = [old[i][0] for i in members if i < len(old)]
            merged = merge_parts([parts[i] for i in members])
            if not olds:
                fresh.append(merged)
                continue
            if all(i < len(old) for i in members):
                continue  # stored assets nothing new merged into stay as they were
            for i in members:
                if i < len(old):
                    self.counts.remove(old[i][1])
            replaced.extend(olds)
            rewritten.append((min(olds), merged))
            self.merged += 1
        if replaced:
            self.inventory._delete_assets(conn, self.snapshot_id, sorted(replaced))
        fresh.sort(key=lambda a: a.id)
        return fresh, rewritten

    def _numbers_of(self, conn: Connection, chunk: Sequence[int]) -> list[int]:
        a = asset_table.c
        query = sa.select(a.asset_no).where(a.snapshot_id == self.snapshot_id, a.asset_no.in_(list(chunk)))
        return [row[0] for row in conn.execute(query.order_by(a.asset_no))]

    def finish(self) -> int:
        """Mark the snapshot complete (with its counts and ``stats`` as they now stand); returns its id."""
        try:
            return self._finish()
        finally:
            self._release_lock()

    def _finish(self) -> int:
        inventory = self.inventory
        with inventory.engine.connect() as conn, inventory._write_transaction(conn):
            if self.snapshot_id is None:
                self.snapshot_id = inventory._insert_snapshot(conn, self.source, self.started_at, self.stats)
            conn.execute(asset_key_table.delete().where(asset_key_table.c.snapshot_id == self.snapshot_id))
            inventory._mark_complete(conn, self.snapshot_id, self.counts, self.stats or {})
        return self.snapshot_id

    def abandon(self) -> None:
        """Remove the incomplete snapshot (after an error); a failure here only leaves it incomplete."""
        if self.snapshot_id is None:
            return
        inventory = self.inventory
        try:
            with inventory.engine.connect() as conn, inventory._write_transaction(conn):
                inventory._delete_snapshot(conn, self.snapshot_id)
        except sa.exc.DBAPIError:
            pass
        finally:
            self._release_lock()


def _key_rows(snapshot_id: int, asset_no: int, asset: Asset) -> list[R.Row]:
    return [(snapshot_id, name, R.clean_text(value), asset_no)
            for name, values in asset.keys.items() for value in values]


def _like_escape(text: str) -> str:
    """``text`` matched literally by LIKE … ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
