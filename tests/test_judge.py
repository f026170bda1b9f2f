"""The judge: statuses, deadlines, coverage through dated affiliations, scope, severity, CLI."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.identify.registry import Registry, default_registry
from vendorscope.judge.evaluate import (
    coverage_of,
    evaluate,
    evidence_of,
    is_covered,
    raise_severity,
)
from vendorscope.judge.packs import PolicyPack, load_packs, parse_pack
from vendorscope.model import Asset, AssetKeys, Attribution, Conflict, Finding, Observation, Role, Status, Verdict

runner = CliRunner()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture(scope="module")
def packs() -> dict[str, PolicyPack]:
    return {p.id: p for p in load_packs()}


def make_asset(
    vendor: str | None,
    role: Role = Role.unknown,
    tags: Sequence[str] = (),
    device_type: str | None = None,
    asset_id: str | None = None,
    banner: str = "SSH-2.0-HUAWEI-1.5",
) -> Asset:
    observation = Observation(kind="ssh.banner", value=banner, source="test", keys=AssetKeys(ip="192.0.2.1"))
    attributions = [] if vendor is None else [
        Attribution(vendor=vendor, vendor_name=vendor.title(), group=vendor, confidence=0.9,
                    rule=f"ssh.{vendor}.test", observation=observation)
    ]
    return Asset(
        id=asset_id or f"ip:{vendor}-{role.value}",
        keys={"ip": {"192.0.2.1"}},
        observations=[observation],
        attributions=attributions,
        verdict=Verdict(vendor=vendor, vendor_name=vendor.title() if vendor else None, group=vendor,
                        confidence=0.9 if vendor else 0.0, device_type=device_type),
        role=role,
        site_tags=frozenset(tags),
    )


def judge(
    asset: Asset, pack: PolicyPack, on: date, registry: Registry, **options: Any
) -> dict[str, Finding]:
    """Findings for one asset and one pack, by requirement id."""
    found = evaluate([asset], [pack], on, registry, **options)
    by_requirement = {f.requirement: f for f in found}
    assert len(by_requirement) == len(found)
    return by_requirement


# ----------------------------------------------------------------- as-of semantics (Germany)


def test_de_core_before_on_and_after_the_deadline(packs: dict[str, PolicyPack], registry: Registry) -> None:
    core = make_asset("huawei", Role.core)
    pack = packs["de-5g-2024"]
    before = judge(core, pack, date(2026, 1, 1), registry)["core-2026"]
    assert before.status is Status.must_remove
    assert before.deadline == date(2026, 12, 31) and before.days_left == 364
    on_the_day = judge(core, pack, date(2026, 12, 31), registry)["core-2026"]
    assert on_the_day.status is Status.must_remove and on_the_day.days_left == 0
    after = judge(core, pack, date(2027, 1, 1), registry)["core-2026"]
    assert after.status is Status.overdue and after.days_left == -1
    assert set(judge(core, pack, date(2027, 1, 1), registry)) == {"core-2026"}


def test_de_reason_says_why(packs: dict[str, PolicyPack], registry: Registry) -> None:
    finding = judge(make_asset("huawei", Role.core), packs["de-5g-2024"], date(2026, 1, 1), registry)["core-2026"]
    for text in ("Huawei", "group huawei", "core element", "DE 5G agreement 2024", "5G core networks",
                 "2026-12-31", "by the end of 2026", "364 days left", "BMI press release (2024-07-11)"):
        assert text in finding.reason, text
    assert finding.policy == "de-5g-2024" and finding.as_of == date(2026, 1, 1)


def test_nothing_before_the_pack_is_in_force(packs: dict[str, PolicyPack], registry: Registry) -> None:
    assert evaluate([make_asset("huawei", Role.core)], [packs["de-5g-2024"]], date(2024, 7, 10), registry) == []
    assert evaluate([make_asset("huawei", Role.core)], [packs["de-5g-2024"]], date(2024, 7, 10), registry,
                    include_clear=True) == []


def test_de_role_scoping(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["de-5g-2024"], date(2028, 6, 1)
    management = judge(make_asset("huawei", Role.management), pack, day, registry)
    assert set(management) == {"management-2029"}
    assert management["management-2029"].status is Status.must_remove
    assert management["management-2029"].deadline == date(2029, 12, 31)
    assert judge(make_asset("huawei", Role.management), pack, date(2030, 1, 1), registry)[
        "management-2029"].status is Status.overdue
    assert judge(make_asset("huawei", Role.ran), pack, day, registry) == {}
    ran = judge(make_asset("huawei", Role.ran), pack, day, registry, include_clear=True)
    assert set(ran) == {"ran-transport-hardware"} and ran["ran-transport-hardware"].status is Status.clear
    assert judge(make_asset("huawei", Role.enterprise), pack, day, registry) == {}
    unknown = judge(make_asset("huawei"), pack, day, registry)
    assert set(unknown) == {"core-2026", "management-2029"}
    assert all(f.status is Status.review and "role unknown" in f.reason for f in unknown.values())


def test_de_network_tags(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["de-5g-2024"], date(2026, 1, 1)
    assert judge(make_asset("huawei", Role.core, ["4g"]), pack, day, registry) == {}
    tagged = judge(make_asset("huawei", Role.core, ["5g"]), pack, day, registry)["core-2026"]
    assert tagged.status is Status.must_remove and "no network tag" not in tagged.reason
    untagged = judge(make_asset("huawei", Role.core), pack, day, registry)["core-2026"]
    assert untagged.status is Status.must_remove and "assumed part of 5g networks" in untagged.reason


# ----------------------------------------------------------------- coverage


def test_subsidiary_is_covered(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-fcc-covered-list"]
    assert is_covered("ezviz", pack, date(2025, 1, 1), registry)
    coverage = coverage_of("ezviz", pack, date(2025, 1, 1), registry)
    assert coverage.cover is not None and coverage.cover.company == "hikvision"
    assert any("subsidiary of Hikvision" in n for n in coverage.notes)
    camera = make_asset("ezviz", device_type="camera", tags=["government"])
    assert judge(camera, packs["us-ndaa-889"], date(2025, 1, 1), registry)["part-b-use"].status is Status.prohibited


def test_subsidiary_for_review_where_the_pack_says_so(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["ca-hikvision-2025"], date(2025, 7, 1)
    assert judge(make_asset("hikvision"), pack, day, registry)["federal-use"].status is Status.prohibited
    ezviz = judge(make_asset("ezviz"), pack, day, registry)["federal-use"]
    assert ezviz.status is Status.review and "whether a subsidiary counts" in ezviz.reason
    # The order in council is dated 2025-06-27 (policy-facts-2026-update.md; it was 06-28 before).
    assert judge(make_asset("hikvision"), pack, date(2025, 6, 26), registry) == {}
    assert judge(make_asset("hikvision"), pack, date(2025, 6, 27), registry)["federal-use"].force == "order"


def test_honor_before_and_after_leaving_huawei(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-ndaa-889"]
    phone = make_asset("honor", Role.enterprise)
    assert is_covered("honor", pack, date(2020, 11, 16), registry)
    assert judge(phone, pack, date(2020, 11, 16), registry)["part-b-use"].status is Status.prohibited
    assert not is_covered("honor", pack, date(2020, 11, 17), registry)
    assert judge(phone, pack, date(2020, 11, 17), registry) == {}
    clear = judge(phone, pack, date(2021, 1, 1), registry, include_clear=True)["covers"]
    assert clear.status is Status.clear
    assert "until 2020-11-17" in clear.reason and "group honor" in clear.reason


def test_lorex_dated_affiliation_then_possible_oem(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-ndaa-889"]
    camera = make_asset("lorex", tags=["government"], device_type="camera")
    during = judge(camera, pack, date(2020, 9, 1), registry)["part-b-use"]
    assert during.status is Status.prohibited and "subsidiary of Dahua" in during.reason
    after = judge(camera, pack, date(2024, 1, 1), registry)["part-b-use"]
    assert after.status is Status.review and "possible Dahua OEM" in after.reason
    assert judge(camera, pack, date(2024, 1, 1), registry, mode="strict")["part-b-use"].status is Status.review


def test_component_maker_and_former_joint_venture_are_review(
    packs: dict[str, PolicyPack], registry: Registry
) -> None:
    pack, day = packs["us-ndaa-889"], date(2025, 1, 1)
    hisilicon = judge(make_asset("hisilicon", device_type="camera"), pack, day, registry)["part-b-use"]
    assert hisilicon.status is Status.review and "possible covered component" in hisilicon.reason
    h3c = judge(make_asset("h3c", Role.enterprise), pack, day, registry)["part-b-use"]
    assert h3c.status is Status.review and "not covered by name" in h3c.reason


def test_not_covered_vendor_is_clear(packs: dict[str, PolicyPack], registry: Registry) -> None:
    cisco = make_asset("cisco", Role.core)
    all_packs = list(packs.values())
    day = date(2028, 1, 1)  # every pack in force (section 805 from 2026-06-30, section 5949 from 2027-12-23)
    assert evaluate([cisco], all_packs, day, registry) == []
    clear = evaluate([cisco], all_packs, day, registry, include_clear=True)
    assert {f.policy for f in clear} == set(packs)
    assert all(f.status is Status.clear and f.requirement == "covers" for f in clear)
    assert all("is not covered" in f.reason for f in clear)


def test_asset_without_a_vendor(packs: dict[str, PolicyPack], registry: Registry) -> None:
    nobody = make_asset(None, Role.core)
    assert evaluate([nobody], list(packs.values()), date(2026, 1, 1), registry) == []
    clear = evaluate([nobody], [packs["de-5g-2024"]], date(2026, 1, 1), registry, include_clear=True)
    assert [f.status for f in clear] == [Status.clear] and "no vendor identified" in clear[0].reason


def test_listing_dates(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["us-fcc-covered-list"]
    assert not is_covered("kaspersky", pack, date(2022, 3, 24), registry)
    assert is_covered("kaspersky", pack, date(2022, 3, 25), registry)
    drone = make_asset("dji", Role.unknown)
    assert judge(drone, pack, date(2025, 12, 21), registry) == {}
    after = judge(drone, pack, date(2026, 1, 1), registry, audiences=["usf-recipient"])
    # Issue 16: previously authorized drones stay usable (restricted), they are not to be removed.
    assert set(after) == {"no-fcc-subsidies", "uas-existing-models"}
    assert all(f.status is Status.restricted for f in after.values())


# ----------------------------------------------------------------- purpose, audience, advisory


def test_purpose_qualification_statutory_vs_strict(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["us-ndaa-889"], date(2025, 1, 1)
    office_camera = make_asset("hikvision", device_type="camera")
    statutory = judge(office_camera, pack, day, registry)["part-b-use"]
    assert statutory.status is Status.review and "covered only when used for public safety" in statutory.reason
    strict = judge(office_camera, pack, day, registry, mode="strict")["part-b-use"]
    assert strict.status is Status.prohibited and "strict mode" in strict.reason
    for tag in ("government", "critical-infrastructure", "public-safety"):
        tagged = judge(make_asset("hikvision", tags=[tag]), pack, day, registry)["part-b-use"]
        assert tagged.status is Status.prohibited, tag
    huawei = judge(make_asset("huawei", Role.enterprise), pack, day, registry)["part-b-use"]
    assert huawei.status is Status.prohibited


def test_unknown_mode_is_refused(packs: dict[str, PolicyPack], registry: Registry) -> None:
    with pytest.raises(ValueError, match="mode"):
        evaluate([], [packs["us-ndaa-889"]], date(2025, 1, 1), registry, mode="lenient")


def test_audience_requirement(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day, router = packs["us-fcc-covered-list"], date(2025, 1, 1), make_asset("huawei", Role.core)
    undeclared = judge(router, pack, day, registry)
    assert undeclared["usf-removal-60-days"].status is Status.review
    assert "--audience usf-recipient" in undeclared["usf-removal-60-days"].reason
    assert undeclared["no-fcc-subsidies"].status is Status.restricted
    declared = judge(router, pack, day, registry, audiences=["usf-recipient"])["usf-removal-60-days"]
    assert declared.status is Status.overdue and declared.deadline == date(2021, 5, 11)
    assert set(judge(router, pack, day, registry, audiences=[])) == {"no-fcc-subsidies"}
    kaspersky = judge(make_asset("kaspersky"), pack, date(2022, 4, 1), registry, audiences=["usf-recipient"])
    assert kaspersky["usf-removal-60-days"].status is Status.must_remove
    assert kaspersky["usf-removal-60-days"].deadline == date(2022, 5, 24)


def test_eu_toolbox_is_advisory(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack = packs["eu-5g-toolbox"]
    core = judge(make_asset("huawei", Role.core), pack, date(2025, 1, 1), registry)
    assert core["core-exclusion"].status is Status.advisory and "not binding" in core["core-exclusion"].reason
    assert core["core-exclusion"].deadline is None
    assert judge(make_asset("huawei", Role.core), pack, date(2023, 6, 14), registry) == {}


def test_non_binding_pack_turns_deadlines_advisory(registry: Registry) -> None:
    doc = {
        "id": "advice", "title": "Advice", "jurisdiction": "EU", "authority": "A", "instrument": "I",
        "url": "https://example.org", "binding": False, "force": "guidance", "applies_to": "all",
        "effective": {"date": date(2020, 1, 1), "source": "s"},
        "sources": {"s": {"title": "S", "url": "https://example.org/s"}},
        "covers": [{"company": "zte", "name": "ZTE", "scope": "all", "source": "s"}],
        "requirements": [{"id": "out", "text": "take it out", "source": "s",
                          "deadline": {"date": date(2021, 1, 1), "source": "s"}}],
    }
    pack = parse_pack(doc, "<memory>")
    finding = judge(make_asset("zte"), pack, date(2022, 1, 1), registry)["out"]
    assert finding.status is Status.advisory and finding.deadline == date(2021, 1, 1)


# ----------------------------------------------------------------- generations, sites, severity


def test_canada_by_network_generation(packs: dict[str, PolicyPack], registry: Registry) -> None:
    # The 2022 text is a policy statement (policy-facts-2026-update.md): its dates show as advisory.
    pack = packs["ca-2022"]
    radio_5g = make_asset("huawei", Role.ran, ["5g"])
    on_day = judge(radio_5g, pack, date(2024, 6, 28), registry)["5g-2024"]
    assert on_day.status is Status.advisory and on_day.deadline == date(2024, 6, 28) and on_day.force == "policy"
    assert set(judge(radio_5g, pack, date(2024, 6, 29), registry)) == {"5g-2024"}
    assert judge(radio_5g, pack, date(2024, 6, 29), registry)["5g-2024"].status is Status.advisory
    radio_4g = judge(make_asset("zte", Role.ran, ["4g"]), pack, date(2025, 1, 1), registry)
    assert set(radio_4g) == {"4g-2027"} and radio_4g["4g-2027"].status is Status.advisory
    untagged = judge(make_asset("huawei", Role.ran), pack, date(2025, 1, 1), registry)
    assert set(untagged) == {"5g-2024", "4g-2027"}
    assert all(f.status is Status.advisory and "not binding (policy)" in f.reason for f in untagged.values())


def test_uk_sites_and_core(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["uk-tsa-huawei-dvd"], date(2025, 1, 1)
    core = judge(make_asset("huawei", Role.core, ["5g"]), pack, day, registry)
    assert core["core-2023"].status is Status.overdue
    assert core["all-5g-2027"].status is Status.must_remove and core["all-5g-2027"].deadline == date(2027, 12, 31)
    assert "not verified" in core["all-5g-2027"].reason
    assert "national-security-sites" not in core
    at_base = judge(make_asset("huawei", Role.ran, ["military"]), pack, date(2023, 1, 1), registry)
    assert at_base["national-security-sites"].status is Status.must_remove
    assert at_base["national-security-sites"].days_left == 27


def test_uk_surveillance_by_home_country(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["uk-surveillance-sensitive-sites-2022"], date(2024, 1, 1)
    camera = make_asset("hikvision", tags=["sensitive-site"], device_type="camera")
    found = judge(camera, pack, day, registry)
    assert found["no-core-network-connection"].status is Status.restricted
    assert found["consider-removal"].status is Status.advisory
    assert "cctv element (from device type camera)" in found["consider-removal"].reason
    assert "headquartered in CN" in found["consider-removal"].reason
    assert judge(make_asset("hikvision", device_type="camera"), pack, day, registry) == {}
    assert judge(make_asset("axis", tags=["sensitive-site"], device_type="camera"), pack, day, registry) == {}


def test_site_tags_raise_severity(packs: dict[str, PolicyPack], registry: Registry) -> None:
    pack, day = packs["de-5g-2024"], date(2026, 1, 1)
    plain = judge(make_asset("huawei", Role.management), pack, day, registry)["management-2029"]
    military = judge(make_asset("huawei", Role.management, ["military"]), pack, day, registry)["management-2029"]
    assert (plain.severity, military.severity) == ("medium", "high")
    assert "severity raised: site tagged military" in military.reason
    core = judge(make_asset("huawei", Role.core, ["government"]), pack, day, registry)["core-2026"]
    assert core.severity == "critical"
    assert judge(make_asset("huawei", Role.core, ["lab"]), pack, day, registry)["core-2026"].severity == "high"


def test_raise_severity_caps() -> None:
    assert raise_severity("info") == "low"
    assert raise_severity("high") == "critical"
    assert raise_severity("critical") == "critical"


# ----------------------------------------------------------------- evidence and purity


def test_evidence_names_the_observation_and_rule(packs: dict[str, PolicyPack], registry: Registry) -> None:
    asset = make_asset("huawei", Role.core)
    asset.conflicts.append(Conflict("acme", "inventory.manufacturer", "huawei", "ssh.banner", "label says Acme"))
    [link] = evidence_of(asset)  # typed: the observation, where it was seen, the rule, what it said
    assert (link.kind, link.value, link.rule, link.vendor) == ("ssh.banner", "SSH-2.0-HUAWEI-1.5", "ssh.huawei.test",
                                                               "huawei")
    assert link.observation_id is not None and link.observation_id.startswith("obs:")
    finding = judge(asset, packs["de-5g-2024"], date(2026, 1, 1), registry)["core-2026"]
    evidence = finding.evidence_lines
    assert evidence[0] == "ssh.banner 'SSH-2.0-HUAWEI-1.5' → ssh.huawei.test (0.9)"
    assert evidence[-1] == "conflict: label says Acme"


def test_findings_carry_evidence(packs: dict[str, PolicyPack], registry: Registry) -> None:
    finding = judge(make_asset("huawei", Role.core), packs["de-5g-2024"], date(2026, 1, 1), registry)["core-2026"]
    assert finding.evidence_lines == ("ssh.banner 'SSH-2.0-HUAWEI-1.5' → ssh.huawei.test (0.9)",)
    assert finding.evidence == evidence_of(make_asset("huawei", Role.core))


def test_evaluate_is_pure_and_sorted(packs: dict[str, PolicyPack], registry: Registry) -> None:
    assets = [make_asset("zte", Role.core, asset_id="b"), make_asset("huawei", Role.core, asset_id="a"),
              make_asset("hikvision", tags=["government"], asset_id="c")]
    before = [replace(a, site_tags=frozenset(a.site_tags)) for a in assets]
    all_packs = list(packs.values())
    first = evaluate(assets, all_packs, date(2026, 1, 1), registry)
    second = evaluate(list(reversed(assets)), all_packs, date(2026, 1, 1), registry)
    assert first == second
    assert [(f.asset_id, f.policy, f.requirement) for f in first] == sorted(
        (f.asset_id, f.policy, f.requirement) for f in first)
    assert [(a.id, a.role, a.site_tags) for a in assets] == [(a.id, a.role, a.site_tags) for a in before]
    assert {f.as_of for f in first} == {date(2026, 1, 1)}


# ----------------------------------------------------------------- `vendorscope findings`


def _fake_inventory(monkeypatch: pytest.MonkeyPatch, assets: list[Asset]) -> list[tuple[str, bool]]:
    """Stand in for vendorscope.store.inventory; returns the (db, create) it was opened with."""
    opened: list[tuple[str, bool]] = []

    class FakeInventory:
        def assets(self, **_options: Any) -> list[Asset]:
            return list(assets)

    @contextmanager
    def open_inventory(url_or_path: str, *, create: bool = True) -> Iterator[FakeInventory]:
        opened.append((url_or_path, create))
        yield FakeInventory()

    module = types.ModuleType("vendorscope.store.inventory")
    module.open_inventory = open_inventory  # type: ignore[attr-defined]
    module.InventoryError = type("InventoryError", (Exception,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vendorscope.store.inventory", module)
    return opened


def _jsonl(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_findings_command_as_of_and_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    assets = [make_asset("huawei", Role.core, ["military"], asset_id="ip:10.0.0.1"),
              make_asset("cisco", Role.core, asset_id="ip:10.0.0.2")]
    opened = _fake_inventory(monkeypatch, assets)
    result = runner.invoke(app, ["findings", "--db", "inv.db", "--policy", "de-5g-2024", "--as-of", "2027-01-01",
                                 "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert opened == [("inv.db", False)]
    rows = _jsonl(result.output)
    assert [(r["asset"], r["requirement"], r["status"], r["days_left"], r["severity"]) for r in rows] == [
        ("ip:10.0.0.1", "core-2026", "overdue", -1, "critical")]
    assert rows[0]["vendor"] == "huawei" and rows[0]["role"] == "core" and rows[0]["evidence"]

    result = runner.invoke(app, ["findings", "--jurisdiction", "UK", "--as-of", "2025-01-01", "--status",
                                 "overdue", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = _jsonl(result.output)
    assert {(r["policy"], r["requirement"]) for r in rows} == {
        ("uk-tsa-huawei-dvd", "core-2023"), ("uk-tsa-huawei-dvd", "national-security-sites")}

    result = runner.invoke(app, ["findings", "--policy", "de-5g-2024", "--status", "clear", "--format", "jsonl"])
    rows = _jsonl(result.output)
    assert rows and all(r["status"] == "clear" for r in rows)
    assert {r["asset"] for r in rows} == {"ip:10.0.0.2"}


def test_findings_command_table_and_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_inventory(monkeypatch, [make_asset("hikvision", device_type="camera", asset_id="cam-1")])
    table = runner.invoke(app, ["findings", "--policy", "us-ndaa-889", "--as-of", "2025-01-01"],
                          env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "cam-1" in table.output and "review" in table.output and "1 review" in table.output
    strict = runner.invoke(app, ["findings", "--policy", "us-ndaa-889", "--as-of", "2025-01-01", "--mode", "strict",
                                 "--format", "csv"])
    assert strict.exit_code == 0, strict.output
    header, row = strict.output.splitlines()[:2]
    assert header.startswith("asset,vendor,role,site,site_tags,policy,requirement,status")
    assert "cam-1,hikvision,cctv" in row and ",prohibited," in row


def test_findings_command_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_inventory(monkeypatch, [])
    for args, message in (
        (["--as-of", "next year"], "expected a date"),
        (["--policy", "no-such-pack"], "no policy pack 'no-such-pack'"),
        (["--jurisdiction", "ZZ"], "no policy pack matches"),
        (["--policy", "de-5g-2024", "--audience", "usf-recipient"], "not used by the chosen packs"),
    ):
        result = runner.invoke(app, ["findings", *args])
        assert result.exit_code == 2, args
        assert message in result.output, args
    empty = runner.invoke(app, ["findings"])
    assert empty.exit_code == 0 and "no findings" in empty.output


def test_findings_command_on_a_real_inventory(tmp_path: Path) -> None:
    inventory = pytest.importorskip("vendorscope.store.inventory")
    db = tmp_path / "inventory.db"
    observations = [
        Observation(kind="ssh.banner", value="SSH-2.0-HUAWEI-1.5", source="test", keys=AssetKeys(ip="10.0.0.1")),
        Observation(kind="asset.role", value="core", source="test", keys=AssetKeys(ip="10.0.0.1")),
    ]
    asset = make_asset("huawei", Role.core, asset_id="ip:10.0.0.1")
    asset.observations = observations
    with inventory.open_inventory(str(db)) as inv:
        inv.write_snapshot("test", datetime(2026, 1, 1), observations, [asset])
    result = runner.invoke(app, ["findings", "--db", str(db), "--policy", "de-5g-2024", "--as-of", "2026-06-01",
                                 "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = _jsonl(result.output)
    assert [(r["asset"], r["requirement"], r["status"]) for r in rows] == [("ip:10.0.0.1", "core-2026",
                                                                           "must_remove")]
    missing = runner.invoke(app, ["findings", "--db", str(tmp_path / "nothing.db")])
    assert missing.exit_code == 2
