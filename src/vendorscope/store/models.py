"""The inventory's tables: snapshots, and what each snapshot saw.

Every ingest is one ``snapshot``. Its rows in ``observation``, ``asset``,
``attribution`` and ``conflict`` are keyed by ``(snapshot_id, number)``, so
that a writer needs no ids from the database besides the snapshot's own: rows
go in by bulk insert (or COPY), and two writers never contend for ids.

Child rows are keyed ``(snapshot_id, asset_no, number)``: one asset's
evidence chain is a primary-key range scan, with no secondary index to
maintain on the big tables. Repeated evidence (the same banner in a thousand
frames) is one ``observation`` row listing its sightings, and the identical
attributions of those sightings one ``attribution`` row: a capture's million
observations become a few hundred thousand rows, and every sighting's time
and context (file, frame, port, probe) is still there.

``result_cache`` keeps what was computed from a snapshot (its judged
coverage, say) under a key the caller makes from everything the result
depends on; the store keeps the value as opaque JSON text and never judges.

``annotation`` holds what a person said about an asset (role, site, tags). It
is keyed by the stable asset id, lives outside snapshots and is applied when
assets are loaded, so it survives every later snapshot.

Times are stored in UTC (``UTCDateTime``) and come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Names for constraints and indexes, so that migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored as UTC; naive values are taken to be UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Snapshot(Base):
    """One run of a collector: its source, its time and what it counted."""

    __tablename__ = "snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    observation_count: Mapped[int] = mapped_column(default=0)
    asset_count: Mapped[int] = mapped_column(default=0)
    attributed_count: Mapped[int] = mapped_column(default=0)
    attribution_count: Mapped[int] = mapped_column(default=0)
    conflict_count: Mapped[int] = mapped_column(default=0)
    stats: Mapped[dict[str, Any] | None]
    tool_version: Mapped[str | None] = mapped_column(String(50))
    # Set in the same transaction as the rows; readers only see complete snapshots.
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class ObservationRow(Base):
    """One distinct piece of evidence of an asset, with every time it was seen.

    A banner seen in 500 frames is one row whose ``sightings`` list the 500
    (position in the asset's observations, time, context such as file and
    frame): the evidence chain is whole, and the table stays small.
    """

    __tablename__ = "observation"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    # -1 for observations that belong to no asset.
    asset_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    observation_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(1000))
    mac: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    hostname: Mapped[str | None] = mapped_column(String(300))
    serial: Mapped[str | None] = mapped_column(String(300))
    asset_tag: Mapped[str | None] = mapped_column(String(300))
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    sighting_count: Mapped[int]
    # [[position, seen_at (ISO 8601 or null), context (object or null)], ...]
    sightings: Mapped[list[Any]]


class AssetRow(Base):
    """One merged device as one snapshot saw it, with its verdict."""

    __tablename__ = "asset"
    __table_args__ = (Index("ix_asset_asset_id", "asset_id"),)

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    asset_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    asset_id: Mapped[str] = mapped_column(String(400))
    keys: Mapped[dict[str, Any]]
    vendor: Mapped[str | None] = mapped_column(String(200))
    vendor_name: Mapped[str | None] = mapped_column(String(400))
    vendor_group: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    product: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(50), default="unknown")
    site: Mapped[str | None] = mapped_column(String(400))
    tags: Mapped[list[Any]]
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    observation_count: Mapped[int]
    evidence_count: Mapped[int]


class AttributionRow(Base):
    """What one rule or lookup said about one observation of an asset.

    Identical attributions of the sightings of one observation share a row;
    ``sightings`` lists [index among the asset's attributions, position of the
    observation it came from (or null)], so the asset comes back exactly.
    """

    __tablename__ = "attribution"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    asset_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    attribution_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # The observation row (same snapshot and asset) the rule fired on; NULL if none.
    observation_no: Mapped[int | None]
    vendor: Mapped[str] = mapped_column(String(200))
    vendor_name: Mapped[str] = mapped_column(String(400))
    vendor_group: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(400))
    confidence: Mapped[float] = mapped_column(Float)
    product: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[str | None] = mapped_column(String(200))
    sightings: Mapped[list[Any]]


class ConflictRow(Base):
    """A label and a fingerprint of one asset that name different vendors."""

    __tablename__ = "conflict"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    asset_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    conflict_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label_vendor: Mapped[str] = mapped_column(String(200))
    label_kind: Mapped[str] = mapped_column(String(200))
    fingerprint_vendor: Mapped[str] = mapped_column(String(200))
    fingerprint_kind: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)


class AssetKeyRow(Base):
    """A key (MAC, serial, asset tag, host name, IP) of an asset of a snapshot still being written.

    An ingest writes its snapshot batch by batch; an asset of a later batch that
    shares a key with one already written merges into it, found here (not in
    the writer's memory). The rows go when the snapshot is complete.
    """

    __tablename__ = "asset_key"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    asset_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class AnnotationRow(Base):
    """What a person said an asset is for and where it stands; outlives snapshots."""

    __tablename__ = "annotation"

    asset_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(50))
    site: Mapped[str | None] = mapped_column(String(400))
    tags: Mapped[list[Any]]
    removed_tags: Mapped[list[Any]]
    updated_at: Mapped[datetime]


class ResultCacheRow(Base):
    """A result computed from one snapshot, kept so the next caller need not compute it again.

    ``key`` is the caller's hash of everything the result depends on (criteria,
    annotations, the snapshots merged): a changed input is a new key, never a
    stale hit. Rows go with their snapshot.
    """

    __tablename__ = "result_cache"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# The tables, for Core statements.
snapshot_table = cast(Table, Snapshot.__table__)
observation_table = cast(Table, ObservationRow.__table__)
asset_table = cast(Table, AssetRow.__table__)
attribution_table = cast(Table, AttributionRow.__table__)
conflict_table = cast(Table, ConflictRow.__table__)
annotation_table = cast(Table, AnnotationRow.__table__)
asset_key_table = cast(Table, AssetKeyRow.__table__)
result_cache_table = cast(Table, ResultCacheRow.__table__)

# The web dashboard's tables (users, tokens, sessions, audit, jobs, alerts) join Base.metadata.
from vendorscope.store import accounts as _accounts  # noqa: E402,F401
