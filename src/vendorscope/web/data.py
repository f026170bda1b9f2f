"""What the web shows, from the store and the judge: the one module that calls them.

The web never judges by itself: it asks the inventory for assets and the judge
(`evaluate`) for findings, and `report.data.build_report` for the numbers the
HTML and JSON reports show too. When the pipeline gets one assessment function
(snapshots → merged assets with effective roles and findings), only
:meth:`WebData._assess` changes.

Judging 100,000 assets takes seconds, a page must take milliseconds: each
assessment is computed once per inventory *generation* (the complete
snapshots and the annotations, read with two small queries per request) and
as-of date, and kept; so are the filtered and sorted views of the asset list.
"""

from __future__ import annotations

import bisect
import gc
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from vendorscope.model import Asset, Finding, Role, Status

if TYPE_CHECKING:
    from vendorscope.assess import Criteria
from vendorscope.report.data import (
    COVERED_STATUSES,
    STATUS_ORDER,
    ReportData,
    build_report,
    history_points,
)
from vendorscope.store.inventory import Inventory
from vendorscope.store.models import annotation_table, snapshot_table
from vendorscope.store.queries import Annotation, Diff, SnapshotInfo, latest_per_source

MODES = ("statutory", "strict")
CATEGORIES = ("covered", "review", "high_risk", "other")
SORT_KEYS = ("id", "vendor", "group", "product", "site", "role", "confidence", "category", "last_seen")
MAX_PAGE_SIZE = 500
CACHED_VIEWS = 256
CACHED_ASSESSMENTS = 4
# How long a generation is trusted before the database is asked again: writes
# through this process invalidate it at once, other writers (a CLI import, a
# watcher) show within this time.
GENERATION_TTL_S = 0.5
CHEAP_VIEW_ROWS = 5000  # a view of at most this many candidate rows is made in the event loop
SEARCH_SEPARATOR = "\x00"  # between rows' search texts; removed from queries

Generation = tuple[Any, ...]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """The asset list's filters; every field optional."""

    group: str | None = None  # vendor or vendor group
    verdict: str | None = None  # a category: covered, review, high_risk, other
    site: str | None = None
    role: str | None = None
    source: str | None = None  # a source family: pcap, probe, import:nmap, …
    min_confidence: float | None = None
    text: str | None = None  # in id, keys, vendor, product, site, tags

    def normalised(self) -> AssetFilter:
        def clean(value: str | None) -> str | None:
            value = (value or "").strip()
            return value.lower() or None

        return AssetFilter(
            group=clean(self.group), verdict=clean(self.verdict), site=clean(self.site), role=clean(self.role),
            source=clean(self.source), min_confidence=self.min_confidence,
            text=clean((self.text or "").replace(SEARCH_SEPARATOR, "")),
        )


@dataclass(frozen=True, slots=True)
class ListedAsset:
    """One row of the asset list: what it shows, filters and sorts on."""

    id: str
    vendor: str | None
    vendor_name: str | None
    group: str | None
    product: str | None
    device_type: str | None
    confidence: float
    role: str
    site: str | None
    tags: tuple[str, ...]
    category: str
    worst_status: str | None
    sources: tuple[str, ...]
    ips: tuple[str, ...]
    macs: tuple[str, ...]
    hostnames: tuple[str, ...]
    last_seen: datetime | None
    conflicts: int
    search: str  # lower-case text searched by ``text``


@dataclass(frozen=True, slots=True)
class PackSummary:
    id: str
    title: str
    jurisdiction: str
    covered: int
    review: int
    clear: int


@dataclass(frozen=True, slots=True)
class Deadline:
    policy: str
    requirement: str
    deadline: date
    days_left: int
    assets: int


