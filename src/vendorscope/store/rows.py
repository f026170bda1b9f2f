"""Records ⇄ table rows, as pure functions.

Writing: a snapshot's assets and observations become plain tuples in the
column order of ``*_COLUMNS``, ready for ``executemany`` or ``COPY``. Times and
JSON are encoded here (by the encoders a dialect hands in), so the bulk path
never goes through per-row ORM or type processing.

Reading: rows (tuples in the column order of ``*_READ``) become
``Observation``, ``Attribution``, ``Conflict`` and ``Asset`` again, exactly as
they were written (a condensed load skips the sightings: one observation and
one attribution per row, enough to judge).

Text is cleaned on the way in: banners are attacker-controlled, and a NUL
byte or a lone surrogate would make PostgreSQL (or the UTF-8 codec) refuse the
whole snapshot. Both become visible escapes instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from vendorscope.model import (
    KEY_NAMES,
    Asset,
    AssetKeys,
    Attribution,
    Conflict,
    Observation,
    Role,
    Verdict,
)
from vendorscope.store.models import to_utc

OBSERVATION_COLUMNS = (
    "snapshot_id",
    "asset_no",
    "observation_no",
    "kind",
    "value",
    "source",
    "mac",
    "ip",
    "hostname",
    "serial",
    "asset_tag",
    "first_seen",
    "last_seen",
    "sighting_count",
    "sightings",
)
ASSET_COLUMNS = (
    "snapshot_id",
    "asset_no",
    "asset_id",
    "keys",
    "vendor",
    "vendor_name",
    "vendor_group",
    "confidence",
    "product",
    "version",
    "device_type",
    "role",
    "site",
    "tags",
    "first_seen",
    "last_seen",
    "observation_count",
    "evidence_count",
)
ASSET_KEY_COLUMNS = ("snapshot_id", "name", "value", "asset_no")
ATTRIBUTION_COLUMNS = (
    "snapshot_id",
    "asset_no",
    "attribution_no",
    "observation_no",
    "vendor",
    "vendor_name",
    "vendor_group",
    "rule",
    "confidence",
    "product",
    "version",
    "device_type",
    "sightings",
)
CONFLICT_COLUMNS = (
    "snapshot_id",
    "asset_no",
    "conflict_no",
    "label_vendor",
    "label_kind",
    "fingerprint_vendor",
    "fingerprint_kind",
    "detail",
)

TimeEncoder = Callable[[datetime | None], Any]
Row = tuple[Any, ...]


# ---------------------------------------------------------------- text and values


def clean_text(text: str) -> str:
    """Text any database can store: NUL and lone surrogates become escapes."""
    if text.isascii():
        return text.replace("\x00", "\\x00") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def _clean_json_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _clean_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean_json_value(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return clean_text(value.isoformat() if isinstance(value, datetime) else str(value))


_json_encode = msgspec.json.Encoder(enc_hook=str).encode


def encode_json(value: Any) -> str:
    """JSON text for a JSON column; odd values (bytes, sets, times) become strings or lists."""
    try:
        return _json_encode(value).decode("utf-8")
    except (TypeError, ValueError, msgspec.EncodeError):  # lone surrogates, unorderable keys
        return json.dumps(_clean_json_value(value), ensure_ascii=False)


def sqlite_time_encoder() -> TimeEncoder:
    """UTC, naive, in the text form SQLAlchemy's SQLite DateTime reads back."""
    cache: dict[datetime, str] = {}

    def encode(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = cache.get(value)
        if text is None:
            utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
            text = utc.isoformat(" ", "microseconds")
            if len(cache) < 100_000:
                cache[value] = text
        return text

    return encode


def aware_time_encoder() -> TimeEncoder:
    """UTC, timezone-aware: for drivers that take datetime objects (psycopg COPY)."""

    def encode(value: datetime | None) -> datetime | None:
        return None if value is None else to_utc(value)

    return encode


# ---------------------------------------------------------------- writing

NO_ASSET = -1  # asset_no of observations that belong to no asset


@dataclass(slots=True)
class EncodedAsset:
    """One asset's rows, ready to insert."""

    asset: Row | None
    observations: list[Row]
    attributions: list[Row]
    conflicts: list[Row]


@dataclass(slots=True)
class SnapshotCounts:
    observations: int = 0
    assets: int = 0
    attributed: int = 0
    attributions: int = 0
    conflicts: int = 0

    def add(self, asset: Asset) -> None:
        self.observations += len(asset.observations)
        self.assets += 1
        self.attributed += asset.verdict.vendor is not None
        self.attributions += len(asset.attributions)
        self.conflicts += len(asset.conflicts)

    def remove(self, asset: Asset) -> None:
        """Take back an asset counted before (it was merged into another one)."""
        self.observations -= len(asset.observations)
        self.assets -= 1
        self.attributed -= asset.verdict.vendor is not None
        self.attributions -= len(asset.attributions)
        self.conflicts -= len(asset.conflicts)


EvidenceKey = tuple[str, str, str, str | None, str | None, str | None, str | None, str | None]


def evidence_key(o: Observation) -> EvidenceKey:
    """Observations with the same key are sightings of the same evidence."""
    k = o.keys
    return (o.kind, o.value, o.source, k.mac, k.ip, k.hostname, k.serial, k.asset_tag)


def _seen_range(sightings: list[tuple[int, datetime | None, Any]]) -> tuple[datetime | None, datetime | None]:
    if len(sightings) == 1:
        return sightings[0][1], sightings[0][1]
    times = [t for _, t, _ in sightings if t is not None]
    if not times:
        return None, None
    try:
        return min(times), max(times)
    except TypeError:  # naive and aware times mixed: naive ones are UTC
        utc = [to_utc(t) for t in times]
        return min(utc), max(utc)


@dataclass(slots=True)
class ObservationLayout:
    """Where an asset's observations went: row number per position, by object and by key."""

    row_of_position: list[int]
    position_of: dict[int, int]  # id(observation) -> position
    row_of_key: dict[EvidenceKey, int]


def encode_observations(
    snapshot_id: int, asset_no: int, observations: Sequence[Observation], time: TimeEncoder
) -> tuple[list[Row], ObservationLayout]:
    """Observation rows: one per distinct evidence, listing its sightings."""
    numbers: dict[EvidenceKey, int] = {}
    firsts: list[Observation] = []
    sightings_of: list[list[tuple[int, datetime | None, Any]]] = []
    row_of_position: list[int] = []
    position_of: dict[int, int] = {}
    for position, o in enumerate(observations):
        position_of[id(o)] = position
        k = o.keys
        key = (o.kind, o.value, o.source, k.mac, k.ip, k.hostname, k.serial, k.asset_tag)
        no = numbers.get(key)
        if no is None:
            no = numbers[key] = len(firsts)
            firsts.append(o)
            sightings_of.append([])
        context = o.context
        if context and type(context) is not dict:
            context = dict(context)
        sightings_of[no].append((position, o.seen_at, context or None))
        row_of_position.append(no)
    rows: list[Row] = []
    for no, (o, sightings) in enumerate(zip(firsts, sightings_of, strict=True)):
        keys = o.keys
        first, last = _seen_range(sightings)
        rows.append((
            snapshot_id,
            asset_no,
            no,
            clean_text(o.kind),
            clean_text(o.value),
            clean_text(o.source) if o.source else None,
            clean_optional(keys.mac),
            clean_optional(keys.ip),
            clean_optional(keys.hostname),
            clean_optional(keys.serial),
            clean_optional(keys.asset_tag),
            time(first),
            time(last),
            len(sightings),
            encode_json(sightings),
        ))
    return rows, ObservationLayout(row_of_position, position_of, numbers)


def encode_attributions(snapshot_id: int, asset_no: int, asset: Asset, layout: ObservationLayout) -> list[Row]:
    """Attribution rows: identical attributions of one observation row share a row."""
    if not asset.attributions:
        return []
    position_of, row_of_position, row_of_key = layout.position_of, layout.row_of_position, layout.row_of_key
    groups: dict[tuple[Any, ...], list[tuple[int, int | None]]] = {}
    for index, at in enumerate(asset.attributions):
        obs = at.observation
        position = row = None
        if obs is not None:
            position = position_of.get(id(obs))
            row = row_of_position[position] if position is not None else row_of_key.get(evidence_key(obs))
        key = (row, at.vendor, at.vendor_name, at.group, at.rule, at.confidence, at.product, at.version,
               at.device_type)
        found = groups.get(key)
        if found is None:
            found = groups[key] = []
        found.append((index, position))
    return [
        (
            snapshot_id,
            asset_no,
            no,
            row,
            clean_text(vendor),
            clean_text(vendor_name),
            clean_text(group),
            clean_text(rule),
            float(confidence),
            clean_optional(product),
            clean_optional(version),
            clean_optional(device_type),
            encode_json(sightings),
        )
        for no, ((row, vendor, vendor_name, group, rule, confidence, product, version, device_type), sightings)
        in enumerate(groups.items())
    ]


def encode_conflicts(snapshot_id: int, asset_no: int, conflicts: Sequence[Conflict]) -> list[Row]:
    return [
        (
            snapshot_id,
            asset_no,
            no,
            clean_text(c.label_vendor),
            clean_text(c.label_kind),
            clean_text(c.fingerprint_vendor),
            clean_text(c.fingerprint_kind),
            clean_text(c.detail),
        )
        for no, c in enumerate(conflicts)
    ]


def encode_asset(snapshot_id: int, asset_no: int, asset: Asset, time: TimeEncoder) -> EncodedAsset:
    """All the rows one asset needs."""
    observations, layout = encode_observations(snapshot_id, asset_no, asset.observations, time)
    v = asset.verdict
    asset_row = (
        snapshot_id,
        asset_no,
        clean_text(asset.id),
        encode_json({k: sorted(clean_text(x) for x in vs) for k, vs in asset.keys.items() if vs}),
        clean_optional(v.vendor),
        clean_optional(v.vendor_name),
        clean_optional(v.group),
        float(v.confidence),
        clean_optional(v.product),
        clean_optional(v.version),
        clean_optional(v.device_type),
        asset.role.value,
        clean_optional(asset.site),
        encode_json(sorted(clean_text(t) for t in asset.site_tags)),
        time(asset.first_seen),
        time(asset.last_seen),
        len(asset.observations),
        len(observations),
    )
    return EncodedAsset(
        asset=asset_row,
        observations=observations,
        attributions=encode_attributions(snapshot_id, asset_no, asset, layout),
        conflicts=encode_conflicts(snapshot_id, asset_no, asset.conflicts),
    )


def loose_observations(observations: Iterable[Observation], assets: Sequence[Asset]) -> list[Observation]:
    """The observations that are in no asset.

    Normally none: resolve places each observation in exactly one asset, so
    when the counts agree the (costly) check by identity is skipped.
    """
    given = observations if isinstance(observations, Sequence) else list(observations)
    if len(given) == sum(len(a.observations) for a in assets):
        return []
    placed = {id(o) for a in assets for o in a.observations}
    return [o for o in given if id(o) not in placed]


def encode_snapshot(
    snapshot_id: int,
    observations: Iterable[Observation],
    assets: Sequence[Asset],
    time: TimeEncoder,
    counts: SnapshotCounts,
) -> Iterator[EncodedAsset]:
    """Every row of one snapshot, asset by asset; ``counts`` is filled in as it goes."""
    for asset_no, asset in enumerate(assets):
        counts.add(asset)
        yield encode_asset(snapshot_id, asset_no, asset, time)
    loose = loose_observations(observations, assets)
    if loose:
        counts.observations += len(loose)
        rows, _ = encode_observations(snapshot_id, NO_ASSET, loose, time)
        yield EncodedAsset(None, rows, [], [])


# ---------------------------------------------------------------- reading

# Columns read back, in the order the decoders below unpack them.
OBSERVATION_READ = ("asset_no", "observation_no", "kind", "value", "source", "mac", "ip", "hostname", "serial",
                    "asset_tag", "first_seen")
ATTRIBUTION_READ = ("asset_no", "observation_no", "vendor", "vendor_name", "vendor_group", "rule", "confidence",
                    "product", "version", "device_type")
CONFLICT_READ = ("asset_no", "label_vendor", "label_kind", "fingerprint_vendor", "fingerprint_kind", "detail")

_decode_sightings = msgspec.json.Decoder(list[tuple[int, datetime | None, dict[str, Any] | None]]).decode
_decode_positions = msgspec.json.Decoder(list[tuple[int, int | None]]).decode


@dataclass(slots=True)
class LoadedEvidence:
    """One observation row as loaded: the Observation of each sighting, by position."""

    sightings: list[tuple[int, Observation]]


def decode_observation(
    row: Sequence[Any], sightings_json: str | bytes | None, first_context: Any = None
) -> LoadedEvidence:
    """An observation row (``OBSERVATION_READ`` columns) and its sightings → Observations.

    Without ``sightings_json`` (a condensed load), one Observation stands for all
    sightings, at position -1, seen at the first sighting's time and with its
    context (``first_context``, when the database extracted it).
    """
    _, _, kind, value, source, mac, ip, hostname, serial, asset_tag, first_seen = row
    keys = AssetKeys(mac, ip, hostname, serial, asset_tag)
    source = source or ""
    if sightings_json is None:
        context = first_context if isinstance(first_context, dict) else {}
        return LoadedEvidence([(-1, Observation(kind, value, source, first_seen, keys, context))])
    return LoadedEvidence([
        (position, Observation(kind, value, source, seen_at, keys, context or {}))
        for position, seen_at, context in _decode_sightings(sightings_json)
    ])


def decode_attributions(
    row: Sequence[Any], positions_json: str | bytes | None, evidence: LoadedEvidence | None,
    observations: Sequence[Observation | None],
) -> list[tuple[int, Attribution]]:
    """An attribution row → (index among the asset's attributions, Attribution) for each use.

    Without ``positions_json`` (a condensed load): one Attribution, index -1,
    citing the evidence's first Observation.
    """
    _, _, vendor, vendor_name, group, rule, confidence, product, version, device_type = row
    fallback = evidence.sightings[0][1] if evidence else None

    def make(observation: Observation | None) -> Attribution:
        return Attribution(vendor, vendor_name, group, confidence, rule, product, version, device_type, observation)

    if positions_json is None:
        return [(-1, make(fallback))]
    out = []
    for index, position in _decode_positions(positions_json):
        observation = observations[position] if position is not None and position < len(observations) else None
        out.append((index, make(observation if observation is not None else fallback)))
    return out


def decode_conflict(row: Sequence[Any]) -> Conflict:
    _, label_vendor, label_kind, fingerprint_vendor, fingerprint_kind, detail = row
    return Conflict(label_vendor, label_kind, fingerprint_vendor, fingerprint_kind, detail)


def role_of(text: str | None) -> Role:
    return Role(text) if text is not None and text in Role.__members__ else Role.unknown


def asset_from_row(
    row: Any,
    observations: list[Observation],
    attributions: list[Attribution],
    conflicts: list[Conflict],
) -> Asset:
    keys = json_value(row.keys) or {}
    return Asset(
        id=row.asset_id,
        keys={k: set(keys[k]) for k in KEY_NAMES if keys.get(k)},
        observations=observations,
        attributions=attributions,
        verdict=Verdict(
            vendor=row.vendor,
            vendor_name=row.vendor_name,
            group=row.vendor_group,
            confidence=row.confidence,
            product=row.product,
            version=row.version,
            device_type=row.device_type,
        ),
        conflicts=conflicts,
        role=role_of(row.role),
        site=row.site,
        site_tags=frozenset(json_value(row.tags) or ()),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def json_value(value: Any) -> Any:
    """JSON columns come back decoded from most drivers, as text from some."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value
