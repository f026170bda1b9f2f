"""Judge assets against policy packs: what each rule says about each asset on a date.

``evaluate`` is a pure function of the assets, the packs, the date and the
registry: ask it "as of" any day (``--as-of 2027-01-01``) and it answers from
the dated affiliations in the registry and the dated facts in the packs.

How a status comes about (docs/policy-packs.md has the full rules):

1. coverage: is the asset's maker, on the as-of date, a covered company, or a
   subsidiary/affiliate/brand/division the instrument counts? (registry walk)
   Or is the asset in a covered class of equipment (device type × role ×
   where it was produced), unless the user declared an exemption?
2. scope: does the requirement reach the asset's role, network and site?
3. status: the requirement's fixed status, or before/after its deadline;
   then ``review`` where coverage, scope, purpose or audience is uncertain,
   and ``advisory`` for a proposal and everywhere in a non-binding pack. Each
   finding carries the requirement's legal force.
4. severity: the requirement's, one level higher at sensitive sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from itertools import islice
from typing import Literal

from vendorscope.identify.registry import Registry, RegistryError, default_registry
from vendorscope.identify.roles import PRODUCT_KIND, infer_role
from vendorscope.judge.packs import (
    EXEMPT_TAG_PREFIX,
    NETWORK_TAGS,
    SEVERITIES,
    CoveredCompany,
    DatedFact,
    JudgeDefaults,
    PolicyPack,
    RelativeDeadline,
    Requirement,
    default_judge_defaults,
)
from vendorscope.model import Asset, EvidenceLink, Finding, Role, Status, distinct_links

Mode = Literal["statutory", "strict"]
MODES: tuple[str, ...] = ("statutory", "strict")
CoverageState = Literal["covered", "review", "not"]
# Pseudo-requirement ids for findings that are about the pack as a whole.
NOT_COVERED, OUT_OF_SCOPE = "covers", "scope"
_MAX_EVIDENCE = 6


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether a vendor falls under a pack on a date, and why."""

    state: CoverageState
    cover: CoveredCompany | None = None
    notes: tuple[str, ...] = ()

    @property
    def covered(self) -> bool:
        return self.state == "covered"


Link = tuple[str, str, str]  # (member, relation, parent)


def ownership_chain(registry: Registry, vendor: str, on: date) -> list[Link]:
    """The links from ``vendor`` up to its group on a date: [(member, relation, parent), ...]."""
    chain: list[Link] = []
    seen, current = {vendor}, vendor
    while current in registry and (aff := registry.parent_of(current, on)) is not None:
        if aff.parent in seen:
            raise RegistryError(f"ownership cycle through {aff.parent!r}")
        chain.append((current, aff.relation, aff.parent))
        seen.add(aff.parent)
        current = aff.parent
    return chain


def _name(registry: Registry, vendor: str) -> str:
    return registry[vendor].name if vendor in registry else vendor


def _listed(cover: CoveredCompany, on: date) -> bool:
    return cover.since is None or cover.since.date <= on


def _match_cover(
    cover: CoveredCompany, vendor: str, chain: list[Link], registry: Registry
) -> Coverage | None:
    if cover.equipment_class is not None:
        return None  # a class of equipment is judged from the asset (class_coverage)
    nodes = [vendor, *(parent for _, _, parent in chain)]
    if cover.company is not None:
        if cover.company not in nodes:
            return None
        links = chain[: nodes.index(cover.company)]
    else:
        group = nodes[-1]
        if group not in registry or registry[group].country != cover.country:
            return None
        links = chain
    notes = tuple(
        f"{_name(registry, member)} is a {relation} of {_name(registry, parent)}"
        for member, relation, parent in links
    )
    if cover.country is not None:
        notes += (f"group {nodes[-1]} is headquartered in {cover.country}",)
    relations = {relation for _, relation, _ in links}
    if relations <= cover.include:
        return Coverage("covered", cover, notes)
    if relations <= cover.include | cover.review:
        doubtful = ", ".join(sorted(relations - cover.include))
        doubt = f"whether a {doubtful} counts under {cover.name} needs review"
        return Coverage("review", cover, (*notes, doubt))
    return None