@dataclass
class Assessment:
    """The inventory judged as of one date."""

    generation: Generation
    as_of: date
    mode: str
    report: ReportData
    rows: list[ListedAsset]
    findings_by_asset: dict[str, list[Finding]]
    packs: list[PackSummary]
    deadlines: list[Deadline]
    overdue: list[Finding]
    views: OrderedDict[Hashable, list[int]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_id: dict[str, Asset] = field(default_factory=dict)
    # Every row's search text in one string, and where each row starts: a text
    # search is then one C-speed scan of the string, not a Python loop over rows.
    search_blob: str = ""
    search_starts: list[int] = field(default_factory=list)
    # Each listed row as the API's JSON, encoded the first time a page shows it: a page of the
    # asset list is then a join of bytes (the rows never change within one assessment).
    row_json: dict[int, bytes] = field(default_factory=dict)
    text_hits: OrderedDict[str, list[int]] = field(default_factory=OrderedDict)

    def rows_containing(self, text: str) -> list[int]:
        """Indexes of the rows whose search text contains ``text`` (lower case), in order."""
        with self.lock:
            if not self.search_starts and self.rows:
                starts, position = [], 0
                for r in self.rows:
                    starts.append(position)
                    position += len(r.search) + 1
                self.search_blob = SEARCH_SEPARATOR.join(r.search for r in self.rows)
                self.search_starts = starts
            known = self.text_hits.get(text)
            if known is not None:
                return known
        blob, starts = self.search_blob, self.search_starts
        found: list[int] = []
        at = blob.find(text)
        while at >= 0:
            row = bisect.bisect_right(starts, at) - 1
            found.append(row)
            # Go on from the next row: one hit per row is enough.
            at = blob.find(text, starts[row + 1]) if row + 1 < len(starts) else -1
        with self.lock:  # kept: asking whether a view is cheap and then making it scan once
            return _remember(self.text_hits, text, found, CACHED_VIEWS)

    def asset(self, asset_id: str) -> Asset | None:
        if not self.by_id:
            self.by_id = {a.id: a for a in self.report.assets}
        return self.by_id.get(asset_id)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ListedAsset]
    total: int
    page: int
    pages: int
    size: int
    indexes: list[int] = field(default_factory=list)  # of ``rows`` in ``Assessment.rows``


# ---------------------------------------------------------------- pure helpers


def source_family(source: str) -> str:
    """``import:nmap:scan.xml`` → ``import:nmap``; ``pcap:lab.pcap`` → ``pcap``; ``probe`` → ``probe``."""
    parts = source.split(":")
    if parts[0] == "import" and len(parts) > 1:
        return f"import:{parts[1]}"
    return parts[0]


def listed_asset(asset: Asset, category: str, findings: Sequence[Finding]) -> ListedAsset:
    v = asset.verdict
    statuses = {f.status for f in findings}
    worst = next((s.value for s in STATUS_ORDER if s in statuses), None)
    sources = tuple(sorted({source_family(o.source) for o in asset.observations if o.source}))
    keys = {k: tuple(sorted(vs)) for k, vs in asset.keys.items()}
    tags = tuple(sorted(asset.site_tags))
    words = [asset.id, v.vendor, v.vendor_name, v.group, v.product, v.version, v.device_type, asset.site, *tags,
             *(x for vs in keys.values() for x in vs)]
    return ListedAsset(
        id=asset.id, vendor=v.vendor, vendor_name=v.vendor_name, group=v.group, product=v.product,
        device_type=v.device_type, confidence=float(v.confidence), role=asset.role.value, site=asset.site, tags=tags,
        category=category, worst_status=worst, sources=sources, ips=keys.get("ip", ()), macs=keys.get("mac", ()),
        hostnames=keys.get("hostname", ()), last_seen=asset.last_seen, conflicts=len(asset.conflicts),
        search="\n".join(w.lower() for w in words if w).replace(SEARCH_SEPARATOR, ""),
    )


