"""Pure functions over loaded inventory data: filter, diff, history.

Nothing here touches a database; ``inventory.py`` loads rows and calls these.
Merging parts and applying annotations belong to :mod:`vendorscope.resolve`;
judging belongs to :mod:`vendorscope.assess`, which hands the store a function
to judge with.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec

from vendorscope.identify.cache import cache_key
from vendorscope.model import COVERED_STATUSES, Annotation, Asset, Finding, Role, Status


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One stored run of a collector."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    observations: int
    assets: int
    attributed: int
    attributions: int
    conflicts: int
    stats: dict[str, Any] = field(default_factory=dict)
    tool_version: str | None = None


@dataclass(frozen=True, slots=True)
class Reidentified:
    asset_id: str
    before: Asset
    after: Asset


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from snapshot ``a`` to snapshot ``b``.

    ``progress`` compares, per policy requirement, the assets covered in ``a``
    and in ``b`` (empty when the diff was read without a judge).
    """

    a: int
    b: int
    appeared: list[Asset]
    disappeared: list[Asset]
    reidentified: list[Reidentified]
    progress: list[Progress] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many assets one policy requirement covered at one point in time."""

    policy: str
    requirement: str
    deadline: date | None
    covered: int
    review: int


@dataclass(frozen=True, slots=True)
class Progress:
    """Covered assets of one requirement at two snapshots."""

    policy: str
    requirement: str
    deadline: date | None
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """The inventory as it stood after one snapshot (latest snapshot of each source)."""

    snapshot: SnapshotInfo
    assets: int
    attributed: int
    conflicts: int
    by_group: dict[str, int]
    # None when the history was read without a judge (see vendorscope.assess.history).
    coverage: list[Coverage] | None




# ---------------------------------------------------------------- annotations


def updated_annotation(
    old: Annotation | None,
    asset_id: str,
    role: Role | None = None,
    site: str | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
) -> Annotation:
    """The annotation after a change; ``site=""`` clears a site set before."""
    old = old or Annotation(asset_id)
    added = {normalise_tag(t) for t in add_tags} - {""}
    removed = {normalise_tag(t) for t in remove_tags} - {""}
    return Annotation(
        asset_id=asset_id,
        role=role if role is not None else old.role,
        site=old.site if site is None else (site.strip() or None),
        tags=frozenset((old.tags - removed) | added),
        removed_tags=frozenset((old.removed_tags - added) | removed),
    )


def normalise_tag(tag: str) -> str:
    return tag.strip().lower()


def matches(asset: Asset, vendor: str | None = None, site: str | None = None, role: Role | None = None) -> bool:
    """Filters of `vendorscope assets`: vendor matches the vendor or its group."""
    if vendor is not None:
        wanted = vendor.lower()
        if wanted not in {(asset.verdict.vendor or "").lower(), (asset.verdict.group or "").lower()}:
            return False
    if site is not None and (asset.site or "").lower() != site.lower():
        return False
    return role is None or asset.role is role


# ---------------------------------------------------------------- snapshots, diff, history


def latest_per_source(snapshots: Sequence[SnapshotInfo], up_to: SnapshotInfo | None = None) -> list[SnapshotInfo]:
    """The newest snapshot of each source (as of ``up_to``), oldest first."""
    ordered = sorted(snapshots, key=snapshot_order)
    if up_to is not None:
        ordered = [s for s in ordered if snapshot_order(s) <= snapshot_order(up_to)]
    latest: dict[str, SnapshotInfo] = {}
    for s in ordered:
        latest[s.source] = s
    return sorted(latest.values(), key=snapshot_order)


def snapshot_order(s: SnapshotInfo) -> tuple[datetime, int]:
    return (s.started_at, s.id)


class SnapshotRefError(ValueError):
    pass


def find_snapshot(ref: str | int, snapshots: Sequence[SnapshotInfo]) -> SnapshotInfo:
    """A snapshot by id, or ``latest``, or ``previous`` (the one before latest from the same source)."""
    ordered = sorted(snapshots, key=snapshot_order)
    if not ordered:
        raise SnapshotRefError("the inventory has no snapshots yet")
    text = str(ref).strip().lower()
    if text == "latest":
        return ordered[-1]
    if text == "previous":
        latest = ordered[-1]
        same_source = [s for s in ordered[:-1] if s.source == latest.source]
        if same_source:
            return same_source[-1]
        if len(ordered) > 1:
            return ordered[-2]
        raise SnapshotRefError("there is only one snapshot, so no previous one")
    try:
        wanted = int(text)
    except ValueError:
        raise SnapshotRefError(f"{ref!r} is not a snapshot id (a number, 'latest' or 'previous')") from None
    for s in ordered:
        if s.id == wanted:
            return s
    raise SnapshotRefError(f"no snapshot {wanted} (see `vendorscope snapshots`)")


def diff_assets(a: int, before: Sequence[Asset], b: int, after: Sequence[Asset]) -> Diff:
    """Assets that appeared, disappeared, or whose vendor changed between two asset lists."""
    old = {x.id: x for x in before}
    new = {x.id: x for x in after}
    return Diff(
        a=a,
        b=b,
        appeared=[new[i] for i in sorted(new.keys() - old.keys())],
        disappeared=[old[i] for i in sorted(old.keys() - new.keys())],
        reidentified=[
            Reidentified(i, old[i], new[i])
            for i in sorted(old.keys() & new.keys())
            if old[i].verdict.vendor != new[i].verdict.vendor
        ],
    )


def coverage(findings: Iterable[Finding], policy: str | None = None) -> list[Coverage]:
    """Per policy requirement: how many distinct assets it covers, and how many need review."""
    covered: dict[tuple[str, str], set[str]] = defaultdict(set)
    review: dict[tuple[str, str], set[str]] = defaultdict(set)
    deadlines: dict[tuple[str, str], date | None] = {}
    for f in findings:
        if policy is not None and f.policy != policy:
            continue
        key = (f.policy, f.requirement)
        deadlines.setdefault(key, f.deadline)
        if f.deadline is not None:
            deadlines[key] = f.deadline
        if f.status in COVERED_STATUSES:
            covered[key].add(f.asset_id)
        elif f.status is Status.review:
            review[key].add(f.asset_id)
    return [
        Coverage(policy=p, requirement=r, deadline=deadlines[(p, r)], covered=len(covered[(p, r)]),
                 review=len(review[(p, r)]))
        for p, r in sorted(deadlines)
    ]


def coverage_progress(before: Sequence[Coverage], after: Sequence[Coverage]) -> list[Progress]:
    """Per requirement covered in either list: covered assets before and after."""
    old = {(c.policy, c.requirement): c for c in before}
    new = {(c.policy, c.requirement): c for c in after}
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if not (a and a.covered) and not (b and b.covered):
            continue
        deadline = (b.deadline if b else None) or (a.deadline if a else None)
        out.append(Progress(key[0], key[1], deadline, a.covered if a else 0, b.covered if b else 0))
    return out


def history_entry(snapshot: SnapshotInfo, assets: Sequence[Asset], cover: list[Coverage] | None) -> HistoryEntry:
    groups = Counter(a.verdict.group for a in assets if a.verdict.group)
    return HistoryEntry(
        snapshot=snapshot,
        assets=len(assets),
        attributed=sum(a.verdict.vendor is not None for a in assets),
        conflicts=sum(bool(a.conflicts) for a in assets),
        by_group=dict(sorted(groups.items())),
        coverage=cover,
    )


# ---------------------------------------------------------------- results kept per snapshot
#
# A judged history entry or a snapshot's coverage is kept as JSON under a key
# made of everything it depends on (``result_key``). Values come back from the
# database, so they are read as untrusted: anything malformed is a miss.

_stable_json = msgspec.json.Encoder(order="deterministic", enc_hook=repr)


def stable_text(value: Any) -> str:
    """One text per value whatever the process: dataclasses, sets and maps in a fixed order."""
    return _stable_json.encode(value).decode("utf-8", "surrogatepass")


def annotations_key(annotations: Any) -> str:
    """A hash of every annotation as read: any change to one is a new key."""
    return cache_key([stable_text(annotations)])


def result_key(purpose: str, criteria_key: str, notes_key: str, snapshot_ids: Iterable[int]) -> str:
    """The key of a result computed for ``purpose`` from these snapshots, criteria and annotations."""
    return cache_key([purpose, criteria_key, notes_key, ",".join(map(str, snapshot_ids))])


def _coverage_rows(cover: Sequence[Coverage]) -> list[list[Any]]:
    return [[c.policy, c.requirement, c.deadline.isoformat() if c.deadline else None, c.covered, c.review]
            for c in cover]


def coverage_json(cover: Sequence[Coverage]) -> str:
    return stable_text(_coverage_rows(cover))


def _coverage_of_rows(rows: Any) -> list[Coverage] | None:
    if not isinstance(rows, list):
        return None
    out = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5):
            return None
        policy, requirement, deadline, covered, review = row
        if not (isinstance(policy, str) and isinstance(requirement, str) and isinstance(deadline, (str, type(None)))
                and type(covered) is int and type(review) is int):
            return None
        try:
            day = date.fromisoformat(deadline) if deadline is not None else None
        except ValueError:
            return None
        out.append(Coverage(policy, requirement, day, covered, review))
    return out


def coverage_from_json(text: str | None) -> list[Coverage] | None:
    """Coverage kept by :func:`coverage_json`; None when missing or malformed."""
    try:
        return _coverage_of_rows(msgspec.json.decode(text)) if text is not None else None
    except msgspec.DecodeError:
        return None


def only_policy(cover: list[Coverage] | None, policy: str | None) -> list[Coverage] | None:
    """Coverage of one policy: the same as counting only that policy's findings."""
    return cover if cover is None or policy is None else [c for c in cover if c.policy == policy]


def history_entry_json(entry: HistoryEntry) -> str:
    return stable_text({
        "assets": entry.assets, "attributed": entry.attributed, "conflicts": entry.conflicts,
        "by_group": entry.by_group,
        "coverage": None if entry.coverage is None else _coverage_rows(entry.coverage),
    })


def history_entry_from_json(snapshot: SnapshotInfo, text: str | None, judged: bool) -> HistoryEntry | None:
    """A history entry kept by :func:`history_entry_json`; None when missing, malformed or judged otherwise."""
    if text is None:
        return None
    try:
        kept = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    if not isinstance(kept, dict):
        return None
    counts = [n for n in (kept.get(name) for name in ("assets", "attributed", "conflicts")) if type(n) is int]
    groups = kept.get("by_group")
    if not (len(counts) == 3 and isinstance(groups, dict)
            and all(isinstance(k, str) and type(v) is int for k, v in groups.items())):
        return None
    cover = _coverage_of_rows(kept.get("coverage")) if judged else None
    if judged and cover is None:
        return None
    return HistoryEntry(snapshot, counts[0], counts[1], counts[2], dict(groups), cover)
