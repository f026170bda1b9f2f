"""`identify`, `vendors`, `rules` and `data`: the identify stage from the shell."""

from __future__ import annotations

import gc
import shutil
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import msgspec
import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import (
    OutputFormat,
    byte_progress,
    did_you_mean,
    err_console,
    fail,
    say,
    say_parts,
    warn,
    write_rows,
)
from vendorscope.identify.batch import read_observation_line
from vendorscope.identify.check import check_rules, recog_disagreements
from vendorscope.identify.engine import Engine, default_engine
from vendorscope.identify.oui import MacError, data_dir, parse_ieee_csv
from vendorscope.identify.recog import RecogError
from vendorscope.identify.registry import RegistryError, default_registry
from vendorscope.identify.rules import RuleError, load_rules
from vendorscope.report.csv_writer import write_csv_rows

ATTRIBUTION_COLUMNS = ("vendor", "vendor_name", "group", "product", "version", "device_type", "confidence", "rule")
_MAX_SHOWN_ERRORS = 20
_LINES_PER_BATCH = 4096
_decode = msgspec.json.Decoder().decode


def _engine() -> Engine:
    try:
        return default_engine()
    except (RegistryError, RuleError) as exc:
        fail(f"bundled data: {exc}")
    except RecogError as exc:
        fail(f"recog ($VENDORSCOPE_RECOG or `rules add-recog`): {exc}")