def _covers_company(pack: PolicyPack, company: str, on: date, registry: Registry) -> CoveredCompany | None:
    country = registry[company].country if company in registry else None
    for cover in pack.covers:
        if _listed(cover, on) and (cover.company == company or (cover.country and cover.country == country)):
            return cover
    return None


def _former_member_notes(pack: PolicyPack, vendor: str, on: date, registry: Registry) -> tuple[str, ...]:
    if vendor not in registry:
        return ()
    covered = {c.company for c in pack.covers if c.company}
    return tuple(
        f"{_name(registry, vendor)} was a {aff.relation} of {_name(registry, aff.parent)} until {aff.until}; "
        f"devices made before then count as produced by {_name(registry, aff.parent)}"
        for aff in registry[vendor].affiliations
        if aff.parent in covered and aff.until is not None and aff.until <= on
    )


def _related_coverage(
    vendor: str, when: str, pack: PolicyPack, on: date, registry: Registry, defaults: JudgeDefaults
) -> Coverage | None:
    """Coverage from the defaults' related vendors (possible OEM, component maker, ...)."""
    for rel in defaults.related_vendors:
        if rel.vendor == vendor and rel.when == when:
            cover = _covers_company(pack, rel.of, on, registry)
            if cover is not None:
                return Coverage("review" if rel.status is Status.review else "not", cover, (rel.reason,))
    return None


def coverage_of(
    vendor: str | None,
    pack: PolicyPack,
    on: date,
    registry: Registry,
    defaults: JudgeDefaults | None = None,
) -> Coverage:
    """Whether the maker ``vendor`` falls under ``pack`` on ``on``; notes say why.

    Order: related vendors marked ``always``; the covered companies (covered
    before review); related vendors marked ``not-member``; else not covered,
    with notes on former membership and listing dates.
    """
    defaults = defaults if defaults is not None else default_judge_defaults()
    if vendor is None:
        return Coverage("not", notes=("no vendor identified",))
    if (always := _related_coverage(vendor, "always", pack, on, registry, defaults)) is not None:
        return always
    chain = ownership_chain(registry, vendor, on)
    found = [m for c in pack.covers if _listed(c, on) and (m := _match_cover(c, vendor, chain, registry))]
    best = sorted(found, key=lambda m: m.state != "covered")
    if best:
        return best[0]
    if (related := _related_coverage(vendor, "not-member", pack, on, registry, defaults)) is not None:
        return related
    notes = _former_member_notes(pack, vendor, on, registry)
    unlisted = [c for c in pack.covers if not _listed(c, on) and _match_cover(c, vendor, chain, registry)]
    notes += tuple(f"{c.name} is covered only from {c.since.date}" for c in unlisted if c.since)
    group = chain[-1][2] if chain else vendor
    return Coverage("not", None, (*notes, f"{_name(registry, vendor)} (group {group}) is not covered"))


def _origin(registry: Registry, vendor: str, on: date) -> tuple[frozenset[str], str | None]:
    """Where a vendor's equipment is produced (when known) and its group's headquarters."""
    group = registry.group_of(vendor, on) if vendor in registry else vendor
    produced: frozenset[str] = frozenset()
    for who in (vendor, group):
        if who in registry and registry[who].produced_in:
            produced = frozenset(registry[who].produced_in)
            break
    hq = next((registry[w].country for w in (vendor, group) if w in registry and registry[w].country), None)
    return produced, hq


def _produced_where(cover: CoveredCompany, produced: frozenset[str], hq: str | None) -> CoverageState:
    """Whether production (or design at the headquarters, which counts as production) is in the class."""
    if not cover.produced_in and not cover.produced_outside:
        return "covered"  # the class covers its device types wherever they were produced

    def inside(countries: frozenset[str]) -> bool:
        if cover.produced_in:
            return bool(countries & cover.produced_in)
        return bool(countries - cover.produced_outside)

    places = produced | ({hq} if hq else set())
    if places and inside(frozenset(places)):
        return "covered"
    return "review" if not produced else "not"


