"""`assets`, `asset`, `snapshots`, `history`, `diff`: the inventory from the shell.

Thin glue over :mod:`vendorscope.store.inventory`: open the inventory named by
``--db`` (read-only commands never create one), ask, print.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vendorscope.cli.application import app
from vendorscope.cli.common import (
    DB_OPTION,
    OutputFormat,
    console,
    dumps,
    fail,
    note,
    say,
    say_parts,
    vendor_or_fail,
    write_rows,
)
from vendorscope.cli.judging import AUDIENCE_OPTION, MODE_OPTION, PACKS_OPTION, JudgeMode, criteria_or_fail
from vendorscope.model import Asset, Attribution, Observation, Role
from vendorscope.report.terminal import plain
from vendorscope.resolve import annotation_for
from vendorscope.store.inventory import Inventory, InventoryError, display_url, open_inventory
from vendorscope.store.queries import Annotation, Diff, HistoryEntry, SnapshotInfo, SnapshotRefError

PANEL = "Inventory"
ASSET_COLUMNS = ("asset", "mac", "ips", "vendor", "group", "product", "device_type", "confidence", "role",
                 "site", "tags", "evidence", "kinds", "conflicts", "first_seen", "last_seen")
ASSET_TABLE_COLUMNS = ("asset", "ips", "vendor", "product", "confidence", "role", "site", "tags", "evidence",
                       "conflicts")
SNAPSHOT_COLUMNS = ("snapshot", "source", "started", "finished", "observations", "assets", "identified",
                    "conflicts")
_SHOWN_SIGHTINGS = 5


@contextmanager
def _inventory(db: str, create: bool = False) -> Iterator[Inventory]:
    """The inventory, or a one-line error."""
    import sqlalchemy.exc

    try:
        with open_inventory(db, create=create) as inventory:
            yield inventory
    except (InventoryError, SnapshotRefError) as exc:
        fail(str(exc))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"{display_url(db)}: {detail[0] if detail else type(exc).__name__}")


def _time(value: datetime | None) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


# ---------------------------------------------------------------- assets


def asset_row(asset: Asset) -> dict[str, Any]:
    """One asset as a listing row; ``evidence`` counts distinct observations."""
    v = asset.verdict
    return {
        "asset": asset.id,
        "ips": sorted(asset.keys.get("ip", ())),
        "mac": sorted(asset.keys.get("mac", ())),
        "vendor": v.vendor_name or v.vendor,
        "vendor_id": v.vendor,
        "group": v.group,
        "product": " ".join(x for x in (v.product, v.version) if x) or None,
        "device_type": v.device_type,
        "confidence": v.confidence,
        "role": asset.role.value,
        "site": asset.site,
        "tags": sorted(asset.site_tags),
        "evidence": len(asset.observations),
        "kinds": sorted({o.kind for o in asset.observations}),
        "conflicts": len(asset.conflicts),
        "conflict_details": [c.detail for c in asset.conflicts],
        "first_seen": _time(asset.first_seen),
        "last_seen": _time(asset.last_seen),
    }


@app.command(rich_help_panel=PANEL)
def assets(
    ids: list[str] = typer.Argument(None, help="Asset ids (or a MAC, IP, hostname, serial) to show or annotate.",
                                    show_default=False),
    vendor: str = typer.Option(None, "--vendor", help="Only this vendor or vendor group (e.g. huawei)."),
    site: str = typer.Option(None, "--site", help="Only assets at this site."),
    role: Role = typer.Option(None, "--role", help="Only assets with this role."),
    snapshot: str = typer.Option(None, "--snapshot", help="One snapshot (id, 'latest' or 'previous') instead of "
                                 "the inventory as it stands."),
    set_role: Role = typer.Option(None, "--set-role", help="Say what the named assets are for."),
    set_site: str = typer.Option(None, "--set-site", help="Say where the named assets stand ('' clears)."),
    tag: list[str] = typer.Option(None, "--tag", help="Add a site tag (e.g. military, government); repeatable."),
    untag: list[str] = typer.Option(None, "--untag", help="Remove a site tag; repeatable."),
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """List the assets with verdict, confidence, conflicts and evidence count; or annotate some.

    The inventory as it stands is the latest snapshot of each source, merged.
    Annotations (role, site, tags) are kept across snapshots; site tags such
    as military or government raise the severity of findings.

    Examples:

      vendorscope assets --vendor huawei --role core

      vendorscope assets mac:00:e0:fc:12:34:56 --set-role core --set-site fra-1 --tag government
    """
    annotating = set_role is not None or set_site is not None or bool(tag) or bool(untag)
    if vendor is not None:
        vendor = vendor_or_fail(vendor)
    with _inventory(db) as inventory:
        wanted = [_asset_id(inventory, text) for text in ids or ()]
        if annotating:
            if not wanted:
                fail("name the assets to annotate, e.g. `vendorscope assets mac:00:e0:fc:12:34:56 --set-role core`")
            for asset_id in wanted:
                annotation = inventory.annotate(asset_id, role=set_role, site=set_site, add_tags=tag or (),
                                                remove_tags=untag or ())
                _print_annotation(annotation)
            return
        snapshot_id = inventory.snapshot(snapshot).id if snapshot is not None else None
        found = inventory.assets(snapshot_id, vendor=vendor, site=site, role=role, all_observations=False)
    if wanted:
        found = [a for a in found if a.id in set(wanted)]
    columns = ASSET_TABLE_COLUMNS if fmt is OutputFormat.table else ASSET_COLUMNS
    count = write_rows((asset_row(a) for a in found), columns, fmt)
    if fmt is OutputFormat.table:
        note(f"{count} asset(s)")


def _asset_id(inventory: Inventory, text: str) -> str:
    asset_id = inventory.find_asset_id(text)
    if asset_id is None:
        fail(f"no asset {text!r} in {inventory.name} (see `vendorscope assets`)")
    return asset_id


def _print_annotation(note: Annotation) -> None:
    parts = [f"role {note.role.value}" if note.role else "role as collected",
             f"site {note.site}" if note.site else "no site set",
             f"tags {', '.join(sorted(note.tags))}" if note.tags else "no tags added"]
    if note.removed_tags:
        parts.append(f"tags removed {', '.join(sorted(note.removed_tags))}")
    say(f"{note.asset_id}: {'; '.join(parts)}")


# ---------------------------------------------------------------- one asset


def _where(context: Any) -> str:
    """Where an observation can be found again: file, frame, port, row, probe."""
    if not context:
        return ""
    order = ("file", "frame", "port", "proto", "row", "sheet", "line", "probe", "target", "url")
    items = [(k, context[k]) for k in order if k in context]
    items += [(k, v) for k, v in context.items() if k not in order]
    return " ".join(f"{k}={v}" for k, v in items if v not in (None, ""))


def _rules_by_observation(asset: Asset) -> dict[int, list[Attribution]]:
    fired: dict[int, list[Attribution]] = defaultdict(list)
    for at in asset.attributions:
        if at.observation is not None:
            fired[id(at.observation)].append(at)
    return fired


def evidence_record(o: Observation, fired: Sequence[Attribution]) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "value": o.value,
        "source": o.source,
        "seen_at": o.seen_at.isoformat() if o.seen_at else None,
        "keys": o.keys.as_dict(),
        "context": dict(o.context),
        "rules": [{"rule": a.rule, "vendor": a.vendor, "confidence": a.confidence, "product": a.product,
                   "version": a.version} for a in fired],
    }


def asset_record(asset: Asset, snapshots: Sequence[SnapshotInfo], note: Annotation | None) -> dict[str, Any]:
    fired = _rules_by_observation(asset)
    return {
        **{k: v for k, v in asset_row(asset).items() if k not in ("kinds", "conflicts", "conflict_details")},
        "keys": {k: sorted(v) for k, v in asset.keys.items()},
        "verdict": {"vendor": asset.verdict.vendor, "vendor_name": asset.verdict.vendor_name,
                    "group": asset.verdict.group, "confidence": asset.verdict.confidence,
                    "product": asset.verdict.product, "version": asset.verdict.version,
                    "device_type": asset.verdict.device_type},
        "annotation": None if note is None else {
            "role": note.role.value if note.role else None, "site": note.site,
            "tags": sorted(note.tags), "removed_tags": sorted(note.removed_tags)},
        "conflicts": [c.detail for c in asset.conflicts],
        "snapshots": [{"id": s.id, "source": s.source, "started_at": s.started_at.isoformat()} for s in snapshots],
        "observations": [evidence_record(o, fired.get(id(o), ())) for o in asset.observations],
    }


@app.command(rich_help_panel=PANEL)
def asset(
    asset_id: str = typer.Argument(..., help="Asset id, or a MAC, IP, hostname, serial or asset tag.",
                                   show_default=False),
    snapshot: str = typer.Option(None, "--snapshot", help="As one snapshot saw it (id, 'latest', 'previous')."),
    every: bool = typer.Option(False, "--all", help="List every sighting, not the first few of each observation."),
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, or jsonl for everything."),
) -> None:
    """Show one asset's whole evidence chain: each observation, which rule fired, and where it was seen."""
    with _inventory(db) as inventory:
        resolved = _asset_id(inventory, asset_id)
        snapshot_id = inventory.snapshot(snapshot).id if snapshot is not None else None
        found = inventory.asset(resolved, snapshot_id)
        seen_in = inventory.asset_snapshots(resolved)
        note = annotation_for(found, inventory.annotations()) if found is not None else None
    if found is None:
        fail(f"asset {resolved} is not in snapshot {snapshot}" if snapshot else f"asset {resolved} has no observations")
    if fmt is not OutputFormat.table:
        print(dumps(asset_record(found, seen_in, note)))
        return
    _print_asset(found, seen_in, note, every)


