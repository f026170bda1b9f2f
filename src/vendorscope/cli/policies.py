"""`policies` and `findings`: the judge stage from the shell."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import DB_OPTION, OutputFormat, dumps, fail, say, say_parts, warn, write_rows
from vendorscope.cli.judging import (
    AS_OF_OPTION,
    AUDIENCE_OPTION,
    JURISDICTION_OPTION,
    MODE_OPTION,
    PACKS_OPTION,
    POLICY_OPTION,
    JudgeMode,
    criteria_or_fail,
    packs_or_fail,
    parse_day,
    select_packs,
)
from vendorscope.identify.registry import Registry, RegistryError, default_registry
from vendorscope.judge.packs import (
    FORCES,
    PACKS_ENV,
    RELATION_WORDS,
    DatedFact,
    PolicyPack,
    RelativeDeadline,
    Requirement,
    validate_pack_file,
)
from vendorscope.model import Asset, Finding, Status
from vendorscope.report.data import evidence_dict

if TYPE_CHECKING:  # the store behind assess is imported only when `findings` runs
    from vendorscope.assess import Assessment, Criteria

FINDING_COLUMNS = (
    "asset", "vendor", "role", "policy", "requirement", "status", "force", "deadline", "days_left", "severity",
    "reason",
)
CSV_FINDING_COLUMNS = (*FINDING_COLUMNS[:3], "site", "site_tags", *FINDING_COLUMNS[3:], "as_of", "evidence")
PACK_COLUMNS = (
    "id", "jurisdiction", "force", "binding", "reviewed", "effective", "covers", "next_deadline", "file", "title",
)
STATUS_WORDS = {
    Status.prohibited: "prohibited and present",
    Status.must_remove: "must be removed",
    Status.overdue: "overdue",
    Status.restricted: "restricted use",
    Status.advisory: "advisory",
    Status.review: "review",
    Status.clear: "clear",
}


def _registry() -> Registry:
    try:
        return default_registry()
    except (RegistryError, OSError) as exc:
        fail(f"vendor registry: {exc}")


def _when(fact: DatedFact | RelativeDeadline | None) -> str:
    if fact is None:
        return ""
    if isinstance(fact, RelativeDeadline):
        return f"{fact.days_after_listing} days after listing"
    return f"{fact.date} ({fact.wording})" if fact.wording else str(fact.date)


def _covers(pack: PolicyPack) -> list[str]:
    return [c.key for c in pack.covers]


def _next_deadline(pack: PolicyPack, today: date) -> str:
    ahead = sorted(
        (r.deadline.date, r.id) for r in pack.requirements
        if isinstance(r.deadline, DatedFact) and r.deadline.date >= today
    )
    return f"{ahead[0][0]} {ahead[0][1]}" if ahead else ""


def pack_forces(pack: PolicyPack) -> list[str]:
    """The legal forces of a pack's requirements, strongest first."""
    return [f for f in FORCES if any(r.force == f for r in pack.requirements)]


def _origin(pack: PolicyPack) -> str:
    if pack.replaces:
        return f"{pack.file} (replaces {pack.replaces})"
    return pack.file


def pack_row(pack: PolicyPack, today: date) -> dict[str, Any]:
    stale = pack.stale(today)
    return {
        "id": pack.id,
        "jurisdiction": pack.jurisdiction,
        "force": ", ".join(pack_forces(pack)),
        "binding": "binding" if pack.binding else "advisory",
        "reviewed": f"{pack.reviewed or 'never'}{' STALE' if stale else ''}",
        "stale": stale,
        "file": _origin(pack),
        "effective": pack.effective.date,
        "covers": _covers(pack),
        "next_deadline": _next_deadline(pack, today),
        "title": pack.title,
        "authority": pack.authority,
        "url": pack.url,
    }


def _requirement_outcome(req: Requirement) -> str:
    if req.force == "proposal":
        return "advisory (a proposal, not law)" + (f"; expected {req.expected}" if req.expected else "")
    if req.deadline is None:
        return req.status.value if req.status else ""
    return f"{req.before.value} until {_when(req.deadline)}, then {req.after.value}"


def _requirement_scope(req: Requirement) -> str:
    parts = []
    if not req.judged:
        parts.append("procurement (not judged from the network)")
    if req.roles:
        parts.append("roles " + ", ".join(sorted(r.value for r in req.roles)))
    if req.networks:
        parts.append("networks " + ", ".join(sorted(req.networks)))
    if req.site_tags:
        parts.append("sites tagged " + ", ".join(sorted(req.site_tags)))
    if req.companies:
        parts.append("companies " + ", ".join(sorted(req.companies)))
    if req.audience:
        parts.append(f"audience {req.audience}")
    return "; ".join(parts) or "any installed equipment"


def _relation_words(relations: Iterable[str]) -> str:
    return ", ".join(sorted(word for word, relation in RELATION_WORDS.items() if relation in relations))