def row_matches(row: ListedAsset, f: AssetFilter) -> bool:
    if f.group is not None and f.group not in ((row.group or "").lower(), (row.vendor or "").lower()):
        return False
    if f.verdict is not None and row.category != f.verdict:
        return False
    if f.site is not None and (row.site or "").lower() != f.site:
        return False
    if f.role is not None and row.role != f.role:
        return False
    if f.source is not None and f.source not in row.sources:
        return False
    if f.min_confidence is not None and row.confidence < f.min_confidence:
        return False
    return f.text is None or f.text in row.search


_CATEGORY_RANK = {c: i for i, c in enumerate(CATEGORIES)}


def sort_key(name: str) -> Callable[[ListedAsset], Any]:
    if name == "confidence":
        return lambda r: (r.confidence, r.id)
    if name == "category":
        return lambda r: (_CATEGORY_RANK.get(r.category, 9), r.id)
    if name == "last_seen":
        return lambda r: (r.last_seen or datetime.min.replace(tzinfo=UTC), r.id)
    if name in ("vendor", "group", "product", "site", "role"):
        return lambda r: ((getattr(r, name) or "").lower(), r.id)
    return lambda r: r.id


def pack_summaries(packs: Iterable[Any], findings: Iterable[Finding], assets: int) -> list[PackSummary]:
    covered: dict[str, set[str]] = defaultdict(set)
    review: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        if f.status in COVERED_STATUSES:
            covered[f.policy].add(f.asset_id)
        elif f.status is Status.review:
            review[f.policy].add(f.asset_id)
    out = []
    for p in packs:
        c, r = covered.get(p.id, set()), review.get(p.id, set()) - covered.get(p.id, set())
        out.append(PackSummary(p.id, str(p.title), str(p.jurisdiction), len(c), len(r), assets - len(c) - len(r)))
    return sorted(out, key=lambda s: (s.jurisdiction, s.id))


def upcoming_deadlines(findings: Iterable[Finding], as_of: date, limit: int = 10) -> list[Deadline]:
    """Deadlines on or after ``as_of`` that covered assets must meet, soonest first."""
    assets: dict[tuple[date, str, str], set[str]] = defaultdict(set)
    for f in findings:
        if f.deadline is not None and f.deadline >= as_of and f.status in COVERED_STATUSES:
            assets[(f.deadline, f.policy, f.requirement)].add(f.asset_id)
    return [Deadline(p, r, d, (d - as_of).days, len(assets[(d, p, r)])) for d, p, r in sorted(assets)[:limit]]


