"""The report stage: figures, charts, JSON (against its schema), CSV, CycloneDX and the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_samples import (
    AS_OF,
    DEADLINE_PASSED,
    DEADLINE_SOON,
    HIGH_RISK,
    HOSTILE_BANNER,
    HOSTILE_PRODUCT,
    HOSTILE_SITE,
    PACKS,
    asset,
    history,
    sample,
)

from vendorscope.model import Asset, Conflict, Finding, Role, Status, Verdict
from vendorscope.report.charts import MAX_BARS, bar_chart, burndown_chart, fold_rows
from vendorscope.report.csv_report import COLUMNS, render_csv, safe_cell
from vendorscope.report.cyclonedx_bom import bom_dict, render_bom
from vendorscope.report.data import (
    MAX_EVIDENCE_PER_ASSET,
    MAX_VALUE_CHARS,
    BreakdownRow,
    BurnDown,
    BurnPoint,
    Category,
    ReportData,
    build_report,
    evidence_dict,
    history_points,
    strongest_evidence,
)
from vendorscope.report.html import content_security_policy, environment, render_html, safe_url, script_json
from vendorscope.report.json_report import render_json, report_dict

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))
SVG = "{http://www.w3.org/2000/svg}"


def report(n: int = 60, hostile: int = 1, **kw: Any) -> ReportData:
    assets, findings = sample(n, hostile)
    kw.setdefault("packs", PACKS)
    kw.setdefault("high_risk_vendors", HIGH_RISK)
    return build_report(assets, findings, AS_OF, **kw)


def bare(i: str, vendor: str | None = None, **kw: Any) -> Asset:
    return Asset(
        id=i,
        keys={"ip": {f"192.0.2.{len(i)}"}},
        observations=[],
        attributions=[],
        verdict=Verdict(vendor=vendor, vendor_name=vendor and vendor.title(), group=vendor,
                        confidence=0.9 if vendor else 0.0),
        **kw,
    )


def finding(asset_id: str, status: Status, deadline: date | None = None, req: str = "r1",
            policy: str = "p") -> Finding:
    return Finding(asset_id, policy, req, status, AS_OF, deadline, "high", f"{status.value} because")


# ---------------------------------------------------------------- figures


def test_headline_counts_exactly() -> None:
    conflict = Conflict("acme", "inventory.manufacturer", "huawei", "ssh.banner", "labelled Acme")
    assets = [
        bare("a", "huawei", conflicts=[conflict]),  # covered: overdue here, must_remove there
        bare("b", "hikvision"),  # review only
        bare("c", "zte"),  # high-risk maker, no finding
        bare("d", "cisco"),  # other
        bare("e"),  # unidentified
    ]
    findings = [
        finding("a", Status.overdue, DEADLINE_PASSED, "old"),
        finding("a", Status.must_remove, DEADLINE_SOON, "soon"),
        finding("b", Status.review),
        finding("d", Status.clear),
    ]
    data = build_report(assets, findings, AS_OF, high_risk_vendors=HIGH_RISK)
    h = data.headline
    assert (h.assets, h.identified, h.high_risk, h.covered, h.review, h.overdue, h.conflicts) == (5, 4, 3, 1, 1, 1, 1)
    assert h.findings == 3  # the clear one is counted, not listed
    assert h.findings_by_status == {"overdue": 1, "prohibited": 0, "must_remove": 1, "restricted": 0,
                                    "advisory": 0, "review": 1, "clear": 1}
    assert h.next_deadline is not None
    assert (h.next_deadline.deadline, h.next_deadline.days_left, h.next_deadline.requirement,
            h.next_deadline.assets) == (DEADLINE_SOON, (DEADLINE_SOON - AS_OF).days, "soon", 1)
    assert data.categories == {"a": Category.covered, "b": Category.review, "c": Category.high_risk,
                               "d": Category.other, "e": Category.other}
    assert [f.status for f in data.findings] == [Status.overdue, Status.must_remove, Status.review]
    assert len(build_report(assets, findings, AS_OF, include_clear=True).findings) == 4


def test_next_deadline_ignores_past_and_non_covering() -> None:
    findings = [
        finding("a", Status.overdue, DEADLINE_PASSED),
        finding("a", Status.review, AS_OF + timedelta(days=3)),
        finding("b", Status.must_remove, AS_OF, "today"),
    ]
    nd = build_report([bare("a"), bare("b")], findings, AS_OF).headline.next_deadline
    assert nd is not None and (nd.requirement, nd.days_left) == ("today", 0)
    assert build_report([bare("a")], findings[:2], AS_OF).headline.next_deadline is None


def test_breakdowns_add_up_and_put_concern_first() -> None:
    data = report(300)
    for rows in (data.by_group, data.by_site, data.by_role):
        assert sum(r.assets for r in rows) == data.headline.assets
        for r in rows:
            assert r.covered + r.review + r.high_risk + r.other == r.assets
        concern = [r.covered + r.review + r.high_risk for r in rows]
        assert concern == sorted(concern, reverse=True)
    groups = {r.key: r for r in data.by_group}
    assert groups["(unidentified)"].other == groups["(unidentified)"].assets
    assert groups["cisco"].covered == 0 and groups["huawei"].covered == groups["huawei"].assets
    assert sum(r.covered for r in data.by_site) == data.headline.covered


def test_burndown_from_history_and_from_current_findings() -> None:
    data = report(60, history=history(4))
    series = {(b.policy, b.requirement): b for b in data.burndowns}
    assert set(series) == {("de-5g-core", "legacy-exit"), ("de-5g-core", "core-exit")}  # only with deadlines
    assert [b.requirement for b in data.burndowns] == ["legacy-exit", "core-exit"]  # by deadline
    core = series[("de-5g-core", "core-exit")]
    assert core.deadline == DEADLINE_SOON
    assert [p.covered for p in core.points] == [40, 32, 24, 16]
    assert [p.snapshot_id for p in core.points] == [1, 2, 3, 4]
    # without history: one point, the assets the current findings cover
    now = report(60)
    core_now = next(b for b in now.burndowns if b.requirement == "core-exit")
    covered = {f.asset_id for f in now.findings if f.requirement == "core-exit"}
    assert [(p.snapshot_id, p.covered) for p in core_now.points] == [(None, len(covered))]


def test_history_points_reads_store_entries() -> None:
    from vendorscope.store.queries import Coverage, HistoryEntry, SnapshotInfo

    def entry(i: int, cover: list[Coverage] | None) -> HistoryEntry:
        snap = SnapshotInfo(i, "probe", datetime(2026, 1, i, tzinfo=UTC), None, 0, 0, 0, 0, 0)
        return HistoryEntry(snap, 0, 0, 0, {}, cover)

    entries = [
        entry(1, [Coverage("p", "r", DEADLINE_SOON, 5, 1), Coverage("q", "s", None, 2, 0)]),
        entry(2, None),  # no judge then: skipped
        entry(3, [Coverage("p", "r", DEADLINE_SOON, 3, 0)]),
    ]
    points = history_points(entries, {"p"})
    assert [(p.snapshot_id, dict(p.covered)) for p in points] == [(1, {("p", "r"): 5}), (3, {("p", "r"): 3})]
    bd = build_report([], [], AS_OF, history=points).burndowns
    assert [(b.policy, b.requirement, b.deadline, [p.covered for p in b.points]) for b in bd] == [
        ("p", "r", DEADLINE_SOON, [5, 3])
    ]


def test_evidence_is_bounded() -> None:
    a = asset(0)
    long_obs = replace(a.observations[0], value="x" * (MAX_VALUE_CHARS * 3))
    attrs = [replace(a.attributions[0], observation=long_obs, confidence=i / 100) for i in range(40)]
    ev = [evidence_dict(link) for link in strongest_evidence(replace(a, attributions=attrs))]
    assert len(ev) == MAX_EVIDENCE_PER_ASSET
    assert ev[0]["confidence"] == 0.39  # strongest first
    assert len(ev[0]["value"]) < MAX_VALUE_CHARS + 40 and "more characters" in ev[0]["value"]
    assert ev[0]["context"] == {"file": "lab.pcap", "frame": 100, "port": 22}


# ---------------------------------------------------------------- charts


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_bar_chart_draws_one_segment_per_category() -> None:
    rows = [BreakdownRow("huawei", 10, 6, 1, 2, 1), BreakdownRow("cisco", 4, 0, 0, 0, 4)]
    root = parse_svg(bar_chart(rows, "By vendor"))
    bars = root.findall(f"{SVG}g")
    assert [b.get("data-key") for b in bars] == ["huawei", "cisco"]
    assert [r.get("class") for r in bars[0].findall(f"{SVG}rect")] == [
        "seg-covered", "seg-review", "seg-high_risk", "seg-other"]
    widths = [float(r.get("width", 0)) for r in bars[0].findall(f"{SVG}rect")]
    assert widths[0] == pytest.approx(widths[2] * 3)  # 6 covered vs 2 high-risk
    assert [r.get("class") for r in bars[1].findall(f"{SVG}rect")] == ["seg-other"]
    empty = parse_svg(bar_chart([], "nothing"))
    assert "no assets" in "".join(empty.itertext())


def test_bar_chart_folds_the_long_tail() -> None:
    rows = [BreakdownRow(f"site {i}", 20 - i, 1, 0, 0, 19 - i) for i in range(20)]
    folded = fold_rows(rows)
    assert len(folded) == MAX_BARS and folded[-1].key == f"{20 - MAX_BARS + 1} more"
    assert sum(r.assets for r in folded) == sum(r.assets for r in rows)
    assert len(parse_svg(bar_chart(rows, "t")).findall(f"{SVG}g")) == MAX_BARS


def test_chart_text_is_escaped() -> None:
    rows = [BreakdownRow(HOSTILE_SITE, 1, 1, 0, 0, 0), BreakdownRow("a\x00b\ud800", 1, 0, 0, 0, 1)]
    svg = bar_chart(rows, '<script>alert("t")</script>')
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = parse_svg(svg)
    assert {el.tag.removeprefix(SVG) for el in root.iter()} <= {"svg", "title", "g", "text", "rect"}
    assert root.findall(f"{SVG}g")[0].get("data-key") == HOSTILE_SITE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=15), st.text(max_size=60))
def test_any_label_makes_well_formed_svg(keys: list[str], title: str) -> None:
    rows = [BreakdownRow(k, 3, 1, 1, 0, 1) for k in keys]
    root = parse_svg(bar_chart(rows, title))
    assert {el.tag.removeprefix(SVG) for el in root.iter()} <= {"svg", "title", "g", "text", "rect"}
    bd = BurnDown(title or "p", keys[0] or "r", AS_OF, (BurnPoint(datetime(2026, 1, 1, tzinfo=UTC), 1, 2),))
    parse_svg(burndown_chart(bd, AS_OF))


def test_burndown_chart_shape() -> None:
    pts = tuple(BurnPoint(datetime(2026, 1, 1 + 10 * k, tzinfo=UTC), k + 1, 30 - 10 * k) for k in range(3))
    root = parse_svg(burndown_chart(BurnDown("de-5g-core", "core-exit", DEADLINE_SOON, pts), AS_OF))
    by_class = {el.get("class"): el for el in root.iter() if el.get("class")}
    assert len(by_class["actual"].get("points", "").split()) == 3
    assert len([el for el in root.iter() if el.get("class") == "point"]) == 3
    assert {"deadline", "as-of", "target"} <= set(by_class)
    assert by_class["deadline"].get("x1") == by_class["deadline"].get("x2")
    # the actual line falls: y grows downwards in SVG
    ys = [float(p.split(",")[1]) for p in by_class["actual"].get("points", "").split()]
    assert ys == sorted(ys)
    # a deadline already passed: shaded, no straight-path target from after the deadline
    late = parse_svg(burndown_chart(BurnDown("p", "r", DEADLINE_PASSED, pts), AS_OF))
    classes = {el.get("class") for el in late.iter()}
    assert "past-deadline" in classes and "target" not in classes
    one = parse_svg(burndown_chart(BurnDown("p", "r", DEADLINE_SOON, pts[:1]), AS_OF))
    assert "actual" not in {el.get("class") for el in one.iter()}


# ---------------------------------------------------------------- JSON


def validate(doc: Any) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "kw",
    [{}, {"history": history(3)}, {"include_clear": True}, {"packs": []}],
    ids=["plain", "history", "all", "no-packs"],
)
def test_json_report_matches_its_schema(kw: dict[str, Any]) -> None:
    data = report(80, hostile=2, **kw)
    doc = json.loads(render_json(data))
    validate(doc)
    assert doc["headline"]["assets"] == 80 == len(doc["assets"])
    ids = {a["id"] for a in doc["assets"]}
    assert {f["asset_id"] for f in doc["findings"]} <= ids
    hostile = next(a for a in doc["assets"] if a["site"] == HOSTILE_SITE)
    assert hostile["evidence"][0]["value"] == HOSTILE_BANNER  # verbatim: escaping is the reader's job
    assert hostile["product"] == HOSTILE_PRODUCT


def test_json_report_of_empty_inventory_matches_schema() -> None:
    doc = json.loads(render_json(build_report([], [], AS_OF)))
    validate(doc)
    assert doc["headline"]["next_deadline"] is None and doc["findings"] == [] and doc["burndown"] == []


def test_schema_rejects_a_wrong_report() -> None:
    doc = json.loads(render_json(report(10)))
    doc["findings"][0]["status"] = "fine"
    with pytest.raises(AssertionError):
        validate(doc)


# ---------------------------------------------------------------- HTML (structure; the browser test runs it)


def data_block(html: str) -> str:
    m = re.search(r'<script type="application/json" id="vs-data">(.*?)</script>', html, re.S)
    assert m
    return m.group(1)


def test_html_escapes_hostile_text_everywhere() -> None:
    data = report(50, hostile=3)
    html = render_html(data, csp=False)
    assert "window.pwned" in html  # the banner is in there...
    assert "<script>window.pwned" not in html and "<img src=x" not in html  # ...but never as markup
    assert len(re.findall(r"<script\b", html)) == 2  # the data block and our own script
    block = data_block(html)
    assert "<" not in block and ">" not in block and "&" not in block
    assert json.loads(block) == report_dict(data, only_assets_with_findings=True)
    assert "&lt;script&gt;window.pwned=3&lt;/script&gt;Depot" in html  # the site in the site chart


def test_html_needs_no_network_and_pins_its_script() -> None:
    html = render_html(report(20))
    markup = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    assert not re.search(r"<(link|img|iframe|object|embed|audio|video|source)\b", markup, re.I)
    assert not re.search(r"\s(src|srcset|xlink:href)\s*=", markup, re.I)
    assert "@import" not in html and "url(" not in html
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|importScripts|EventSource)\b", html)
    # the only external URLs are plain links to the policies' sources
    hrefs = re.findall(r'href="([^"#][^"]*)"', markup)
    assert hrefs == ["https://www.acq.osd.mil/dpap/dars/section889.html"]
    assert "javascript:" not in markup  # a pack with a javascript: URL gets no link
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp
    script = re.findall(r"<script>(.*?)</script>", html, re.S)[0]
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style
    assert csp.group(1) == content_security_policy(script, style.group(1)).replace("'", "&#39;")


def test_html_template_autoescapes() -> None:
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_script_json_escapes_markup_and_surrogates() -> None:
    text = script_json({"v": "</script><!-- & \ud800 é"})
    assert not re.search(r"[<>&]", text) and text.isascii()
    assert json.loads(text) == {"v": "</script><!-- & \ud800 é"}


def test_html_with_lone_surrogates_writes_as_utf8(tmp_path: Path) -> None:
    assets, findings = sample(5)
    assets[0] = replace(assets[0], site="bad\udcff site")
    html = render_html(build_report(assets, findings, AS_OF))
    path = tmp_path / "r.html"
    path.write_text(html, encoding="utf-8")  # strict: a lone surrogate left in the page would raise here
    assert "bad" in path.read_bytes().decode("utf-8")


def test_safe_url() -> None:
    assert safe_url("https://example.org/x") == "https://example.org/x"
    assert safe_url(" JavaScript:alert(1)") is None and safe_url("data:text/html,x") is None
    assert safe_url(None) is None


# ---------------------------------------------------------------- CSV


def test_csv_one_row_per_listed_finding() -> None:
    data = report(70, hostile=2)
    rows = list(csv.reader(io.StringIO(render_csv(data))))
    assert tuple(rows[0]) == COLUMNS
    body = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]
    assert len(body) == len(data.findings)
    first = data.findings[0]
    assert (body[0]["asset_id"], body[0]["status"], body[0]["policy"]) == (
        first.asset_id, first.status.value, first.policy)
    overdue = next(r for r in body if r["status"] == "overdue")
    assert overdue["deadline"] == DEADLINE_PASSED.isoformat()
    assert overdue["days_left"] == str((DEADLINE_PASSED - AS_OF).days)  # negative, left numeric
    hostile = next(r for r in body if r["site"] == HOSTILE_SITE)
    assert "window.pwned" in hostile["evidence"] and hostile["mac"].startswith("02:00:00")
    assert hostile["reason"]


def test_csv_defuses_formulas() -> None:
    assert safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("+1") == "'+1" and safe_cell("-2+3") == "'-2+3"
    assert safe_cell("Huawei") == "Huawei"
    assets, findings = sample(3, hostile=0)
    assets[0] = replace(assets[0], site="=cmd|' /C calc'!A0")
    rows = list(csv.DictReader(io.StringIO(render_csv(build_report(assets, findings, AS_OF)))))
    assert {r["site"] for r in rows if r["asset_id"] == assets[0].id} == {"'=cmd|' /C calc'!A0"}


# ---------------------------------------------------------------- CycloneDX


def validate_cyclonedx(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(getattr(error, "data", error))[:500]


def test_cyclonedx_bom_is_valid_1_6_with_one_device_per_asset() -> None:
    data = report(40, hostile=2)
    text = render_bom(data)
    validate_cyclonedx(text)
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"
    comps = doc["components"]
    assert [c["bom-ref"] for c in comps] == [a.id for a in data.assets]
    assert {c["type"] for c in comps} == {"device"}
    huawei = next(c for c, a in zip(comps, data.assets, strict=True) if a.verdict.vendor == "huawei"
                  and a.site != HOSTILE_SITE)
    assert huawei["manufacturer"] == {"name": "Huawei"} == huawei["supplier"]
    assert (huawei["name"], huawei["version"]) == ("NE40E", "1.5")
    props = {(p["name"], p["value"]) for p in huawei["properties"]}
    assert ("vendorscope:vendor_group", "huawei") in props and ("vendorscope:role", "core") in props
    assert ("vendorscope:verdict_confidence", "0.90") in props and ("vendorscope:status", "prohibited") in props
    assert any(n == "vendorscope:key:mac" for n, _ in props) and any(n == "vendorscope:key:ip" for n, _ in props)
    assert any(n == "vendorscope:finding" and v.startswith("de-5g-core/core-exit: must_remove") for n, v in props)
    method = huawei["evidence"]["identity"][0]["methods"][0]
    assert method["value"].startswith("ssh.banner: SSH-2.0-HUAWEI-1.5") and method["confidence"] == 0.9
    unknown = next(c for c, a in zip(comps, data.assets, strict=True) if a.verdict.vendor is None)
    assert "manufacturer" not in unknown and unknown["name"] == "unidentified device"


def test_cyclonedx_bom_reads_back_with_the_library() -> None:
    from cyclonedx.model.bom import Bom

    data = report(15)
    bom = Bom.from_json(bom_dict(data))  # type: ignore[attr-defined]
    assert len(bom.components) == 15
    assert {c.manufacturer.name for c in bom.components if c.manufacturer} == {
        a.verdict.vendor_name for a in data.assets if a.verdict.vendor_name}


def test_cyclonedx_bom_of_empty_inventory_is_valid() -> None:
    validate_cyclonedx(render_bom(build_report([], [], AS_OF)))


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small inventory with two snapshots of one source: 16 assets, then 10 of them."""
    from vendorscope.store.inventory import open_inventory

    db = tmp_path_factory.mktemp("inv") / "inv.db"
    assets = [asset(0, hostile=True)] + [asset(i) for i in range(1, 16)]
    with open_inventory(str(db)) as inv:
        for k, n in enumerate([16, 10]):
            day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=30 * k)
            inv.write_snapshot("probe:test", day, [o for a in assets[:n] for o in a.observations], assets[:n])
    return db