def _show_pack(pack: PolicyPack, today: date) -> None:
    kind = "binding" if pack.binding else "advisory (not binding)"
    say_parts((pack.title, "bold"), f"  ({pack.id}, {pack.jurisdiction}, {kind}, {pack.force})")
    for label, value in (
        ("reviewed", ("STALE: " if pack.stale(today) else "") + pack.freshness(today)),
        ("file", _origin(pack)),
        ("instrument", pack.instrument),
        ("authority", pack.authority),
        ("applies to", pack.applies_to),
        ("url", pack.url),
        ("effective", f"{_when(pack.effective)} — {pack.sources[pack.effective.source].cite()}"
         + (f"; {pack.effective.note}" if pack.effective.note else "")),
    ):
        say_parts((f"  {label}: ", "bold"), value or "")
    say("\nCovered companies", style="bold")
    for c in pack.covers:
        who = _who_is_covered(c)
        line = f"  {who}: {c.name}; {c.scope}"
        if c.include:
            line += f"; counts its {_relation_words(c.include)}"
        if c.review:
            line += f"; review for its {_relation_words(c.review)}"
        if c.since:
            line += f"; listed since {_when(c.since)}"
        if c.purpose:
            line += f"; only when used for {c.purpose.text}"
        if c.exemptions:
            line += "; exempt when tagged " + ", ".join(f"exempt:{e.id}" for e in c.exemptions)
        if c.note:
            line += f" ({c.note})"
        say(line)
    say("\nRequirements", style="bold")
    for r in pack.requirements:
        say_parts((f"  {r.id}", "bold"), f" [{r.severity}] [{r.force}] {_requirement_scope(r)}")
        say(f"    {r.text}")
        say(f"    {_requirement_outcome(r)}; source: {pack.cite(r.sources)}")
        if r.note:
            say(f"    note: {r.note}")
    milestones = (
        {"date": m.when.date, "what": m.what, "source": m.when.source} for m in pack.milestones
    )
    write_rows(milestones, ("date", "what", "source"), OutputFormat.table, title="Milestones")
    sources = (
        {"id": s.id, "title": s.title, "published": s.published, "retrieved": s.retrieved, "url": s.url}
        for s in pack.sources.values()
    )
    write_rows(sources, ("id", "title", "published", "retrieved", "url"), OutputFormat.table, title="Sources")
    if pack.audiences:
        say_parts(("Audiences", "bold"), " (declare with findings --audience ID)")
        for audience_id, text in pack.audiences.items():
            say(f"  {audience_id}: {text}")
    if pack.notes:
        say("Notes", style="bold")
        for note in pack.notes:
            say(f"  - {note}")


def _who_is_covered(c: Any) -> str:
    if c.equipment_class:
        origin = (f"produced outside {', '.join(sorted(c.produced_outside))}" if c.produced_outside
                  else f"produced in {', '.join(sorted(c.produced_in))}" if c.produced_in else "wherever produced")
        return f"class {c.equipment_class} ({', '.join(sorted(c.device_types))}, {origin}, any maker)"
    return f"{c.company}" if c.company else f"any vendor group headquartered in {c.country}"


def stale_warnings(packs: Iterable[PolicyPack], today: date) -> list[str]:
    """One line per pack not reviewed for STALE_AFTER_DAYS days."""
    return [f"{p.id}: {p.freshness(today)}" for p in packs if p.stale(today)]


def pack_document(pack: PolicyPack) -> dict[str, Any]:
    """The whole pack as plain data (for JSON)."""
    doc = dataclasses.asdict(pack)
    doc["sources"] = {k: dataclasses.asdict(v) for k, v in pack.sources.items()}
    return doc