def class_coverage(cover: CoveredCompany, asset: Asset, on: date, registry: Registry) -> Coverage | None:
    """Whether an asset falls in a class of equipment (device type × role × where produced), with exemptions."""
    vendor, device_type = asset.verdict.vendor, asset.verdict.device_type
    if cover.equipment_class is None or vendor is None or device_type not in cover.device_types:
        return None
    if cover.roles and asset.role is not Role.unknown and asset.role not in cover.roles:
        return None
    produced, hq = _origin(registry, vendor, on)
    state = _produced_where(cover, produced, hq)
    if state == "not":
        return None
    where = f"produced in {', '.join(sorted(produced))}" if produced else "production country not recorded"
    notes = [f"{device_type} by {_name(registry, vendor)} ({where}; headquarters {hq or 'unknown'})"]
    if state == "review":
        outside = ", ".join(sorted(cover.produced_outside))
        notes.append(f"whether it was produced outside {outside} needs review" if outside
                     else "where it was produced needs review")
    if cover.roles and asset.role is Role.unknown:
        state = "review"
        notes.append(f"role unknown; the class covers {_words(r.value for r in cover.roles)} equipment")
    exemption = _exemption_of(cover, asset, vendor, on, registry)
    if exemption is not None:
        return Coverage("not", cover, (*notes, exemption))
    return Coverage(state, cover, tuple(notes))


def _exemption_of(cover: CoveredCompany, asset: Asset, vendor: str, on: date, registry: Registry) -> str | None:
    """Why an exemption a user declared (device tag or vendor) applies, or None."""
    group = registry.group_of(vendor, on) if vendor in registry else vendor
    for exemption in cover.exemptions:
        if not exemption.active(on):
            continue
        if f"{EXEMPT_TAG_PREFIX}{exemption.id}" in asset.site_tags:
            how = "the device is tagged"
        elif exemption.id in (cover.exempt_vendors.get(vendor), cover.exempt_vendors.get(group)):
            how = f"vendor {vendor} is declared"
        else:
            continue
        return f"exempt: {how} {EXEMPT_TAG_PREFIX}{exemption.id} ({exemption.text})"
    return None


def is_covered(
    vendor: str | None,
    pack: PolicyPack,
    on: date,
    registry: Registry | None = None,
    defaults: JudgeDefaults | None = None,
) -> bool:
    """True when ``vendor`` is, on ``on``, a covered company or a member the pack counts."""
    return coverage_of(vendor, pack, on, registry if registry is not None else default_registry(),
                       defaults).covered


# ----------------------------------------------------------------- scope


@dataclass(frozen=True, slots=True)
class RequirementReach:
    """Whether a requirement reaches an asset by site, role and network (not a probe scope)."""

    decision: Literal["apply", "review", "skip"]
    notes: tuple[str, ...] = ()


def effective_role(asset: Asset, defaults: JudgeDefaults) -> tuple[Role, str | None]:
    """The asset's role as people set it, else as its descriptions or device type make plain (with a note).

    Order: an inventory role column or an annotation; a role rule over what the
    device says it is (sysDescr, inventory model, the verdict's product: identify/roles.py);
    the device type.
    """
    if asset.role is not Role.unknown:
        return asset.role, None
    described = [(o.kind, o.value) for o in asset.observations]
    if asset.verdict.product:
        described.append((PRODUCT_KIND, asset.verdict.product))
    inferred = infer_role(described)
    if inferred is not None:
        return inferred.role, inferred.note
    device_type = asset.verdict.device_type
    if device_type and device_type in defaults.role_by_device_type:
        return defaults.role_by_device_type[device_type], f"from device type {device_type}"
    return Role.unknown, None


def asset_networks(asset: Asset) -> frozenset[str]:
    return frozenset(t for t in asset.site_tags if t in NETWORK_TAGS)


def scope_of(req: Requirement, role: Role, asset: Asset) -> RequirementReach:
    """Whether a requirement reaches an asset by site, role and network."""
    if req.site_tags and not (asset.site_tags & req.site_tags):
        return RequirementReach("skip")
    decisions: list[str] = []
    notes: list[str] = []
    if req.roles:
        if role is Role.unknown:
            decisions.append(req.role_unknown)
            roles = _words(r.value for r in req.roles)
            notes.append(f"role unknown; the requirement reaches {roles} equipment")
        elif role not in req.roles:
            return RequirementReach("skip")
    if req.networks:
        networks = asset_networks(asset)
        if not networks:
            decisions.append(req.network_unknown)
            verb = "assumed part of" if req.network_unknown == "apply" else "the requirement reaches"
            notes.append(f"no network tag; {verb} {_words(req.networks)} networks")
        elif not networks & req.networks:
            return RequirementReach("skip")
    if "skip" in decisions:
        return RequirementReach("skip")
    return RequirementReach("review" if "review" in decisions else "apply", tuple(notes))


