"""What a report shows, computed once from assets, findings, packs and history.

Pure: nothing here reads a database or a file. The HTML, JSON, CSV and
CycloneDX renderers all start from one :class:`ReportData`.

Definitions used throughout (docs/report.md repeats them):

- *identified*: the asset's verdict names a vendor.
- *high-risk*: the verdict's vendor or vendor group is a high-risk vendor (the
  registry's ``high_risk`` flag), or some policy requirement covers the asset
  or asks for a review of it.
- *covered*: at least one finding with a covering status (prohibited,
  must_remove, overdue, restricted, advisory).
- *review*: no covering finding, but at least one ``review`` finding.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from itertools import islice
from typing import Any, Protocol

from vendorscope import __version__
from vendorscope.model import COVERED_STATUSES, Asset, EvidenceLink, Finding, Status, distinct_links
from vendorscope.store.queries import HistoryEntry, SnapshotInfo

# Order in which statuses are listed: most urgent first.
STATUS_ORDER: tuple[Status, ...] = (
    Status.overdue,
    Status.prohibited,
    Status.must_remove,
    Status.restricted,
    Status.advisory,
    Status.review,
    Status.clear,
)
UNIDENTIFIED = "(unidentified)"
NO_SITE = "(no site)"
# Evidence kept per asset and characters kept per evidence value: enough to
# prove a finding, bounded so that a report of 50,000 assets stays small.
MAX_EVIDENCE_PER_ASSET = 12
MAX_VALUE_CHARS = 2000
MAX_CONTEXT_ITEMS = 12


class PackFacts(Protocol):
    """What a report says about a policy pack (the judge's ``PolicyPack`` has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def jurisdiction(self) -> str | None: ...
    @property
    def authority(self) -> str | None: ...
    @property
    def instrument(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def binding(self) -> bool | None: ...
    @property
    def reviewed(self) -> date | None: ...
    def stale(self, today: date) -> bool: ...


class Category(StrEnum):
    """Where an asset stands, for the stacked bars: mutually exclusive."""

    covered = "covered"
    review = "review"
    high_risk = "high_risk"  # a high-risk maker, but no requirement covers it
    other = "other"


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    id: str
    title: str
    jurisdiction: str | None = None
    authority: str | None = None
    instrument: str | None = None
    url: str | None = None
    binding: bool | None = None
    reviewed: date | None = None  # the day the pack's facts were last checked (issue 16)
    stale: bool = False  # not reviewed for 180 days as of the report date: shown on the cover


@dataclass(frozen=True, slots=True)
class NextDeadline:
    deadline: date
    days_left: int
    policy: str
    requirement: str
    assets: int  # assets covered by that requirement that must be gone by then


@dataclass(frozen=True, slots=True)
class Headline:
    assets: int
    identified: int
    high_risk: int
    covered: int  # assets with at least one covering finding
    review: int  # assets needing a person's review and nothing more
    overdue: int  # assets with at least one overdue finding
    conflicts: int  # assets whose label and fingerprint disagree
    findings: int  # findings listed (clear ones excluded)
    findings_by_status: dict[str, int]  # every status, clear included
    next_deadline: NextDeadline | None


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    key: str
    assets: int
    covered: int
    review: int
    high_risk: int  # high-risk but neither covered nor review
    other: int


@dataclass(frozen=True, slots=True)
class BurnPoint:
    at: datetime
    snapshot_id: int | None
    covered: int


@dataclass(frozen=True, slots=True)
class BurnDown:
    """Covered assets still present after each snapshot, against one deadline."""

    policy: str
    requirement: str
    deadline: date
    points: tuple[BurnPoint, ...]


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """How many assets each (policy, requirement) covered after one snapshot."""

    at: datetime
    snapshot_id: int | None
    covered: Mapping[tuple[str, str], int]
    deadlines: Mapping[tuple[str, str], date | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    source: str
    started_at: datetime
    assets: int | None = None
    attributed: int | None = None
    conflicts: int | None = None


@dataclass(frozen=True, slots=True)
class ReportData:
    as_of: date
    generated_at: datetime
    tool_version: str
    policies: tuple[PolicyInfo, ...]
    headline: Headline
    by_group: tuple[BreakdownRow, ...]
    by_site: tuple[BreakdownRow, ...]
    by_role: tuple[BreakdownRow, ...]
    burndowns: tuple[BurnDown, ...]
    snapshots: tuple[SnapshotRow, ...]
    assets: tuple[Asset, ...]  # every asset, sorted by id
    findings: tuple[Finding, ...]  # listed findings, most urgent first
    categories: Mapping[str, Category]  # asset id -> category
    include_clear: bool = False  # whether ``findings`` lists clear findings too
    organisation: str | None = None  # whose network: named on the cover for an auditor
    mode: str = "statutory"  # the judging mode (statutory or strict)
    audiences: tuple[str, ...] = ()  # who the reader declared they are (findings --audience)

    def asset_by_id(self) -> dict[str, Asset]:
        return {a.id: a for a in self.assets}


# ---------------------------------------------------------------- building


def build_report(
    assets: Iterable[Asset],
    findings: Iterable[Finding],
    as_of: date,
    *,
    packs: Iterable[PackFacts] = (),
    history: Iterable[HistoryPoint] = (),
    snapshots: Iterable[SnapshotInfo] = (),
    high_risk_vendors: Collection[str] = (),
    include_clear: bool = False,
    generated_at: datetime | None = None,
    tool_version: str | None = None,
    organisation: str | None = None,
    mode: str = "statutory",
    audiences: Iterable[str] = (),
) -> ReportData:
    """Everything a report shows.

    ``packs`` are the judge's policy packs; ``snapshots`` the store's
    snapshot infos; ``history`` one point per snapshot, oldest first (see
    :func:`history_points`). Findings with status ``clear`` are counted but
    only listed when ``include_clear``.
    """
    asset_list = sorted(assets, key=lambda a: a.id)
    all_findings = list(findings)
    listed = [f for f in all_findings if include_clear or f.status is not Status.clear]
    listed.sort(key=finding_sort_key)
    risky = frozenset(v.lower() for v in high_risk_vendors)

    statuses_of: dict[str, set[Status]] = defaultdict(set)
    for f in all_findings:
        statuses_of[f.asset_id].add(f.status)
    categories = {a.id: categorise(a, statuses_of.get(a.id, set()), risky) for a in asset_list}

    by_status = Counter(f.status.value for f in all_findings)
    headline = Headline(
        assets=len(asset_list),
        identified=sum(a.verdict.vendor is not None for a in asset_list),
        high_risk=sum(c is not Category.other for c in categories.values()),
        covered=sum(c is Category.covered for c in categories.values()),
        review=sum(c is Category.review for c in categories.values()),
        overdue=sum(Status.overdue in statuses_of.get(a.id, ()) for a in asset_list),
        conflicts=sum(bool(a.conflicts) for a in asset_list),
        findings=len(listed),
        findings_by_status={s.value: by_status.get(s.value, 0) for s in STATUS_ORDER},
        next_deadline=next_deadline(all_findings, as_of),
    )
    points = list(history)
    return ReportData(
        as_of=as_of,
        generated_at=generated_at or datetime.now(UTC).replace(microsecond=0),
        tool_version=tool_version or __version__,
        policies=tuple(policy_info(p, as_of) for p in packs),
        headline=headline,
        by_group=breakdown(asset_list, categories, lambda a: a.verdict.group or UNIDENTIFIED),
        by_site=breakdown(asset_list, categories, lambda a: a.site or NO_SITE),
        by_role=breakdown(asset_list, categories, lambda a: a.role.value),
        burndowns=burndowns(points, all_findings, as_of),
        snapshots=tuple(snapshot_row(s) for s in snapshots),
        assets=tuple(asset_list),
        findings=tuple(listed),
        categories=categories,
        include_clear=include_clear,
        organisation=organisation or None,
        mode=mode,
        audiences=tuple(audiences),
    )


def finding_sort_key(f: Finding) -> tuple[int, date, str, str, str]:
    return (
        STATUS_ORDER.index(f.status) if f.status in STATUS_ORDER else len(STATUS_ORDER),
        f.deadline or date.max,
        f.asset_id,
        f.policy,
        f.requirement,
    )


def categorise(asset: Asset, statuses: Collection[Status], high_risk_vendors: Collection[str]) -> Category:
    if any(s in COVERED_STATUSES for s in statuses):
        return Category.covered
    if Status.review in statuses:
        return Category.review
    v = asset.verdict
    if (v.vendor or "").lower() in high_risk_vendors or (v.group or "").lower() in high_risk_vendors:
        return Category.high_risk
    return Category.other


def breakdown(
    assets: Sequence[Asset], categories: Mapping[str, Category], key: Callable[[Asset], object]
) -> tuple[BreakdownRow, ...]:
    """Assets per key, split by category; the most concerning keys first."""
    counts: dict[str, Counter[Category]] = defaultdict(Counter)
    for a in assets:
        counts[str(key(a))][categories[a.id]] += 1
    rows = [
        BreakdownRow(
            key=k,
            assets=sum(c.values()),
            covered=c[Category.covered],
            review=c[Category.review],
            high_risk=c[Category.high_risk],
            other=c[Category.other],
        )
        for k, c in counts.items()
    ]
    rows.sort(key=lambda r: (-(r.covered + r.review + r.high_risk), -r.assets, r.key))
    return tuple(rows)


def next_deadline(findings: Iterable[Finding], as_of: date) -> NextDeadline | None:
    """The earliest deadline on or after ``as_of`` that some covering finding must meet."""
    upcoming: dict[tuple[date, str, str], set[str]] = defaultdict(set)
    for f in findings:
        if f.deadline is not None and f.deadline >= as_of and f.status in COVERED_STATUSES:
            upcoming[(f.deadline, f.policy, f.requirement)].add(f.asset_id)
    if not upcoming:
        return None
    when, policy, requirement = min(upcoming, key=lambda k: (k[0], -len(upcoming[k]), k[1], k[2]))
    return NextDeadline(
        deadline=when,
        days_left=(when - as_of).days,
        policy=policy,
        requirement=requirement,
        assets=len(upcoming[(when, policy, requirement)]),
    )


def burndowns(points: Sequence[HistoryPoint], findings: Sequence[Finding], as_of: date) -> tuple[BurnDown, ...]:
    """One series per requirement with a deadline.

    Points come from the history (one per snapshot); a requirement the history
    does not know gets one point: the current findings, as of ``as_of``.
    """
    deadlines: dict[tuple[str, str], date] = {}
    for p in points:
        for k, d in p.deadlines.items():
            if d is not None:
                deadlines[k] = d
    current: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in findings:
        k = (f.policy, f.requirement)
        if f.deadline is not None:
            deadlines.setdefault(k, f.deadline)
        if f.status in COVERED_STATUSES:
            current[k].add(f.asset_id)
    now = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    series = []
    for k in sorted(deadlines, key=lambda k: (deadlines[k], k)):
        known = [p for p in points if k in p.covered or k in p.deadlines]
        if known:
            pts = tuple(BurnPoint(p.at, p.snapshot_id, int(p.covered.get(k, 0))) for p in points)
        else:
            pts = (BurnPoint(now, None, len(current.get(k, ()))),)
        series.append(BurnDown(policy=k[0], requirement=k[1], deadline=deadlines[k], points=pts))
    return tuple(series)


def history_points(entries: Iterable[HistoryEntry], policies: Collection[str] | None = None) -> list[HistoryPoint]:
    """The assessed history (``assess.history``) as burn-down points.

    Entries without coverage (history read without judging) are skipped.
    ``policies`` keeps only those policy ids.
    """
    out = []
    for e in entries:
        if e.coverage is None:
            continue
        snap = e.snapshot
        covered: dict[tuple[str, str], int] = {}
        deadlines: dict[tuple[str, str], date | None] = {}
        for c in e.coverage:
            if policies is not None and c.policy not in policies:
                continue
            covered[(c.policy, c.requirement)] = int(c.covered)
            deadlines[(c.policy, c.requirement)] = c.deadline
        out.append(HistoryPoint(at=snap.started_at, snapshot_id=snap.id, covered=covered, deadlines=deadlines))
    return out


def policy_info(pack: PackFacts, as_of: date | None = None) -> PolicyInfo:
    def text(value: str | None) -> str | None:
        return None if value is None else str(value).strip()

    return PolicyInfo(
        id=str(pack.id),
        title=text(pack.title) or str(pack.id),
        jurisdiction=text(pack.jurisdiction),
        authority=text(pack.authority),
        instrument=text(pack.instrument),
        url=text(pack.url),
        binding=None if pack.binding is None else bool(pack.binding),
        reviewed=pack.reviewed,
        stale=as_of is not None and pack.stale(as_of),
    )


def snapshot_row(s: SnapshotInfo) -> SnapshotRow:
    return SnapshotRow(
        id=int(s.id),
        source=str(s.source),
        started_at=s.started_at,
        assets=s.assets,
        attributed=s.attributed,
        conflicts=s.conflicts,
    )


# ---------------------------------------------------------------- evidence, shared by every format


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def plain(value: Any) -> Any:
    """A JSON-safe rendering of a context value."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in list(items)[:MAX_CONTEXT_ITEMS]]
    return clip(str(value), 500)


def strongest_evidence(asset: Asset) -> tuple[EvidenceLink, ...]:
    """What proves an asset's verdict: its strongest attributions (at most 12), as evidence links."""
    ranked = sorted(asset.attributions, key=lambda a: -a.confidence)
    return tuple(islice(distinct_links(ranked), MAX_EVIDENCE_PER_ASSET))


def evidence_dict(link: EvidenceLink) -> dict[str, Any]:
    """One evidence link as JSON-ready data, bounded: the shape every format writes (report-schema.json)."""
    context = list(link.context.items())[:MAX_CONTEXT_ITEMS]
    return {
        "observation_id": link.observation_id,
        "kind": link.kind,
        "value": clip(link.value) if link.value is not None else None,
        "source": link.source,
        "seen_at": link.seen_at.isoformat() if link.seen_at is not None else None,
        "context": {str(k): plain(v) for k, v in context},
        "rule": link.rule,
        "vendor": link.vendor,
        "vendor_name": link.vendor_name,
        "group": link.group,
        "product": link.product,
        "version": link.version,
        "device_type": link.device_type,
        "confidence": round(float(link.confidence), 4),
    }


def evidence_summary(asset: Asset | None, finding: Finding | None = None, limit: int = 3) -> str:
    """One line: the finding's own evidence, else the strongest observations."""
    if finding is not None and finding.evidence_lines:
        return "; ".join(clip(e, 300) for e in finding.evidence_lines[:limit])
    if asset is None:
        return ""
    parts = []
    for e in strongest_evidence(asset)[:limit]:
        if e.kind is None:
            parts.append(f"rule {e.rule}")
        else:
            parts.append(f"{e.kind}={clip(e.value or '', 120)!r} ({e.rule}, {e.confidence:.2f})")
    return "; ".join(parts)


def asset_keys(asset: Asset) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in sorted(asset.keys.items()) if v}