def run(*args: str) -> Any:
    from typer.testing import CliRunner

    from vendorscope.cli import app

    return CliRunner().invoke(app, list(args))


def test_report_command_writes_every_format(inventory: Path, tmp_path: Path) -> None:
    out = {f: tmp_path / f"r.{f}" for f in ("html", "json", "csv", "cyclonedx")}
    for fmt, path in out.items():
        r = run("report", "--db", str(inventory), "--format", fmt, "-o", str(path), "--as-of", "2026-03-01",
                "--policy", "us-ndaa-889", "--policy", "uk-tsa-huawei-dvd")
        assert r.exit_code == 0, r.output
        assert path.stat().st_size > 0
    doc = json.loads(out["json"].read_text(encoding="utf-8"))
    validate(doc)
    assert doc["as_of"] == "2026-03-01" and doc["headline"]["assets"] == 10
    assert {p["id"] for p in doc["policies"]} == {"us-ndaa-889", "uk-tsa-huawei-dvd"}
    assert {f["policy"] for f in doc["findings"]} <= {"us-ndaa-889", "uk-tsa-huawei-dvd"}
    covered = {f["asset_id"] for f in doc["findings"] if f["status"] == "prohibited"}
    assert {a.id for a in [asset(0, hostile=True), asset(1), asset(7), asset(8)]} <= covered  # Huawei, ZTE
    assert [s["id"] for s in doc["snapshots"]] == [1, 2]
    for series in doc["burndown"]:  # the history: one point per snapshot
        assert [p["snapshot_id"] for p in series["points"]] == [1, 2]
    html = out["html"].read_text(encoding="utf-8")
    assert "<script>window.pwned" not in html and "vs-data" in html
    rows = list(csv.DictReader(io.StringIO(out["csv"].read_text(encoding="utf-8"))))
    assert len(rows) == len(doc["findings"])
    validate_cyclonedx(out["cyclonedx"].read_text(encoding="utf-8"))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{missing}"], "no inventory"),
        (["--policy", "no-such-pack"], "no policy pack 'no-such-pack'"),
        (["--as-of", "2026-02-30"], "--as-of"),
        (["-o", "{tmp}/no/such/dir/r.html"], "no such directory"),
        (["--format", "pdf"], "pdf"),
    ],
)
def test_report_command_errors_are_one_line(inventory: Path, tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--db": str(inventory), "-o": str(tmp_path / "r.html")}
    it = iter(args)
    for flag in it:
        base[flag] = next(it).format(missing=tmp_path / "none.db", tmp=tmp_path)
    r = run("report", *[x for kv in base.items() for x in kv])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "r.html").exists()