def _print_asset(found: Asset, seen_in: Sequence[SnapshotInfo], note: Annotation | None, every: bool) -> None:
    v = found.verdict
    who = f"{v.vendor_name} ({v.vendor}, group {v.group})" if v.vendor else "no vendor identified"
    say_parts((found.id, "bold"), f"  {who}  confidence {v.confidence:.2f}")
    details = [f"{label} {value}" for label, value in
               (("product", " ".join(x for x in (v.product, v.version) if x)), ("device type", v.device_type)) if value]
    if details:
        say("  " + "; ".join(details))
    say("  keys: " + "; ".join(f"{k} {', '.join(sorted(vs))}" for k, vs in sorted(found.keys.items())))
    set_by_you = " (set by you)"
    say("  role " + found.role.value + (set_by_you if note and note.role else "")
        + "; site " + (found.site or "unknown") + (set_by_you if note and note.site else "")
        + "; tags " + (", ".join(sorted(found.site_tags)) or "none"))
    if found.first_seen or found.last_seen:
        say(f"  seen {_time(found.first_seen)} … {_time(found.last_seen)}")
    if seen_in:
        say("  in snapshots: " + ", ".join(f"{s.id} ({s.source}, {_time(s.started_at)})" for s in seen_in[-10:]))
    for c in found.conflicts:
        say_parts(("  conflict: ", "yellow"), c.detail)
    fired = _rules_by_observation(found)
    groups = _group_sightings(found.observations)
    say_parts(("evidence", "bold"), f": {len(found.observations)} observations, {len(groups)} distinct")
    for group in groups:
        first = group[0]
        count = f"{len(group)} sightings" if len(group) > 1 else "1 sighting"
        say_parts(("  " + first.kind, "bold"), f" {_clip(first.value)!r}  ({count}, {first.source or 'no source'})")
        for a in fired.get(id(first), ()):
            product = " ".join(x for x in (a.product, a.version) if x)
            say(f"    rule {a.rule} → {a.vendor} {a.confidence:.2f}" + (f" ({product})" if product else ""))
        if not fired.get(id(first)):
            say("    no rule fired", style="dim")
        shown = group if every else group[:_SHOWN_SIGHTINGS]
        for o in shown:
            say(f"    seen {_time(o.seen_at) or 'at an unknown time'}  {_where(o.context)}")
        if len(group) > len(shown):
            say(f"    … and {len(group) - len(shown)} more sightings (--all shows them)", style="dim")


