"""Issue 16: the packs are right as of 2026-12-04, say how strong each rule is, cover classes of
equipment, carry review dates, validate against the published schema, and load a user's packs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.identify.registry import Registry, default_registry
from vendorscope.judge.evaluate import evaluate
from vendorscope.judge.packs import (
    FORCES,
    PackError,
    PolicyPack,
    bundled_packs,
    load_packs,
    pack_schema,
    parse_pack,
    validate_pack_file,
)
from vendorscope.model import Asset, Attribution, Finding, Role, Status, Verdict

ROOT = Path(__file__).resolve().parents[1]
PACK_DIR = ROOT / "src" / "vendorscope" / "judge" / "packs"
TODAY = date(2026, 12, 4)
NEW_PACKS = {
    "us-dod-805-1260h", "us-ndaa-5949", "fr-2019-810", "nl-telecom-core-2019", "dk-telecom-security-2021",
    "it-golden-power-2020", "jp-espa-2024", "in-trusted-sources", "in-cctv-stqc-2025", "ca-qc-2023",
}
REMOVAL = {Status.must_remove, Status.overdue, Status.prohibited}
runner = CliRunner()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture(scope="module")
def packs() -> dict[str, PolicyPack]:
    return {p.id: p for p in load_packs(environ={})}


def device(vendor: str | None, role: Role = Role.unknown, device_type: str | None = None,
           tags: tuple[str, ...] = ()) -> Asset:
    attributions = [Attribution(vendor, vendor, vendor, 0.9, "test.rule", device_type=device_type)] if vendor else []
    return Asset(
        id=f"test:{vendor}:{device_type}:{role.value}:{'-'.join(tags)}", keys={}, observations=[],
        attributions=attributions, verdict=Verdict(vendor, vendor, vendor, 0.9 if vendor else 0.0,
                                                   device_type=device_type),
        role=role, site_tags=frozenset(tags),
    )


def judge(asset: Asset, pack: PolicyPack, day: date, registry: Registry, **kw: Any) -> dict[str, Finding]:
    return {f.requirement: f for f in evaluate([asset], [pack], day, registry, **kw)}


# ----------------------------------------------------------------- the bundled packs


def test_at_least_22_packs_with_the_new_jurisdictions(packs: dict[str, PolicyPack]) -> None:
    assert len(packs) >= 22 and set(packs) >= NEW_PACKS


def test_every_pack_has_force_review_date_and_retrieved_sources(packs: dict[str, PolicyPack]) -> None:
    for pack in packs.values():
        assert pack.force in FORCES and pack.reviewed == TODAY and not pack.stale(TODAY), pack.id
        assert all(r.force in FORCES for r in pack.requirements), pack.id
        assert all(s.retrieved for s in pack.sources.values()), pack.id


def test_every_bundled_pack_validates_against_the_published_schema() -> None:
    published = json.loads((ROOT / "docs" / "policy-pack.schema.json").read_text("utf-8"))
    assert published == pack_schema(), "docs/policy-pack.schema.json and judge/pack.schema.json differ"
    jsonschema.Draft202012Validator.check_schema(published)
    for path in sorted(PACK_DIR.glob("*.yaml")):
        assert validate_pack_file(path) == [], path.name


def test_every_milestone_and_deadline_has_a_source_the_pack_defines(packs: dict[str, PolicyPack]) -> None:
    for pack in packs.values():
        for key, fact in pack.dated_facts():
            assert fact.source in pack.sources, f"{pack.id}: {key}"
        assert pack.milestones, pack.id
        assert all(m.when.source in pack.sources for m in pack.milestones), pack.id


def test_ca_2022_is_a_policy_statement(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["ca-2022"]
    assert not pack.binding and pack.force == "policy"
    assert any(m.when.date == date(2026, 6, 15) and "C-8" in m.what for m in pack.milestones)
    finding = judge(device("huawei", Role.ran, tags=("5g",)), pack, TODAY, registry)["5g-2024"]
    assert finding.status is Status.advisory and finding.force == "policy"


def test_ca_hikvision_order_is_dated_27_june(packs: dict[str, PolicyPack]) -> None:
    pack = packs["ca-hikvision-2025"]
    assert pack.effective.date == date(2025, 6, 27) and pack.force == "order"


def test_sweden_is_overdue_on_2026_12_04(packs: dict[str, PolicyPack], registry: Registry) -> None:
    finding = judge(device("zte", Role.core, tags=("5g",)), packs["se-pts-2020"], TODAY, registry)
    overdue = finding["central-functions-2025"]
    assert overdue.status is Status.overdue and overdue.deadline == date(2025, 1, 1)
    assert overdue.force == "licence condition" and "passed 702 days ago" in overdue.reason


def test_section_805_two_dates(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-dod-805-1260h"]
    effective = {r.id: r.effective.date for r in pack.requirements if r.effective}
    assert effective == {"no-contracts-with-listed": date(2026, 6, 30), "no-goods-including-listed": date(2027, 6, 30)}
    router = device("huawei", Role.transport, "router")
    assert judge(router, pack, date(2026, 6, 29), registry, audiences=["dod"]) == {}
    on = judge(router, pack, date(2026, 6, 30), registry, audiences=["dod"])
    assert set(on) == {"no-contracts-with-listed"} and on["no-contracts-with-listed"].status is Status.restricted
    assert judge(router, pack, date(2027, 6, 29), registry, audiences=["dod-contractor"]) == {}
    later = judge(router, pack, date(2027, 6, 30), registry, audiences=["dod-contractor"])
    goods = later["no-goods-including-listed"]
    assert goods.status is Status.prohibited and goods.force == "law"
    # Without a declared audience it is for a person to decide.
    assert judge(router, pack, TODAY, registry)["no-contracts-with-listed"].status is Status.review
    # Listing dates: Quectel from 2025-01-06.
    assert judge(device("quectel", Role.cpe), pack, TODAY, registry, audiences=["dod"])


def test_csa2_is_a_proposal_and_never_law(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["eu-5g-toolbox"]
    csa2 = next(r for r in pack.requirements if r.id == "csa2-phase-out")
    assert csa2.force == "proposal" and csa2.deadline is None and csa2.expected
    finding = judge(device("huawei", Role.core, tags=("5g",)), pack, TODAY, registry)["csa2-phase-out"]
    assert finding.status is Status.advisory and finding.force == "proposal"
    assert "a proposal, not law, expected" in finding.reason and finding.deadline is None


@pytest.mark.parametrize("changes", [
    {"deadline": {"date": date(2029, 1, 1), "source": "src"}},
    {"status": "prohibited"},
])
def test_a_proposal_cannot_carry_a_deadline_or_a_removal_status(changes: dict[str, Any]) -> None:
    req = {"id": "phase-out", "text": "phase out", "source": "src", "force": "proposal", **changes}
    doc = _pack(requirements=[req])
    with pytest.raises(PackError, match="a proposal is not law"):
        parse_pack(doc, "<memory>")


# ----------------------------------------------------------------- classes of equipment


def test_router_entry_in_force_from_2026_03_23_and_no_removal(
    packs: dict[str, PolicyPack], registry: Registry
) -> None:
    pack = packs["us-fcc-covered-list"]
    home_router = device("tp-link", Role.cpe, "router")
    assert judge(home_router, pack, date(2026, 3, 22), registry) == {}
    found = judge(home_router, pack, date(2026, 3, 23), registry)
    assert set(found) == {"no-fcc-subsidies", "routers-existing-models"}
    router = found["routers-existing-models"]
    assert router.status is Status.restricted and router.deadline is None and router.force == "regulation"
    assert "2029-01-01" in router.reason and "Nothing has to be removed" in router.reason
    assert all(f.status not in REMOVAL for f in found.values())
    # Still no removal years later.
    assert all(f.status not in REMOVAL for f in judge(home_router, pack, date(2030, 1, 1), registry).values())


def test_router_class_by_where_it_was_produced(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-fcc-covered-list"]
    netgear = judge(device("netgear", Role.cpe, "router"), pack, TODAY, registry)["routers-existing-models"]
    assert netgear.status is Status.review and "production country not recorded" in netgear.reason
    assert judge(device("tp-link", Role.core, "router"), pack, TODAY, registry) == {}  # not consumer-grade
    assert judge(device("tp-link", Role.cpe, "switch"), pack, TODAY, registry) == {}  # not a router
    unknown_role = judge(device("tp-link", Role.unknown, "router"), pack, TODAY, registry)
    assert unknown_role["routers-existing-models"].status is Status.review


def test_conditional_approval_tag_on_a_device_exempts(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-fcc-covered-list"]
    approved = device("tp-link", Role.cpe, "router", ("exempt:fcc-conditional-approval",))
    assert judge(approved, pack, TODAY, registry) == {}
    clear = judge(approved, pack, TODAY, registry, include_clear=True)["covers"]
    assert clear.status is Status.clear
    assert "exempt: the device is tagged exempt:fcc-conditional-approval" in clear.reason


def test_vendor_level_exemption_in_a_user_directory(tmp_path: Path, registry: Registry) -> None:
    (tmp_path / "exemptions.yaml").write_text("vendors:\n  tp-link: [fcc-conditional-approval]\n", "utf-8")
    pack = {p.id: p for p in load_packs([tmp_path], environ={})}["us-fcc-covered-list"]
    assert judge(device("tp-link", Role.cpe, "router"), pack, TODAY, registry) == {}
    assert judge(device("netgear", Role.cpe, "router"), pack, TODAY, registry)


def test_blue_uas_exemption_ends_2027(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-fcc-covered-list"]
    drone = device("autel-robotics", Role.unknown, "drone", ("exempt:blue-uas",))
    # Autel is named by the entry too, so only the class coverage is exempt; a non-named foreign maker:
    parrot = device("xiaomi", Role.unknown, "drone", ("exempt:blue-uas",))  # any foreign maker
    assert judge(parrot, pack, date(2026, 12, 31), registry) == {}
    assert judge(parrot, pack, date(2027, 1, 1), registry)["uas-existing-models"].status is Status.restricted
    assert judge(drone, pack, TODAY, registry)["uas-existing-models"].status is Status.restricted


# ----------------------------------------------------------------- user packs, freshness, validation


def _pack(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "org-no-hikvision-military", "title": "No Hikvision at military sites", "jurisdiction": "DE",
        "authority": "Our security office", "instrument": "Internal rule 7", "url": "https://example.org/rule-7",
        "binding": True, "force": "policy", "reviewed": date(2026, 11, 1), "applies_to": "all our sites",
        "effective": {"date": date(2026, 1, 1), "source": "src"},
        "sources": {"src": {"title": "Rule 7", "url": "https://example.org/rule-7", "retrieved": "2026-11-01"}},
        "covers": [{"company": "hikvision", "name": "Hikvision", "scope": "cameras", "source": "src"}],
        "requirements": [{"id": "military-sites", "text": "no Hikvision at military sites", "source": "src",
                          "site_tags": ["military"], "status": "prohibited"}],
        "milestones": [{"date": date(2026, 1, 1), "what": "Rule 7 in force", "source": "src"}],
    }
    doc.update(changes)
    return doc


def _write(directory: Path, doc: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"{doc['id']}.yaml")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def test_an_organisations_own_pack_judges(tmp_path: Path, registry: Registry) -> None:
    _write(tmp_path, _pack())
    pack = {p.id: p for p in load_packs(environ={"VENDORSCOPE_PACKS": str(tmp_path)})}["org-no-hikvision-military"]
    assert validate_pack_file(tmp_path / "org-no-hikvision-military.yaml") == []
    camera = device("hikvision", Role.cctv, "camera", ("military",))
    assert judge(camera, pack, TODAY, registry)["military-sites"].status is Status.prohibited
    assert judge(device("hikvision", Role.cctv, "camera"), pack, TODAY, registry) == {}


def test_user_pack_in_vendorscope_packs_replaces_the_bundled_one(tmp_path: Path) -> None:
    de = yaml.safe_load((PACK_DIR / "de-5g-2024.yaml").read_text("utf-8"))
    de["title"] = "Germany (our newer copy)"
    path = _write(tmp_path, de)
    result = runner.invoke(app, ["policies", "--format", "jsonl"], env={"VENDORSCOPE_PACKS": str(tmp_path)})
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in map(json.loads, result.output.splitlines())}
    assert len(rows) == len(bundled_packs())
    assert rows["de-5g-2024"]["title"] == "Germany (our newer copy)"
    assert rows["de-5g-2024"]["file"] == f"{path} (replaces judge/packs/de-5g-2024.yaml)"
    assert rows["us-ndaa-889"]["file"] == "judge/packs/us-ndaa-889.yaml"


def test_policies_shows_force_and_flags_a_stale_pack(tmp_path: Path) -> None:
    _write(tmp_path, _pack(reviewed=date(2025, 1, 1)))
    result = runner.invoke(app, ["policies", "--packs", str(tmp_path), "--format", "jsonl"])
    rows = {r["id"]: r for r in map(json.loads, result.output.splitlines())}
    assert rows["us-ndaa-889"]["force"] == "law" and rows["ca-2022"]["force"] == "policy"
    assert rows["eu-5g-toolbox"]["force"] == "guidance, proposal"
    assert rows["org-no-hikvision-military"]["stale"] is True
    assert rows["org-no-hikvision-military"]["reviewed"].endswith("STALE")
    table = runner.invoke(app, ["policies", "--packs", str(tmp_path)], env={"COLUMNS": "250"})
    assert "org-no-hikvision-military: last reviewed 2025-01-01" in table.output


def test_a_broken_user_pack_gives_one_error_with_file_and_line(tmp_path: Path) -> None:
    doc = _pack()
    doc["requirements"][0]["deadline"] = {"date": date(2027, 1, 1)}
    del doc["requirements"][0]["status"]
    path = _write(tmp_path, doc)
    line = next(n for n, text in enumerate(path.read_text("utf-8").splitlines(), 1) if "deadline:" in text)
    result = runner.invoke(app, ["findings", "--db", str(tmp_path / "none.db")],
                           env={"VENDORSCOPE_PACKS": str(tmp_path)})
    assert result.exit_code == 2
    errors = [x for x in result.output.splitlines() if x.strip()]
    assert len(errors) == 1, result.output
    assert str(path) in errors[0] and "requirements[0].deadline.source" in errors[0] and f"line {line}" in errors[0]


def test_validate_reports_every_error_with_file_line_and_field(tmp_path: Path) -> None:
    doc = _pack(force="decree", colour="red")
    doc["sources"]["src"]["url"] = "example.org"
    path = _write(tmp_path, doc)
    lines = path.read_text("utf-8").splitlines()

    def line_of(prefix: str) -> int:
        return next(n for n, text in enumerate(lines, 1) if text.strip().startswith(prefix))

    result = runner.invoke(app, ["policies", "validate", str(path), "--format", "jsonl"])
    assert result.exit_code == 1
    problems = {p["field"]: p for p in map(json.loads, result.output.splitlines())}
    assert problems["force"]["line"] == line_of("force:") and "decree" in problems["force"]["message"]
    assert problems["sources.src.url"]["line"] == line_of("url: example.org")
    assert problems[""]["message"].startswith("Additional properties") and "colour" in problems[""]["message"]
    assert all(p["file"] == str(path) for p in problems.values())
    good = _write(tmp_path / "good", _pack())
    ok = runner.invoke(app, ["policies", "validate", str(good)])
    assert ok.exit_code == 0 and "valid" in ok.output


def test_validate_names_a_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\ntitle: [unclosed\n", "utf-8")
    result = runner.invoke(app, ["policies", "validate", str(path)])
    assert result.exit_code == 1 and f"{path}: " in result.output and "line 3" in result.output


def test_findings_warn_about_a_stale_pack(tmp_path: Path) -> None:
    from vendorscope.store.inventory import open_inventory

    db = tmp_path / "inv.db"
    with open_inventory(str(db), create=True):
        pass
    _write(tmp_path / "packs", _pack(reviewed=date(2025, 1, 1)))
    result = runner.invoke(app, ["findings", "--db", str(db), "--as-of", "2026-12-04", "--packs",
                                 str(tmp_path / "packs"), "--policy", "org-no-hikvision-military"])
    assert result.exit_code == 0, result.output
    assert "org-no-hikvision-military: last reviewed 2025-01-01 (702 days ago)" in result.output


# ----------------------------------------------------------------- country of origin in the registry


def test_registry_reads_headquarters_and_production(tmp_path: Path, registry: Registry) -> None:
    from vendorscope.identify.registry import RegistryError, load_registry

    assert all(v.country for v in registry.vendors.values()), "every vendor has a headquarters country"
    data = tmp_path / "vendors.toml"
    data.write_text('[[vendor]]\nid = "acme"\ncountry = "US"\nproduced_in = ["VN", "CN"]\n'
                    'production_source = "https://example.org/acme-factories"\n', "utf-8")
    pens = tmp_path / "pens.tsv"
    pens.write_text("", "utf-8")
    acme = load_registry(data, pens)["acme"]
    assert acme.country == "US" and acme.produced_in == ("VN", "CN")
    assert acme.production_source == "https://example.org/acme-factories"
    data.write_text('[[vendor]]\nid = "acme"\nproduced_in = "Vietnam"\n', "utf-8")
    with pytest.raises(RegistryError, match="acme: produced_in"):
        load_registry(data, pens)


def test_a_us_maker_producing_abroad_is_in_the_router_class(tmp_path: Path, packs: dict[str, PolicyPack]) -> None:
    from dataclasses import replace

    from vendorscope.identify.registry import Registry as Reg

    base = default_registry()
    vendors = dict(base.vendors)
    vendors["netgear"] = replace(vendors["netgear"], produced_in=("TW",))
    producing_abroad = Reg(vendors, base.enterprise_numbers)
    found = judge(device("netgear", Role.cpe, "router"), packs["us-fcc-covered-list"], TODAY, producing_abroad)
    assert found["routers-existing-models"].status is Status.restricted
    assert "produced in TW" in found["routers-existing-models"].reason
    vendors["netgear"] = replace(vendors["netgear"], produced_in=("US",))
    at_home = Reg(vendors, base.enterprise_numbers)
    assert judge(device("netgear", Role.cpe, "router"), packs["us-fcc-covered-list"], TODAY, at_home) == {}


# ----------------------------------------------------------------- hostile pack files


def _yaml_like() -> Any:
    from hypothesis import strategies as st

    pieces = st.sampled_from([
        "id: x\n", "requirements:\n", "  - id: r\n", "    force: proposal\n", "    deadline: {date: 2027-01-01}\n",
        "covers: [", "]\n", "sources: {s: {title: t, url: 'https://x'}}\n", "reviewed: 2026-13-45\n",
        "force: law\n", ": :\n", "- - -\n", "\t", "&a [*a]\n", "!!python/object:os.system\n", "\x00", "ü\n",
    ])
    return st.lists(st.one_of(pieces, st.text(max_size=20)), max_size=12).map("".join)


def test_fuzz_pack_files_give_problems_never_tracebacks(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_yaml_like())
    def check(text: str) -> None:
        path = tmp_path / "x.yaml"
        path.write_text(text, "utf-8")
        problems = validate_pack_file(path)
        assert all(p.file == str(path) for p in problems)
        try:
            read_pack_file(path)
        except PackError as exc:
            assert str(exc).startswith(str(path))

    check()


def read_pack_file(path: Path) -> PolicyPack:
    from vendorscope.judge.packs import read_pack

    return read_pack(path)


# ----------------------------------------------------------------- the report shows force and freshness


def test_report_shows_force_and_flags_stale_packs_on_its_cover(
    packs: dict[str, PolicyPack], registry: Registry
) -> None:
    from vendorscope.report.data import build_report
    from vendorscope.report.html import render_html
    from vendorscope.report.json_report import report_dict

    camera = device("huawei", Role.core, "router", ("5g",))
    chosen = [packs["de-5g-2024"], packs["ca-2022"]]
    fresh_day, late_day = TODAY, date(2027, 6, 3)  # 181 days after the review
    fresh = build_report([camera], evaluate([camera], chosen, fresh_day, registry), fresh_day, packs=chosen)
    doc = report_dict(fresh)
    assert {f["force"] for f in doc["findings"]} == {"order", "policy"}
    assert all(p["reviewed"] == "2026-12-04" and p["stale"] is False for p in doc["policies"])
    assert "Rules may be out of date" not in render_html(fresh)
    late = build_report([camera], evaluate([camera], chosen, late_day, registry), late_day, packs=chosen)
    assert all(p["stale"] for p in report_dict(late)["policies"])
    html = render_html(late)
    assert "Rules may be out of date" in html and "de-5g-2024 (2026-12-04)" in html