def _words(items: Iterable[str]) -> str:
    words = sorted(items)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# ----------------------------------------------------------------- status


def deadline_of(req: Requirement, listed: date) -> date | None:
    if req.deadline is None:
        return None
    if isinstance(req.deadline, RelativeDeadline):
        return req.deadline.on(listed)
    return req.deadline.date


def status_on(req: Requirement, as_of: date, listed: date) -> tuple[Status, date | None]:
    """The requirement's own status on a date: fixed, or before/after its deadline.

    The deadline is the last day the equipment may still be present: on it the
    status is ``before`` (0 days left); from the next day it is ``after``.
    """
    deadline = deadline_of(req, listed)
    if deadline is None:
        return req.status or Status.review, None
    return (req.before if as_of <= deadline else req.after), deadline


def raise_severity(severity: str, levels: int = 1) -> str:
    index = min(SEVERITIES.index(severity) + levels, len(SEVERITIES) - 1)
    return SEVERITIES[index]


def _timing(deadline: date | None, as_of: date, req: Requirement) -> str | None:
    if deadline is None:
        return None
    wording = None
    if isinstance(req.deadline, RelativeDeadline):
        wording = f"{req.deadline.days_after_listing} days after listing"
    elif req.deadline is not None:
        wording = req.deadline.wording
    quoted = f" ({wording})" if wording else ""
    days = (deadline - as_of).days
    if days >= 0:
        return f"deadline {deadline}{quoted}, {_days(days)} left"
    return f"deadline {deadline}{quoted} passed {_days(-days)} ago"


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


# ----------------------------------------------------------------- evidence


def evidence_of(asset: Asset) -> tuple[EvidenceLink, ...]:
    """What names the maker: the attributions behind the verdict, as typed links (conflicts go beside).

    One link per piece of evidence and rule: its first sighting stands for the others.
    """
    vendor = asset.verdict.vendor
    behind = (a for a in asset.attributions if vendor is None or a.vendor == vendor)
    return tuple(islice(distinct_links(behind), _MAX_EVIDENCE))


# ----------------------------------------------------------------- judging


@dataclass(frozen=True)
class _Context:
    as_of: date
    registry: Registry
    defaults: JudgeDefaults
    mode: str
    include_clear: bool
    audiences: frozenset[str] | None
    evidence: tuple[EvidenceLink, ...] = field(default=())
    conflicts: tuple[str, ...] = field(default=())


def _who(asset: Asset, role: Role, role_note: str | None, ctx: _Context) -> str:
    v = asset.verdict
    if v.vendor is None:
        return "no vendor identified"
    chain = ownership_chain(ctx.registry, v.vendor, ctx.as_of)
    group = chain[-1][2] if chain else v.vendor
    name = v.vendor_name or _name(ctx.registry, v.vendor)
    product = f" {v.product}" if v.product else ""
    what = f"{role.value} element" if role is not Role.unknown else "role unknown"
    if role_note:
        what += f" ({role_note})"
    return f"{name}{product} (group {group}, confidence {v.confidence:.2f}) {what}"


def _finding(
    asset: Asset, pack: PolicyPack, requirement: str, status: Status, ctx: _Context,
    deadline: date | None, severity: str, reason: Iterable[str | None], force: str | None = None,
) -> Finding:
    return Finding(
        asset_id=asset.id,
        policy=pack.id,
        requirement=requirement,
        status=status,
        as_of=ctx.as_of,
        deadline=deadline,
        severity=severity,
        reasons=tuple(r for r in reason if r),
        evidence=ctx.evidence,
        conflicts=ctx.conflicts,
        force=force,
    )


def _in_force_for(req: Requirement, cover: CoveredCompany, ctx: _Context) -> bool:
    """Whether a requirement is judged, in force, and meant for this company and audience."""
    return (
        req.judged
        and (req.effective is None or req.effective.date <= ctx.as_of)
        and (not req.companies or (cover.company or cover.equipment_class) in req.companies)
        and not (req.audience and ctx.audiences is not None and req.audience not in ctx.audiences)
    )