def _group_sightings(observations: Sequence[Observation]) -> list[list[Observation]]:
    groups: dict[tuple[Any, ...], list[Observation]] = {}
    for o in observations:
        groups.setdefault((o.kind, o.value, o.source, o.keys), []).append(o)
    return list(groups.values())


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- snapshots, history, diff


def snapshot_row(s: SnapshotInfo) -> dict[str, Any]:
    return {"snapshot": s.id, "source": s.source, "started": _time(s.started_at), "finished": _time(s.finished_at),
            "observations": s.observations, "assets": s.assets, "identified": s.attributed,
            "conflicts": s.conflicts, "stats": s.stats}


@app.command(rich_help_panel=PANEL)
def snapshots(
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """List the snapshots: one per collecting run, with its source, time and counts."""
    with _inventory(db) as inventory:
        found = inventory.snapshots()
    write_rows((snapshot_row(s) for s in found), SNAPSHOT_COLUMNS, fmt)


def history_record(entry: HistoryEntry) -> dict[str, Any]:
    s = entry.snapshot
    return {
        "snapshot": s.id, "source": s.source, "started": _time(s.started_at), "assets": entry.assets,
        "identified": entry.attributed, "conflicts": entry.conflicts,
        "vendors": ", ".join(f"{g} {n}" for g, n in entry.by_group.items()),
        "by_group": entry.by_group,
        "coverage": None if entry.coverage is None else [
            {"policy": c.policy, "requirement": c.requirement,
             "deadline": c.deadline.isoformat() if c.deadline else None, "covered": c.covered, "review": c.review}
            for c in entry.coverage
        ],
    }


@app.command(rich_help_panel=PANEL)
def history(
    policy: str = typer.Option(None, "--policy", help="Only this policy pack's requirements (its id)."),
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    extra: list[Path] = PACKS_OPTION,
) -> None:
    """The inventory after each snapshot, and progress toward each deadline.

    For each snapshot: assets present (the latest snapshot of each source up to
    then), how many are identified, per vendor group; and for each policy
    requirement, how many covered assets were still present.
    """
    from vendorscope.assess import history as judged_history

    criteria = criteria_or_fail(extra, [policy] if policy else None, None, mode, audience)
    with _inventory(db) as inventory:
        entries = judged_history(inventory, criteria, policy)
    records = [history_record(e) for e in entries]
    if fmt is OutputFormat.jsonl:
        write_rows(records, (), fmt)
        return
    if fmt is OutputFormat.csv:
        write_rows(_history_csv_rows(records), ("snapshot", "source", "started", "assets", "identified", "conflicts",
                                                "policy", "requirement", "deadline", "covered", "review"), fmt)
        return
    write_rows(records, ("snapshot", "source", "started", "assets", "identified", "conflicts", "vendors"), fmt,
               title="history")
    _print_deadlines(entries)


def _history_csv_rows(records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in records:
        for c in r["coverage"] or [{}]:
            yield {**{k: v for k, v in r.items() if k != "coverage"}, **c}


def _print_deadlines(entries: Sequence[HistoryEntry], last: int = 8) -> None:
    """Requirements × the last snapshots: covered assets still present."""
    shown = entries[-last:]
    keys: dict[tuple[str, str], Any] = {}
    for e in entries:
        for c in e.coverage or ():
            if c.covered or c.review:
                keys[(c.policy, c.requirement)] = c.deadline or keys.get((c.policy, c.requirement))
    if not keys:
        say("no policy requirement covers any asset in any snapshot")
        return
    table = Table(title="progress toward deadlines: covered assets present after each snapshot")
    for column in ("policy", "requirement", "deadline", *(f"#{e.snapshot.id}" for e in shown)):
        table.add_column(column, overflow="fold")
    for (policy, requirement), deadline in sorted(keys.items()):
        counts = []
        for e in shown:
            found = next((c for c in e.coverage or () if (c.policy, c.requirement) == (policy, requirement)), None)
            counts.append(str(found.covered) if found else "0")
        table.add_row(plain(policy), plain(requirement), deadline.isoformat() if deadline else "", *counts)
    console.print(table)


def diff_rows(changes: Diff) -> Iterator[dict[str, Any]]:
    def row(change: str, before: Asset | None, after: Asset | None) -> dict[str, Any]:
        either = after or before
        assert either is not None
        return {
            "change": change, "asset": either.id,
            "before": (before.verdict.vendor or "unidentified") if before else None,
            "after": (after.verdict.vendor or "unidentified") if after else None,
            "product": either.verdict.product, "confidence": either.verdict.confidence,
            "role": either.role.value, "site": either.site,
        }

    for a in changes.appeared:
        yield row("appeared", None, a)
    for a in changes.disappeared:
        yield row("disappeared", a, None)
    for r in changes.reidentified:
        yield row("re-identified", r.before, r.after)


@app.command(rich_help_panel=PANEL)
def diff(
    a: str = typer.Argument("previous", help="The earlier snapshot: id, 'latest' or 'previous'."),
    b: str = typer.Argument("latest", help="The later snapshot: id, 'latest' or 'previous'."),
    policy: str = typer.Option(None, "--policy", help="Only this policy pack's requirements (its id)."),
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    extra: list[Path] = PACKS_OPTION,
) -> None:
    """What appeared, disappeared or was re-identified between two snapshots, and deadline progress.

    'previous' is the snapshot before the latest one from the same source.
    """
    from vendorscope.assess import diff as judged_diff

    criteria = criteria_or_fail(extra, [policy] if policy else None, None, mode, audience)
    with _inventory(db) as inventory:
        first, second = inventory.snapshot(a), inventory.snapshot(b)
        changes = judged_diff(inventory, first.id, second.id, criteria, policy)
    rows = list(diff_rows(changes))
    if fmt is OutputFormat.jsonl:
        write_rows(rows, (), fmt)
        for p in changes.progress:
            print(dumps({"change": "progress", "policy": p.policy, "requirement": p.requirement,
                         "deadline": p.deadline, "before": p.before, "after": p.after}))
        return
    write_rows(rows, ("change", "asset", "before", "after", "product", "role", "site"), fmt,
               title=f"snapshot {first.id} ({first.source}) → {second.id} ({second.source})")
    if fmt is OutputFormat.table:
        say(f"{len(changes.appeared)} appeared, {len(changes.disappeared)} disappeared, "
            f"{len(changes.reidentified)} re-identified", err=True)
        if changes.progress:
            table = Table(title="covered assets per requirement")
            for column in ("policy", "requirement", "deadline", f"#{first.id}", f"#{second.id}", "change"):
                table.add_column(column)
            for p in changes.progress:
                table.add_row(plain(p.policy), plain(p.requirement), p.deadline.isoformat() if p.deadline else "",
                              str(p.before), str(p.after), f"{p.after - p.before:+d}")
            console.print(table)