@app.command(rich_help_panel="Judge")
def policies(
    pack_id: str = typer.Argument(None, metavar="[ID]", help="Show one pack in full."),
    jurisdiction: list[str] = typer.Option(
        None, "--jurisdiction", "-j",
        help="Only packs for this jurisdiction (ISO code such as US, GB or UK, DE; or EU). Repeatable.",
    ),
    files: list[Path] = typer.Argument(None, metavar="[FILE]...", help="With `validate`: the pack files to check."),
    extra: list[Path] = typer.Option(
        None, "--packs",
        help=f"Extra pack files or directories (also ${PACKS_ENV}); a pack with a bundled id replaces it. Repeatable.",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """List the policy packs (legal force, review date, file), show one in full, or validate pack files.

    A pack not reviewed for 180 days is flagged STALE. Your own packs (or a newer
    copy of a bundled one, which then replaces it) load from --packs DIR or
    VENDORSCOPE_PACKS=DIR.

    Examples:

      vendorscope policies

      vendorscope policies de-5g-2024

      vendorscope policies --jurisdiction UK --format jsonl

      vendorscope policies validate my-packs/*.yaml
    """
    if pack_id == "validate":
        _validate(files or [], fmt)
        return
    if files:
        fail(f"unexpected argument {str(files[0])!r} (did you mean `policies validate FILE...`?)")
    packs = packs_or_fail(extra)
    today = date.today()
    if pack_id is None:
        chosen = select_packs(packs, (), jurisdiction or ())
        write_rows((pack_row(p, today) for p in chosen), PACK_COLUMNS, fmt)
        if fmt is OutputFormat.table:
            for line in stale_warnings(chosen, today):
                warn(line)
        return
    pack = select_packs(packs, [pack_id], ())[0]
    if fmt is OutputFormat.table:
        _show_pack(pack, today)
    else:
        print(dumps(pack_document(pack)))


def _validate(files: Sequence[Path], fmt: OutputFormat) -> None:
    """Check pack files against docs/policy-pack.schema.json and the loader; exit 1 on any problem."""
    if not files:
        fail("policies validate: give one or more pack files")
    problems = [p for f in files for p in validate_pack_file(f)]
    if fmt is OutputFormat.table:
        for problem in problems:
            say(str(problem))
        say(f"{len(files)} file(s) checked: " + (f"{len(problems)} problem(s)" if problems else "valid"))
    else:
        write_rows(({"file": p.file, "line": p.line, "field": p.field, "message": p.message} for p in problems),
                   ("file", "line", "field", "message"), fmt)
    if problems:
        raise typer.Exit(1)


def _assess(db: str, criteria: Criteria, day: date) -> Assessment:
    """The inventory in ``db`` assessed with ``criteria``, or a one-line error."""
    from vendorscope.assess import assess_inventory
    from vendorscope.store.inventory import InventoryError, open_inventory

    try:
        with open_inventory(db, create=False) as inv:
            return assess_inventory(inv, criteria, day)
    except InventoryError as exc:
        fail(str(exc))


def finding_row(finding: Finding, asset: Asset | None) -> dict[str, Any]:
    """One finding as a row; ``asset`` as assessed (its role the one the judge gave it)."""
    return {
        "asset": finding.asset_id,
        "vendor": asset.verdict.vendor if asset else None,
        "role": asset.role.value if asset else None,
        "site": asset.site if asset else None,
        "site_tags": sorted(asset.site_tags) if asset else [],
        "policy": finding.policy,
        "requirement": finding.requirement,
        "status": finding.status.value,
        "force": finding.force,
        "deadline": finding.deadline,
        "days_left": finding.days_left,
        "severity": finding.severity,
        "reason": finding.reason,
        "as_of": finding.as_of,
        "evidence": list(finding.evidence_lines),
        "evidence_chain": [evidence_dict(link) for link in finding.evidence],
    }


@app.command(rich_help_panel="Judge")
def findings(
    policy: list[str] = POLICY_OPTION,
    jurisdiction: list[str] = JURISDICTION_OPTION,
    as_of: str = AS_OF_OPTION,
    status: list[Status] = typer.Option(
        None, "--status", "-s", help="Only findings with this status. Repeatable."
    ),
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    include_clear: bool = typer.Option(
        False, "--all", help="Also list clear findings (not covered, out of scope)."
    ),
    db: str = DB_OPTION,
    extra: list[Path] = PACKS_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """What each applicable rule says about each asset: status, deadline, days left and why.

    Statuses: prohibited (and present), must_remove (by the deadline), overdue,
    restricted (use allowed under conditions), advisory, review (needs a person), clear.

    Examples:

      vendorscope findings --jurisdiction UK

      vendorscope findings --policy de-5g-2024 --as-of 2027-01-01

      vendorscope findings --status overdue --status must_remove --format csv
    """
    day = parse_day(as_of)
    wanted = set(status or ())
    criteria = criteria_or_fail(extra, policy, jurisdiction, mode, audience,
                                include_clear or Status.clear in wanted)
    _registry()  # a broken registry is a one-line error before the inventory is read
    assessment = _assess(db, criteria, day)
    assets, result = assessment.assets, list(assessment.findings)
    if wanted:
        result = [f for f in result if f.status in wanted]
    by_id = {a.id: a for a in assets}
    rows = [finding_row(f, by_id.get(f.asset_id)) for f in result]
    columns = FINDING_COLUMNS if fmt is OutputFormat.table else CSV_FINDING_COLUMNS
    write_rows(rows, columns, fmt, title=f"Findings as of {day}" if fmt is OutputFormat.table else None)
    if fmt is OutputFormat.table:
        say(_summary(result, len(assets), day))
    for line in stale_warnings(criteria.packs, day):
        warn(line)


def _summary(result: Sequence[Finding], asset_count: int, day: date) -> str:
    if not result:
        return f"{asset_count} assets judged as of {day}: no findings"
    counts = Counter(f.status for f in result)
    parts = [f"{counts[s]} {STATUS_WORDS[s]}" for s in Status if counts[s]]
    assets = len({f.asset_id for f in result})
    return f"{len(result)} findings on {assets} of {asset_count} assets as of {day}: {', '.join(parts)}"