def _doubts(
    pack: PolicyPack, req: Requirement, coverage: Coverage, scope: RequirementReach, asset: Asset, ctx: _Context
) -> tuple[bool, list[str]]:
    """Whether coverage, scope, purpose or audience is uncertain (→ review), with the notes saying why."""
    cover = coverage.cover
    doubtful = scope.decision == "review" or coverage.state == "review"
    notes = list(scope.notes)
    if cover is not None and cover.purpose is not None:
        notes.extend(_purpose(cover, asset, ctx))
        doubtful |= ctx.mode == "statutory" and not _purpose_shown(cover, asset, ctx)
    if req.audience and ctx.audiences is None:
        doubtful = True
        who = (pack.audiences or {}).get(req.audience, req.audience)
        notes.append(f"applies only to {who} (declare --audience {req.audience})")
    return doubtful, notes


def _severity(
    pack: PolicyPack, req: Requirement, status: Status, asset: Asset, ctx: _Context
) -> tuple[str, str | None]:
    """The requirement's severity, one level up at a sensitive site; info when clear."""
    if status is Status.clear:
        return "info", None
    raising = pack.severity_raising_tags
    if raising is None:
        raising = ctx.defaults.severity_raising_tags
    sensitive = sorted(asset.site_tags & raising)
    if not sensitive:
        return req.severity, None
    return raise_severity(req.severity), f"severity raised: site tagged {', '.join(sensitive)}"


def _judge_requirement(
    asset: Asset, pack: PolicyPack, req: Requirement, coverage: Coverage, role: Role, who: str, ctx: _Context
) -> Finding | None:
    cover = coverage.cover
    if cover is None or not _in_force_for(req, cover, ctx):
        return None
    listed = cover.since.date if cover.since else pack.effective.date
    status, deadline = status_on(req, ctx.as_of, listed)
    scope = scope_of(req, role, asset)
    if scope.decision == "skip" or (status is Status.clear and scope.decision == "review"):
        return None
    notes: list[str] = [*coverage.notes]
    if status is not Status.clear:
        doubtful, why = _doubts(pack, req, coverage, scope, asset, ctx)
        notes.extend(why)
        if doubtful:
            status = Status.review
        if req.force == "proposal":
            status = Status.advisory
            expected = f", expected {req.expected}" if req.expected else ""
            notes.append(f"a proposal, not law{expected}")
        elif not pack.binding:
            status = Status.advisory
            notes.append(f"not binding ({req.force})")
    if status is Status.clear and not ctx.include_clear:
        return None
    severity, raised = _severity(pack, req, status, asset, ctx)
    if isinstance(req.deadline, DatedFact) and req.deadline.note and status is not Status.clear:
        notes.append(f"deadline: {req.deadline.note}")
    return _finding(
        asset, pack, req.id, status, ctx, deadline, severity,
        [who, f"{pack.short}: {req.text}", _timing(deadline, ctx.as_of, req),
         f"source: {pack.cite(req.sources)}", *notes, raised, req.note],
        force=req.force,
    )


def _purpose_tags(cover: CoveredCompany, ctx: _Context) -> frozenset[str]:
    if cover.purpose is None:
        return frozenset()
    return cover.purpose.tags or ctx.defaults.purpose_tags


def _purpose_shown(cover: CoveredCompany, asset: Asset, ctx: _Context) -> frozenset[str]:
    """The asset's site tags that show a purpose-qualified use."""
    return asset.site_tags & _purpose_tags(cover, ctx)


def _purpose(cover: CoveredCompany, asset: Asset, ctx: _Context) -> list[str]:
    """What the asset's site tags (or strict mode) say about a purpose-qualified coverage."""
    if cover.purpose is None:
        return []
    shown = sorted(_purpose_shown(cover, asset, ctx))
    if shown:
        return [f"covered when used for {cover.purpose.text}: site tagged {', '.join(shown)}"]
    if ctx.mode == "strict":
        return [f"strict mode: treated as covered although no site tag shows use for {cover.purpose.text}"]
    return [
        f"covered only when used for {cover.purpose.text}; no site tag shows it "
        f"(tag the site {', '.join(sorted(_purpose_tags(cover, ctx)))} to decide, or use strict mode)"
    ]