def _remember(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> V:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


# ---------------------------------------------------------------- the data behind the web


class WebData:
    """The inventory as the web sees it: judged, cached per generation and date."""

    def __init__(self, inventory: Inventory, packs: Sequence[Any], *, mode: str = "statutory",
                 audiences: Sequence[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.inventory = inventory
        self.packs = list(packs)
        self.mode = mode
        self.audiences = list(audiences) if audiences else None
        self._assessments: OrderedDict[tuple[Generation, date], Assessment] = OrderedDict()
        self._extras: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._high_risk: frozenset[str] | None = None
        self._generation: tuple[float, Generation] | None = None
        self._epoch = 0  # bumped by every invalidation
        self._generation_lock = threading.Lock()  # not self._lock: that one is held while judging

    # ---- generations

    def generation(self) -> Generation:
        """Changes whenever a snapshot completes or an annotation is written."""
        known = self._generation
        now = time.monotonic()
        if known is not None and now - known[0] < GENERATION_TTL_S:
            return known[1]
        epoch = self._epoch
        found = self._read_generation()
        with self._generation_lock:
            if epoch == self._epoch:  # no write came in while reading: safe to keep
                self._generation = (now, found)
        return found

    def invalidate(self) -> None:
        """Something was written: read the generation again on the next request."""
        with self._generation_lock:
            self._epoch += 1
            self._generation = None

    def _read_generation(self) -> Generation:
        s, a = snapshot_table.c, annotation_table.c
        with self.inventory.engine.connect() as conn:
            snaps = conn.execute(
                sa.select(sa.func.count(), sa.func.max(s.id)).where(s.complete.is_(True))
            ).one()
            notes = conn.execute(sa.select(sa.func.count(), sa.func.max(a.updated_at))).one()
        return (int(snaps[0]), snaps[1], int(notes[0]), str(notes[1]))

    # ---- the assessment

    def cached_assessment(self, as_of: date | None = None) -> Assessment | None:
        """The assessment if it is ready (no judging needed), else None."""
        return self._assessments.get((self.generation(), as_of or date.today()))

    def assessment(self, as_of: date | None = None) -> Assessment:
        day = as_of or date.today()
        generation = self.generation()
        key = (generation, day)
        with self._lock:
            found = self._assessments.get(key)
            if found is None:
                found = _remember(self._assessments, key, self._assess(generation, day), CACHED_ASSESSMENTS)
            return found

    def _assess(self, generation: Generation, day: date) -> Assessment:
        # The one place the web judges: the same assessment as `findings`, `report` and `history`.
        from vendorscope.assess import assess_inventory

        assessed = assess_inventory(self.inventory, self.criteria(), day)
        shown, findings = list(assessed.assets), list(assessed.findings)
        report = build_report(shown, findings, day, packs=self.packs, snapshots=self.inventory.snapshots(),
                              high_risk_vendors=self.high_risk_vendors())
        by_asset: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            by_asset[f.asset_id].append(f)
        rows = [listed_asset(a, report.categories[a.id].value, by_asset.get(a.id, [])) for a in report.assets]
        # Millions of long-lived objects: without this, every full collection of the cyclic garbage
        # collector would walk them all (pauses of a tenth of a second, in the middle of requests).
        gc.freeze()
        return Assessment(
            generation=generation, as_of=day, mode=self.mode, report=report, rows=rows,
            findings_by_asset=dict(by_asset),
            packs=pack_summaries(self.packs, findings, len(rows)),
            deadlines=upcoming_deadlines(findings, day),
            overdue=[f for f in report.findings if f.status is Status.overdue],
        )

    def high_risk_vendors(self) -> frozenset[str]:
        if self._high_risk is None:
            from vendorscope.identify.registry import default_registry

            registry = default_registry()
            self._high_risk = frozenset(v.id for v in registry.vendors.values() if v.high_risk)
        return self._high_risk

    # ---- the asset list

    def page(self, assessment: Assessment, flt: AssetFilter, sort: str = "category", descending: bool = False,
             page: int = 1, size: int = 50) -> Page:
        """One page of the filtered, sorted list; the whole view is kept for the next page."""
        matching = self.view(assessment, flt, sort, descending)
        size = max(1, min(size, MAX_PAGE_SIZE))
        pages = max(1, -(-len(matching) // size))
        page = max(1, min(page, pages))
        chosen = matching[(page - 1) * size: page * size]
        return Page([assessment.rows[i] for i in chosen], len(matching), page, pages, size, chosen)

    def view_is_cheap(self, assessment: Assessment, flt: AssetFilter, sort: str = "category",
                      descending: bool = False) -> bool:
        """Whether the view is kept already, or a text search narrows it to few rows (milliseconds to make)."""
        sort = sort if sort in SORT_KEYS else "category"
        flt = flt.normalised()
        if (flt, sort, descending) in assessment.views:
            return True
        return flt.text is not None and len(assessment.rows_containing(flt.text)) <= CHEAP_VIEW_ROWS

    def view(self, assessment: Assessment, flt: AssetFilter, sort: str = "category",
             descending: bool = False) -> list[int]:
        """Indexes into ``assessment.rows`` of the matching rows, in order."""
        flt = flt.normalised()
        sort = sort if sort in SORT_KEYS else "category"
        key = (flt, sort, descending)
        with assessment.lock:
            found = assessment.views.get(key)
            if found is not None:
                assessment.views.move_to_end(key)
                return found
        rows = assessment.rows
        by = sort_key(sort)
        candidates: Iterable[int] = assessment.rows_containing(flt.text) if flt.text else range(len(rows))
        indexes = sorted((i for i in candidates if row_matches(rows[i], flt)), key=lambda i: by(rows[i]),
                         reverse=descending)
        with assessment.lock:
            return _remember(assessment.views, key, indexes, CACHED_VIEWS)

    def facets(self, assessment: Assessment) -> dict[str, list[str]]:
        """The values each filter can take, for the filter form."""
        key = ("facets", assessment.generation, assessment.as_of)

        def compute() -> dict[str, list[str]]:
            rows = assessment.rows
            return {
                "group": sorted({r.group for r in rows if r.group}),
                "site": sorted({r.site for r in rows if r.site}),
                "role": [r.value for r in Role],
                "source": sorted({s for r in rows for s in r.sources}),
                "verdict": list(CATEGORIES),
            }

        return self._extra(key, compute)

    # ---- one asset

    def asset(self, asset_id: str) -> Asset | None:
        """The asset with its whole evidence chain.

        With one source in the current view, that source's latest snapshot *is* the view: the asset is read
        from it by id (an index lookup). Otherwise the inventory merges the asset's parts across sources,
        which reads every current asset (seconds at 100,000).
        """
        current = latest_per_source(self.snapshots())
        if len(current) == 1:
            found = self.inventory.asset(asset_id, snapshot_id=current[0].id)
            if found is not None:
                return found
        return self.inventory.asset(asset_id)

    def findings_of(self, assessment: Assessment, asset_id: str) -> list[Finding]:
        return assessment.findings_by_asset.get(asset_id, [])

    def annotate(self, asset_id: str, role: str | None, site: str | None, add_tags: Iterable[str],
                 remove_tags: Iterable[str]) -> Annotation:
        try:
            return self.inventory.annotate(asset_id, role=role, site=site, add_tags=add_tags, remove_tags=remove_tags)
        finally:
            self.invalidate()

    def effective_role(self, asset: Asset) -> Role:
        from vendorscope.assess import with_effective_roles

        return with_effective_roles([asset])[0].role

    def criteria(self) -> Criteria:
        """What the web judges against: its packs, mode and audiences, as every command does."""
        from vendorscope.assess import Criteria

        return Criteria.of(self.packs, self.mode, self.audiences)

    # ---- snapshots, history, diff

    def snapshots(self) -> list[SnapshotInfo]:
        return self.inventory.snapshots()

    def diff(self, a: int, b: int) -> Diff:
        from vendorscope.assess import diff as judged_diff

        criteria = self.criteria()
        return self._extra(("diff", self.generation(), a, b), lambda: judged_diff(self.inventory, a, b, criteria))

    def latest_change(self) -> Diff | None:
        """What the latest snapshot changed: against the previous snapshot of the same source
        (a capture is compared with the last capture of that source, not with a CMDB import)."""
        snaps = self.snapshots()
        if not snaps:
            return None
        latest = snaps[-1]
        earlier = [s for s in snaps[:-1] if s.source == latest.source]
        return self.diff(earlier[-1].id, latest.id) if earlier else None

    def burndowns(self, assessment: Assessment) -> ReportData:
        """The report with burn-down series from every snapshot (judged once per generation)."""
        def compute() -> ReportData:
            entries = self.inventory.history()
            wanted = {p.id for p in self.packs}
            r = assessment.report
            findings = [f for fs in assessment.findings_by_asset.values() for f in fs]
            return build_report(r.assets, findings, assessment.as_of, packs=self.packs,
                                history=history_points(entries, wanted), snapshots=self.snapshots(),
                                high_risk_vendors=self.high_risk_vendors())

        return self._extra(("burndown", assessment.generation, assessment.as_of), compute)

    def _extra(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._extras:
                self._extras.move_to_end(key)
                found: V = self._extras[key]
                return found
            return _remember(self._extras, key, compute(), 16)