def identify_lines(engine: Engine, lines: Iterable[bytes], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """One output record per input line, in order; bad lines give an ``error`` record.

    Lines are identified a batch at a time (:meth:`Engine.identify_values_as_dicts`): each distinct
    value is matched once per batch, and its attribution dicts are built once."""
    # The value cache holds hundreds of thousands of small dicts: without this, every full
    # collection walks all of them again (a third of the run). What a batch leaves behind is
    # frozen out of the collector's way; nothing here makes reference cycles.
    was_frozen = gc.get_freeze_count() > 0
    try:
        yield from _identify_batches(engine, iter(lines), source)
    finally:
        if not was_frozen:
            gc.unfreeze()


def _identify_batches(engine: Engine, stream: Iterator[bytes], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    lineno = 0
    decode, decode_error = _decode, msgspec.DecodeError
    identify = engine.identify_values_as_dicts
    while chunk := list(islice(stream, _LINES_PER_BATCH)):
        first = lineno + 1
        records: list[dict[str, Any]] = []
        good: list[dict[str, Any]] = []
        pairs: list[tuple[str, str]] = []
        for raw in chunk:
            lineno += 1
            try:  # the common shape, inline: an object with string kind and value
                record = decode(raw)
            except decode_error:
                record = None
            if (type(record) is not dict or type(kind := record.get("kind")) is not str
                    or type(value := record.get("value")) is not str):
                # not the common shape: read it again for the error that names the line
                record = read_observation_line(raw, f"{source} line {lineno}")
                if "error" in record:
                    record = {"line": lineno, "error": record["error"]}
                kind, value = record.get("kind"), record.get("value")
            if "error" not in record:
                good.append(record)
                pairs.append((kind, value))
            records.append(record)
        for record, dicts in zip(good, identify(pairs), strict=True):
            record["attributions"] = list(dicts)
        yield from zip(range(first, lineno + 1), records, strict=True)
        gc.freeze()


def _open_input(path: str) -> tuple[IO[bytes], int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    p = Path(path)
    if not p.exists():
        fail(f"{path}: no such file")
    if p.is_dir():
        fail(f"{path}: is a directory")
    return p.open("rb"), p.stat().st_size


def _print_attributions(kind: str, value: str, engine: Engine, fmt: OutputFormat) -> None:
    found = engine.identify_value(kind, value)
    if fmt is OutputFormat.table and not found:
        say(f"no vendor identified for {kind} {value[:200]!r}")
        return
    write_rows((a.as_dict() for a in found), ATTRIBUTION_COLUMNS, fmt, title=f"{kind}: {value[:80]}")


@app.command(rich_help_panel="Identify")
def identify(
    input: str = typer.Argument(
        None,
        help="A file of observations (JSON lines with 'kind' and 'value'; '-' for stdin), "
        "or with --kind the evidence value itself.",
        show_default=False,
    ),
    kind: str = typer.Option(None, "--kind", "-k", help="Identify one value of this evidence kind."),
    mac: str = typer.Option(None, "--mac", help="Name the registrant and vendor of a MAC address."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    list_kinds: bool = typer.Option(False, "--list-kinds", help="Print the evidence kinds, one a line."),
) -> None:
    """Name the vendor behind evidence: a banner, a MAC, or a whole file of observations.

    Examples:

      vendorscope identify --kind ssh.banner "SSH-2.0-HUAWEI-1.5"

      vendorscope identify --mac 00:e0:fc:12:34:56

      vendorscope identify observations.jsonl --format jsonl -o attributions.jsonl
    """
    engine = _engine()
    if list_kinds:
        for k in engine.kinds():
            print(k)
        return
    if mac:
        try:
            info = engine.oui.lookup(mac)
        except MacError as exc:
            fail(str(exc))
        if info.scope != "global":
            what = "locally administered (randomised or virtual)" if info.scope == "local" else "multicast"
            say(f"{info.mac}: {what} address: no manufacturer can be attributed")
            return
        found = engine.identify_value("mac", info.mac)
        if fmt is OutputFormat.table:
            say(
                f"{info.mac}: {info.block or 'unregistered'} {info.prefix or ''} "
                f"registrant: {info.registrant or 'not in the IEEE registry'}"
            )
        mac_row = {"mac": info.mac, "registrant": info.registrant, "prefix": info.prefix, "block": info.block}
        if fmt is OutputFormat.table and not found:
            return  # the line above says it all: the registrant is no vendor of the registry
        # A registrant outside the registry still gets its row (registrant, block), without a vendor.
        write_rows(({**mac_row, **a.as_dict()} for a in found) if found else [mac_row],
                   ("mac", "registrant", "prefix", "block", *ATTRIBUTION_COLUMNS), fmt)
        return
    if kind:
        if kind not in engine.kinds():  # a typo would otherwise read as "no vendor identified"
            fail(f"--kind {kind!r}: no such evidence kind{did_you_mean(kind, engine.kinds())}; "
                 "`vendorscope identify --list-kinds` lists them")
        if input is None:
            fail("--kind needs the value to identify, e.g. --kind ssh.banner 'SSH-2.0-HUAWEI-1.5'")
        _print_attributions(kind, input, engine, fmt)
        return
    if input is None:
        fail("give a file of observations ('-' for stdin), or --kind KIND VALUE, or --mac MAC")
    _identify_file(engine, input, fmt, output)


def _identify_file(engine: Engine, path: str, fmt: OutputFormat, output: Path | None) -> None:
    stream, size = _open_input(path)
    out: IO[str] = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    errors = 0
    encode = msgspec.json.Encoder().encode
    show_progress = size is not None and size > 1_000_000 and err_console.is_terminal
    progress = byte_progress("identify", size, enabled=show_progress)
    task = progress.add_task(f"identify {path}", total=size)
    csv_columns = ("line", "kind", "value", *ATTRIBUTION_COLUMNS, "error")
    table_columns = ("line", "kind", "value", "vendor", "group", "product", "version", "device_type", "confidence")

    def lines() -> Iterator[bytes]:
        for raw in stream:
            progress.update(task, advance=len(raw))
            yield raw

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal errors
        for lineno, record in identify_lines(engine, lines(), path):
            if "error" in record:
                errors += 1
                if errors <= _MAX_SHOWN_ERRORS:
                    warn(record["error"])
            yield lineno, record

    try:
        with progress:
            if fmt is OutputFormat.jsonl:
                for _, record in records():
                    out.write(encode(record).decode("utf-8", "backslashreplace") + "\n")
            elif fmt is OutputFormat.csv:
                write_csv_rows(
                    (
                        {"line": lineno, "kind": record.get("kind"), "value": record.get("value"),
                         "error": record.get("error"), **(record.get("attributions") or [{}])[0]}
                        for lineno, record in records()
                    ),
                    csv_columns,
                    out,
                )
            else:  # a table keeps only its first rows in memory
                write_rows(
                    (
                        {"line": lineno, "kind": record["kind"], "value": record["value"][:60], **a}
                        for lineno, record in records()
                        if "error" not in record
                        for a in record["attributions"][:1]
                    ),
                    table_columns,
                    fmt,
                    out=out,
                )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if output:
        out.close()
    if errors:
        if errors > _MAX_SHOWN_ERRORS:
            warn(f"{errors - _MAX_SHOWN_ERRORS} more unreadable lines not shown")
        say(f"{path}: {errors} unreadable line(s); all other lines were identified", err=True)
        raise typer.Exit(1)


@app.command(rich_help_panel="Identify")
def vendors(
    vendor: str = typer.Argument(None, help="Show one vendor (id or any of its names)."),
    high_risk: bool = typer.Option(False, "--high-risk", help="Only vendors named by a policy."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """List the vendor registry, or show one vendor with its names, subsidiaries and brands."""
    registry = default_registry()
    if vendor is None:
        rows = (
            {"id": v.id, "name": v.name, "country": v.country, "high_risk": "yes" if v.high_risk else "",
             "group": registry.group_of(v.id), "categories": list(v.categories)}
            for v in sorted(registry.vendors.values(), key=lambda v: (not v.high_risk, v.id))
            if v.high_risk or not high_risk
        )
        write_rows(rows, ("id", "name", "country", "high_risk", "group", "categories"), fmt)
        return
    vid = vendor if vendor in registry else registry.find_by_name(vendor)
    if vid is None:
        fail(f"no vendor {vendor!r} in the registry (try `vendorscope vendors` for the list)")
    v = registry[vid]
    from vendorscope.identify.oui import default_oui_table  # loaded only when needed

    prefixes = default_oui_table().prefixes_of(set(v.ieee_names))
    members = registry.members_of(vid)
    data: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "legal_names": list(v.legal_names),
        "aliases": list(v.aliases),
        "ieee_names": list(v.ieee_names),
        "country": v.country,
        "high_risk": v.high_risk,
        "categories": list(v.categories),
        "group": registry.group_of(v.id),
        "belongs_to": [
            {"parent": a.parent, "relation": a.relation, "since": a.since, "until": a.until, "source": a.source}
            for a in v.affiliations
        ],
        "members": [
            {"id": m.id, "name": m.name, "relation": a.relation, "since": a.since, "until": a.until}
            for m, a in members
        ],
        "enterprise_numbers": registry.enterprise_numbers_of(v.id),
        "mac_prefixes": prefixes,
        "notes": v.notes,
        "sources": list(v.sources),
    }
    if fmt is not OutputFormat.table:
        from vendorscope.cli.common import dumps

        print(dumps(data))
        return
    say_parts((v.name, "bold"), f" ({v.id})", ("  high-risk" if v.high_risk else "", "red"))
    for label, key in (("legal names", "legal_names"), ("aliases", "aliases"), ("IEEE names", "ieee_names"),
                       ("categories", "categories"), ("enterprise numbers", "enterprise_numbers")):
        if data[key]:
            say(f"  {label}: {', '.join(str(x) for x in data[key])}")
    say(f"  country: {v.country or '?'}   group: {data['group']}   MAC prefixes: {prefixes}")
    for a in v.affiliations:
        say(f"  belongs to {a.parent} as {a.relation} {_span(a.since, a.until)}")
    if members:
        say("  subsidiaries and brands:")
        for m, a in sorted(members, key=lambda x: x[0].id):
            say(f"    {m.name} ({m.id}): {a.relation} {_span(a.since, a.until)}")
    if v.notes:
        say(f"  notes: {v.notes}")


def _span(since: Any, until: Any) -> str:
    if since is None and until is None:
        return ""
    return f"[{since or '…'} → {until or 'now'}]" if until else f"[since {since}]"


rules_app = typer.Typer(help="Fingerprint rules: list them and prove them against their examples.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules", rich_help_panel="Identify")


@rules_app.command("check")
def rules_check(
    extra: list[Path] = typer.Argument(None, help="Extra rule files to check with the bundled ones."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings (shadowed rules) as failures."),
) -> None:
    """Prove every rule against its examples and counterexamples; report collisions."""
    registry = default_registry()
    try:
        rules = load_rules(extra or ())
    except RuleError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}")
    problems = check_rules(rules, registry)
    recog_note = ""
    engine = _engine()
    if engine.recog is not None:
        disagreements = recog_disagreements(engine)
        problems += disagreements
        recog_note = f"; recog: {len(engine.recog.fingerprints)} fingerprints, {len(disagreements)} disagreements"
    for p in problems:
        say(str(p), err=p.severity == "error")
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    notes = len(problems) - errors - warnings
    examples = sum(len(r.examples) + len(r.counterexamples) for r in rules)
    say(f"{len(rules)} rules, {examples} examples checked: {errors} errors, {warnings} warnings, "
                  f"{notes} provenance notes{recog_note}")
    if errors or (strict and warnings):
        raise typer.Exit(1)


@rules_app.command("add-recog")
def rules_add_recog(
    path: Path = typer.Argument(..., help="Your recog checkout, or its xml/ folder (github.com/rapid7/recog)."),
) -> None:
    """Use Rapid7 recog's fingerprints from now on (remembered in the data directory; curated rules win)."""
    from vendorscope.identify.recog import add_recog_path, load_recog

    path = path.expanduser().resolve()
    try:
        database = load_recog([path], default_registry())
    except RecogError as exc:
        fail(str(exc))
    if not database.fingerprints:
        fail(f"{path}: no recog fingerprint files found (expected xml/*.xml)")
    from vendorscope.identify.matcher import SetMatcher

    matcher = SetMatcher(database.rules)
    matcher.compile_all()  # here rather than on first use: report the patterns RE2 refuses
    stored = add_recog_path(path)
    say(f"{path}: {len(database.fingerprints)} recog fingerprints in "
                  f"{len({f.rule.kinds[0] for f in database.fingerprints.values()})} evidence kinds "
                  f"({len(matcher.fallback_rules)} patterns run with Python re: RE2 refuses them); "
                  f"remembered in {stored}")
    if database.skipped_files:
        warn(f"files of evidence kinds vendorscope does not map, skipped: {', '.join(database.skipped_files)}")


@rules_app.command("remove-recog")
def rules_remove_recog(
    path: Path = typer.Argument(..., help="A folder added with `rules add-recog`."),
) -> None:
    """Stop using a recog checkout added with `rules add-recog`."""
    from vendorscope.identify.recog import remove_recog_path

    if not remove_recog_path(path.expanduser().resolve()) and not remove_recog_path(path):
        fail(f"{path}: not among the recog folders added with `rules add-recog`")
    say(f"{path}: removed")


@rules_app.command("list")
def rules_list(
    kind: str = typer.Option(None, "--kind", "-k", help="Only rules for this evidence kind."),
    vendor: str = typer.Option(None, "--vendor", help="Only rules naming this vendor."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """List the bundled rules."""
    from vendorscope.identify.rules import default_rules

    rows = (
        {"id": r.id, "kinds": list(r.kinds), "vendor": r.vendor, "confidence": r.confidence,
         "device_type": r.device_type, "examples": len(r.examples), "file": r.file}
        for r in default_rules()
        if (kind is None or kind in r.kinds) and (vendor is None or r.vendor == vendor)
    )
    write_rows(rows, ("id", "kinds", "vendor", "confidence", "device_type", "examples", "file"), fmt)


data_app = typer.Typer(help="Reference data: refresh the IEEE MAC registry from files you download.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data", rich_help_panel="Identify")


@data_app.command("update")
def data_update(
    files: list[Path] = typer.Argument(..., help="IEEE registry CSV exports (oui.csv, mam.csv, oui36.csv)."),
) -> None:
    """Add IEEE MA-L/MA-M/MA-S CSV exports to the MAC table (they take precedence)."""
    target = data_dir() / "ieee"
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            entries = parse_ieee_csv(path.read_text("utf-8", errors="replace"))
        except OSError as exc:
            fail(f"{path}: {exc.strerror}")
        except ValueError as exc:
            fail(f"{path}: {exc}")
        shutil.copyfile(path, target / path.name)
        say(f"{path}: {len(entries)} assignments installed into {target}")