class _AssetFacts:
    """What every pack's findings about one asset share, worked out once and only when needed.

    The evidence chain, the effective role and the sentence naming the asset cost more
    than deciding coverage; most assets are covered by no pack, so they are made lazily.
    """

    def __init__(self, asset: Asset, ctx: _Context) -> None:
        self.asset = asset
        self._ctx = ctx

    @cached_property
    def evidence(self) -> tuple[EvidenceLink, ...]:
        return evidence_of(self.asset)

    @cached_property
    def conflicts(self) -> tuple[str, ...]:
        return tuple(c.detail for c in self.asset.conflicts)

    @cached_property
    def role(self) -> tuple[Role, str | None]:
        return effective_role(self.asset, self._ctx.defaults)

    @cached_property
    def who(self) -> str:
        role, note = self.role
        return _who(self.asset, role, note, self._ctx)


def judge_asset(asset: Asset, pack: PolicyPack, ctx: _Context, facts: _AssetFacts | None = None) -> list[Finding]:
    """Every finding one pack yields for one asset on ``ctx.as_of``."""
    if ctx.as_of < pack.effective.date:
        return []
    coverage = coverage_of(asset.verdict.vendor, pack, ctx.as_of, ctx.registry, ctx.defaults)
    classes = [
        c for cover in pack.covers
        if _listed(cover, ctx.as_of) and (c := class_coverage(cover, asset, ctx.as_of, ctx.registry))
    ]
    applicable = [c for c in (coverage, *classes) if c.state != "not"]
    if not applicable and not ctx.include_clear:
        return []
    facts = facts if facts is not None else _AssetFacts(asset, ctx)
    ctx = replace(ctx, evidence=facts.evidence, conflicts=facts.conflicts)
    role, who = facts.role[0], facts.who
    if not applicable:
        notes = [n for c in (coverage, *classes) for n in c.notes]
        return [_finding(asset, pack, NOT_COVERED, Status.clear, ctx, None, "info", [who, *notes])]
    findings = []
    for req in pack.requirements:  # one finding per requirement: the first coverage it reaches
        found = (_judge_requirement(asset, pack, req, c, role, who, ctx) for c in applicable)
        if (finding := next((f for f in found if f is not None), None)) is not None:
            findings.append(finding)
    if not findings and ctx.include_clear:
        findings.append(_finding(
            asset, pack, OUT_OF_SCOPE, Status.clear, ctx, None, "info",
            [who, *coverage.notes, f"no requirement of {pack.short} in force on {ctx.as_of} reaches it"],
        ))
    return findings


def evaluate(
    assets: Iterable[Asset],
    packs: Sequence[PolicyPack],
    as_of: date,
    registry: Registry | None = None,
    mode: str = "statutory",
    include_clear: bool = False,
    audiences: Iterable[str] | None = None,
    defaults: JudgeDefaults | None = None,
) -> list[Finding]:
    """What each pack's requirements say about each asset on ``as_of``.

    ``mode`` "statutory" reads purpose-qualified coverage (Hytera, Hikvision,
    Dahua under section 889 and the FCC list) as written: ``review`` unless a
    site tag shows the purpose; "strict" treats them as covered everywhere.
    ``audiences`` declares who you are (e.g. ``usf-recipient``): requirements
    for an audience are judged for it, skipped for others, and ``review`` when
    ``audiences`` is None. Clear findings are returned only with
    ``include_clear``. Sorted by asset, pack and requirement.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    ctx = _Context(
        as_of=as_of,
        registry=registry if registry is not None else default_registry(),
        defaults=defaults if defaults is not None else default_judge_defaults(),
        mode=mode,
        include_clear=include_clear,
        audiences=frozenset(audiences) if audiences is not None else None,
    )
    findings = []
    for asset in assets:
        facts = _AssetFacts(asset, ctx)  # shared by every pack's findings about this asset
        for pack in packs:
            findings.extend(judge_asset(asset, pack, ctx, facts))
    return sorted(findings, key=lambda f: (f.asset_id, f.policy, f.requirement))