def test_report_to_stdout(inventory: Path) -> None:
    r = run("report", "--db", str(inventory), "--format", "csv", "-o", "-", "--policy", "us-ndaa-889",
            "--no-history")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].split(",")[:2] == ["asset_id", "mac"]


def test_report_roles_as_the_judge_sees_them() -> None:
    from vendorscope.assess import with_effective_roles as _with_effective_roles

    cam = replace(bare("cam", "hikvision"), verdict=replace(bare("cam", "hikvision").verdict, device_type="camera"))
    core = replace(bare("core", "huawei"), role=Role.core)
    out = _with_effective_roles([cam, core])
    assert [a.role for a in out] == [Role.cctv, Role.core]


def _unique_assets(data: Any) -> Any:
    seen: set[str] = set()
    unique = [a for a in data.assets if not (a.id in seen or seen.add(a.id))]
    return replace(data, assets=unique)


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A BOM's content without the order (and repeats) the library's sorted sets drop."""
    def component(c: dict[str, Any]) -> tuple[Any, ...]:
        identity = [(i["field"], i["confidence"], i["concludedValue"],
                     sorted({(m["technique"], m["confidence"], m["value"]) for m in i["methods"]}))
                    for i in c.get("evidence", {}).get("identity", [])]
        return (c["type"], c["name"], c.get("version"), c.get("supplier"), c.get("manufacturer"),
                c.get("description"), sorted({(p["name"], p["value"]) for p in c["properties"]}), identity)

    meta = doc["metadata"]
    return {
        "spec": (doc["bomFormat"], doc["specVersion"], doc["serialNumber"], doc["version"]),
        "meta": (meta["timestamp"][:19], meta["lifecycles"],
                 sorted({(p["name"], p["value"]) for p in meta["properties"]}),
                 [(t["name"], t["version"]) for t in meta["tools"]["components"]]),
        "components": [(c["bom-ref"], component(c)) for c in doc["components"]],
    }


def test_cyclonedx_built_by_the_library_carries_the_direct_writers_content() -> None:
    """Below the threshold the library builds the BOM; above it the direct writer: the same BOM either way."""
    import uuid

    from vendorscope.report import cyclonedx_bom

    data = _unique_assets(report(40, hostile=2))
    assert any(a.site == HOSTILE_SITE for a in data.assets)
    serial = uuid.uuid4()
    doc = bom_dict(data, serial)
    via_library = cyclonedx_bom.library_bom_json(doc)
    direct = json.dumps(doc, ensure_ascii=False, indent=2)
    validate_cyclonedx(via_library)
    validate_cyclonedx(direct)
    assert _comparable(json.loads(via_library)) == _comparable(json.loads(direct))
    assert [c["bom-ref"] for c in json.loads(via_library)["components"]] == [a.id for a in data.assets]
    # render_bom chooses by size: both routes give valid BOMs of every asset.
    for limit in (0, cyclonedx_bom.LIBRARY_MAX_ASSETS):
        rendered = json.loads(render_bom(data, library_max_assets=limit))
        assert [c["bom-ref"] for c in rendered["components"]] == [a.id for a in data.assets]


# ---------------------------------------------------------------- for an auditor: cover, labels, one snapshot


def test_one_snapshot_burndown_is_one_point_and_says_so() -> None:
    """Several snapshots on one day (the demo: capture, probe, imports) are one point, not a vertical line."""
    day = datetime(2026, 1, 5, 9, tzinfo=UTC)
    same_day = tuple(BurnPoint(day + timedelta(minutes=k), k + 1, k) for k in range(3))  # 0, 1, 2 covered
    root = parse_svg(burndown_chart(BurnDown("p", "r", DEADLINE_SOON, same_day), AS_OF))
    classes = [el.get("class") for el in root.iter()]
    assert "actual" not in classes and classes.count("point") == 1 and "single-point" in classes
    point = next(el for el in root.iter() if el.get("class") == "point")
    assert "2 covered assets" in "".join(point.itertext())  # the latest of the day
    two_days = (same_day[0], BurnPoint(day + timedelta(days=3), 9, 1))
    root = parse_svg(burndown_chart(BurnDown("p", "r", DEADLINE_SOON, two_days), AS_OF))
    classes = [el.get("class") for el in root.iter()]
    assert "actual" in classes and "single-point" not in classes and classes.count("point") == 2


def test_html_cover_names_organisation_scope_method_and_disclaimer() -> None:
    from vendorscope.store.queries import SnapshotInfo

    snaps = [SnapshotInfo(1, "pcap:core.pcap", datetime(2026, 1, 2, 8, tzinfo=UTC), None, 10, 5, 4, 4, 0),
             SnapshotInfo(2, "import:table:cmdb.csv", datetime(2026, 1, 9, 8, tzinfo=UTC), None, 20, 8, 6, 6, 1)]
    data = report(30, organisation="Beispiel <Netz> AG", mode="strict", audiences=["usf-recipient"],
                  snapshots=snaps)
    page = render_html(data)
    cover = page[page.index('id="cover"'):page.index('<nav class="sections"')]
    assert "Beispiel &lt;Netz&gt; AG" in cover and "<Netz>" not in cover
    assert "2026-01-02 08:00 UTC to 2026-01-09 08:00 UTC, in 2 snapshots" in cover
    assert "pcap:core.pcap" in cover and "import:table:cmdb.csv" in cover
    assert all(p.id in cover for p in data.policies)
    assert "strict: purpose-qualified coverage is treated as covered" in cover and "usf-recipient" in cover
    assert "not legal advice" in cover
    # cards count assets, badges count findings: each says so
    assert "These figures count <strong>assets</strong>" in page and "These count <strong>findings</strong>" in page
    overdue = data.headline.findings_by_status["overdue"]
    assert f"overdue: {overdue} findings</span>" in page
    unnamed = render_html(report(5))
    assert "not stated (vendorscope report --organisation NAME)" in unnamed


def test_report_command_names_the_organisation(inventory: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    r = run("report", "--db", str(inventory), "-o", str(path), "--organisation", "Example Telecom GmbH",
            "--mode", "strict", "--as-of", "2026-03-01")
    assert r.exit_code == 0, r.output
    page = path.read_text(encoding="utf-8")
    cover = page[page.index('id="cover"'):page.index('<nav class="sections"')]
    assert 'id="cover-organisation">Example Telecom GmbH<' in cover and 'id="cover-mode">strict' in cover
    quiet = run("-q", "report", "--db", str(inventory), "-o", str(path))
    assert quiet.exit_code == 0 and quiet.stderr == ""
