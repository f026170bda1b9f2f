"""Policy packs: the bundled data is complete and cited; malformed packs fail naming file and key."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.identify.registry import Registry, default_registry
from vendorscope.judge.packs import (
    DatedFact,
    PackError,
    PolicyPack,
    RelativeDeadline,
    bundled_packs,
    default_judge_defaults,
    get_pack,
    load_defaults,
    load_packs,
    parse_pack,
)
from vendorscope.model import Role, Status

PACK_DIR = Path(__file__).resolve().parents[1] / "src" / "vendorscope" / "judge" / "packs"
REQUIRED = {
    "us-ndaa-889", "us-fcc-covered-list", "uk-tsa-huawei-dvd", "de-5g-2024", "ca-2022", "se-pts-2020",
    "au-5g-2018", "eu-5g-toolbox",
}
runner = CliRunner()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture(scope="module")
def packs() -> dict[str, PolicyPack]:
    return {p.id: p for p in load_packs()}


def _deadline(pack: PolicyPack, requirement: str) -> date:
    req = next(r for r in pack.requirements if r.id == requirement)
    assert isinstance(req.deadline, DatedFact), requirement
    return req.deadline.date


# ----------------------------------------------------------------- bundled data


def test_every_required_pack_is_shipped(packs: dict[str, PolicyPack]) -> None:
    assert set(packs) >= REQUIRED
    assert len(packs) == len(list(PACK_DIR.glob("*.yaml")))


def test_pack_ids_match_file_names() -> None:
    for pack in bundled_packs():
        assert Path(pack.file).name == f"{pack.id}.yaml"


def test_every_date_carries_a_declared_source(packs: dict[str, PolicyPack]) -> None:
    count = 0
    for pack in packs.values():
        for key, fact in pack.dated_facts():
            assert fact.source in pack.sources, f"{pack.id}: {key}"
            assert pack.sources[fact.source].url.startswith(("https://", "http://")), f"{pack.id}: {key}"
            count += 1
        for req in pack.requirements:
            assert req.sources and all(s in pack.sources for s in req.sources), f"{pack.id}: {req.id}"
    assert count > 50


def test_every_pack_has_the_issue_fields(packs: dict[str, PolicyPack]) -> None:
    for pack in packs.values():
        assert pack.instrument and pack.authority and pack.url.startswith("https://"), pack.id
        assert pack.covers and pack.requirements, pack.id
        assert any(r.judged for r in pack.requirements), f"{pack.id} judges nothing"


def test_covered_companies_exist_in_the_registry(packs: dict[str, PolicyPack], registry: Registry) -> None:
    for pack in packs.values():
        for cover in pack.covers:
            if cover.company is not None:
                assert cover.company in registry, f"{pack.id}: {cover.company}"
    for related in default_judge_defaults().related_vendors:
        assert related.vendor in registry and related.of in registry


def test_dates_match_the_fact_base(packs: dict[str, PolicyPack]) -> None:
    """Spot checks against shared/policy-facts.md: a wrong date here is a wrong finding."""
    assert _deadline(packs["de-5g-2024"], "core-2026") == date(2026, 12, 31)
    assert _deadline(packs["de-5g-2024"], "management-2029") == date(2029, 12, 31)
    assert _deadline(packs["uk-tsa-huawei-dvd"], "core-2023") == date(2023, 12, 31)
    assert _deadline(packs["uk-tsa-huawei-dvd"], "national-security-sites") == date(2023, 1, 28)
    assert _deadline(packs["uk-tsa-huawei-dvd"], "all-5g-2027") == date(2027, 12, 31)
    assert _deadline(packs["ca-2022"], "5g-2024") == date(2024, 6, 28)
    assert _deadline(packs["ca-2022"], "4g-2027") == date(2027, 12, 31)
    assert _deadline(packs["se-pts-2020"], "central-functions-2025") == date(2025, 1, 1)
    assert _deadline(packs["au-pspf-kaspersky"], "remove-2025") == date(2025, 4, 1)
    part_b = next(r for r in packs["us-ndaa-889"].requirements if r.id == "part-b-use")
    assert part_b.effective is not None and part_b.effective.date == date(2020, 8, 13)
    fcc = {c.company: c.since.date for c in packs["us-fcc-covered-list"].covers if c.since}
    assert fcc["huawei"] == fcc["hikvision"] == date(2021, 3, 12)
    assert fcc["kaspersky"] == date(2022, 3, 25) and fcc["dji"] == date(2025, 12, 22)


def test_unverified_dates_are_not_encoded(packs: dict[str, PolicyPack]) -> None:
    """FROM MEMORY / NOT CONFIRMED dates in the fact base must not become dates in a pack."""
    unverified = {
        date(2022, 12, 31),  # UK: managed services out (from memory)
        date(2023, 10, 28),  # UK: "35% by 28 Oct 2023" (not found)
        date(2023, 7, 31),  # UK: 5G access cap, draft only
        date(2025, 12, 31),  # UK: draft transmission requirement
        date(2024, 9, 3),  # FCC: Kaspersky Lab, Inc. entry (date from memory)
    }
    # Confirmed by policy-facts-2026-update.md, so no longer unverified: 2021-09-30 (UK roadmap) and
    # 2023-10-30 (Canada, Kaspersky on federal mobile devices). 2029-01-01 is the FCC update waiver
    # now, but stays unverified for the EU ("core 5G by 2029").
    assert all(f.date != date(2029, 1, 1) for _, f in packs["eu-5g-toolbox"].dated_facts()
               if isinstance(f, DatedFact))
    for pack in packs.values():
        for key, fact in pack.dated_facts():
            if isinstance(fact, DatedFact):
                assert fact.date not in unverified, f"{pack.id}: {key} = {fact.date}"


def test_advisory_packs_are_not_binding(packs: dict[str, PolicyPack]) -> None:
    assert not packs["eu-5g-toolbox"].binding
    assert not packs["au-5g-2018"].binding
    assert packs["uk-tsa-huawei-dvd"].binding and packs["us-ndaa-889"].binding


def test_purpose_qualified_companies(packs: dict[str, PolicyPack]) -> None:
    for pack_id in ("us-ndaa-889", "us-fcc-covered-list"):
        qualified = {c.company for c in packs[pack_id].covers if c.purpose}
        assert qualified == {"hytera", "hikvision", "dahua"}, pack_id


def test_fcc_removal_is_relative_to_listing(packs: dict[str, PolicyPack]) -> None:
    req = next(r for r in packs["us-fcc-covered-list"].requirements if r.id == "usf-removal-60-days")
    assert isinstance(req.deadline, RelativeDeadline) and req.deadline.days_after_listing == 60
    assert req.audience == "usf-recipient"
    assert req.deadline.on(date(2021, 3, 12)) == date(2021, 5, 11)


def test_jurisdiction_aliases(packs: dict[str, PolicyPack]) -> None:
    assert packs["uk-tsa-huawei-dvd"].matches_jurisdiction("uk")
    assert packs["uk-tsa-huawei-dvd"].matches_jurisdiction("GB")
    assert not packs["de-5g-2024"].matches_jurisdiction("UK")


def test_get_pack() -> None:
    assert get_pack("de-5g-2024").jurisdiction == "DE"
    with pytest.raises(KeyError, match="de-5g-2024"):
        get_pack("no-such-pack")


def test_defaults_load() -> None:
    defaults = load_defaults()
    assert {"military", "government"} <= defaults.severity_raising_tags
    assert defaults.role_by_device_type["camera"] is Role.cctv
    lorex = next(r for r in defaults.related_vendors if r.vendor == "lorex")
    assert lorex.of == "dahua" and lorex.status is Status.review and "possible Dahua OEM" in lorex.reason


# ----------------------------------------------------------------- malformed packs


def minimal_pack(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "test-pack",
        "title": "Test pack",
        "jurisdiction": "DE",
        "authority": "Somebody",
        "instrument": "An instrument",
        "url": "https://example.org/instrument",
        "binding": True,
        "force": "law",
        "reviewed": date(2026, 12, 1),
        "applies_to": "operators",
        "effective": {"date": date(2024, 1, 1), "source": "src"},
        "sources": {"src": {"title": "A source", "url": "https://example.org/src"}},
        "covers": [{"company": "huawei", "name": "Huawei", "scope": "everything", "source": "src",
                    "include": ["subsidiaries"]}],
        "requirements": [{"id": "remove", "text": "remove it", "source": "src",
                          "deadline": {"date": date(2026, 12, 31), "source": "src"}}],
    }
    doc.update(changes)
    return doc


def write_pack(tmp_path: Path, doc: dict[str, Any], name: str = "test-pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def test_minimal_pack_loads_as_extra(tmp_path: Path) -> None:
    path = write_pack(tmp_path, minimal_pack())
    packs = {p.id: p for p in load_packs([path])}
    assert packs["test-pack"].file == str(path)
    assert {p.id for p in load_packs([tmp_path])} >= {"test-pack", "de-5g-2024"}


def _requirement(**changes: Any) -> list[dict[str, Any]]:
    req: dict[str, Any] = {"id": "remove", "text": "remove it", "source": "src",
                           "deadline": {"date": date(2026, 12, 31), "source": "src"}}
    req.update(changes)
    return [{k: v for k, v in req.items() if v is not None}]


MALFORMED = [
    (dict(requirements=_requirement(deadline={"date": date(2026, 12, 31)})),
     "requirements[0].deadline.source", "every date must carry a source"),
    (dict(requirements=_requirement(deadline={"date": date(2026, 12, 31), "source": "nowhere"})),
     "requirements[0].deadline.source", "unknown source 'nowhere'"),
    (dict(requirements=_requirement(deadlin="2026-12-31")), "requirements[0].deadlin", "unknown key"),
    (dict(requirements=_requirement(deadline={"date": "end of 2026", "source": "src"})),
     "requirements[0].deadline.date", "expected a date"),
    (dict(requirements=_requirement(deadline=None, status="banned")), "requirements[0].status", "not a status"),
    (dict(requirements=_requirement(deadline=None, status="overdue")), "requirements[0].status", "needs a deadline"),
    (dict(requirements=_requirement(status="prohibited")), "requirements[0].status", "not both"),
    (dict(requirements=_requirement(roles=["core", "basement"])), "requirements[0].roles", "'basement'"),
    (dict(requirements=_requirement(networks=["6g"])), "requirements[0].networks", "'6g'"),
    (dict(requirements=_requirement(severity="extreme")), "requirements[0].severity", "'extreme'"),
    (dict(requirements=_requirement(audience="carriers")), "requirements[0].audience", "unknown audience"),
    (dict(requirements=_requirement(companies=["zte"])), "requirements[0].companies", "'zte'"),
    (dict(requirements=_requirement(source=None)), "requirements[0].source", "missing"),
    (dict(requirements=[*_requirement(), *_requirement()]), "requirements[1].id", "used twice"),
    (dict(requirements=[]), "requirements", "non-empty list"),
    (dict(effective={"date": date(2024, 1, 1)}), "effective.source", "every date must carry a source"),
    (dict(milestones=[{"date": date(2024, 1, 1), "what": "x"}]), "milestones[0].source", "source"),
    (dict(covers=[{"company": "huawei", "name": "H", "scope": "s", "source": "src", "include": ["cousins"]}]),
     "covers[0].include", "'cousins'"),
    (dict(covers=[{"company": "huawei", "country": "CN", "name": "H", "scope": "s", "source": "src"}]),
     "covers[0].company", "either company"),
    (dict(covers=[{"company": "huawei", "name": "H", "scope": "s", "source": "src",
                   "since": {"date": date(2021, 3, 12)}}]), "covers[0].since.source", "source"),
    (dict(jurisdiction=False), "jurisdiction", "quote it"),
    (dict(binding="yes please"), "binding", "true or false"),
    (dict(url="example.org"), "url", "http(s) URL"),
    (dict(sources={"src": {"title": "t"}}), "sources.src.url", "missing"),
    (dict(sources={"src": {"title": "t", "url": "https://x.org", "published": "last year"}}),
     "sources.src.published", "YYYY"),
    (dict(id="other-pack"), "id", "must match the file name"),
    (dict(colour="red"), "colour", "unknown key"),
]


@pytest.mark.parametrize(("changes", "key", "problem"), MALFORMED)
def test_malformed_pack_names_file_and_key(tmp_path: Path, changes: dict[str, Any], key: str, problem: str) -> None:
    path = write_pack(tmp_path, minimal_pack(**changes))
    with pytest.raises(PackError) as caught:
        load_packs([path])
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert problem in message, message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\ntitle: [unclosed\n", "utf-8")
    with pytest.raises(PackError, match=rf"^{path}: line \d+: not valid YAML"):
        load_packs([path])


def test_a_user_pack_replaces_the_bundled_one_with_its_id(tmp_path: Path) -> None:
    """Issue 16: a newer copy of a bundled pack replaces it; `policies` can say which file it came from."""
    de = yaml.safe_load((PACK_DIR / "de-5g-2024.yaml").read_text("utf-8"))
    de["title"] = "Germany, our organisation's newer copy"
    path = write_pack(tmp_path, de, "de-5g-2024.yaml")
    packs = {p.id: p for p in load_packs([path])}
    assert packs["de-5g-2024"].title == "Germany, our organisation's newer copy"
    assert packs["de-5g-2024"].file == str(path) and packs["de-5g-2024"].replaces == "judge/packs/de-5g-2024.yaml"
    assert len(packs) == len(bundled_packs())


def test_two_user_packs_with_one_id_are_an_error(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    write_pack(first, minimal_pack())
    write_pack(second, minimal_pack())
    with pytest.raises(PackError, match=r"id: 'test-pack' is already defined in .*a/test-pack.yaml"):
        load_packs([first, second])


def test_parse_pack_without_a_file_name_skips_the_name_check() -> None:
    pack = parse_pack(minimal_pack(id="any-id"), "<memory>")
    assert pack.id == "any-id" and pack.short == "any-id"


# ----------------------------------------------------------------- `vendorscope policies`


def test_policies_lists_every_pack() -> None:
    result = runner.invoke(app, ["policies", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {r["id"] for r in rows} >= REQUIRED
    eu = next(r for r in rows if r["id"] == "eu-5g-toolbox")
    assert eu["binding"] == "advisory" and eu["jurisdiction"] == "EU"


def test_policies_by_jurisdiction_alias() -> None:
    result = runner.invoke(app, ["policies", "--jurisdiction", "UK", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    ids = {json.loads(line)["id"] for line in result.output.splitlines()}
    assert ids == {"uk-tsa-huawei-dvd", "uk-surveillance-sensitive-sites-2022"}


def test_policies_shows_one_pack() -> None:
    result = runner.invoke(app, ["policies", "de-5g-2024"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("Public-law contracts", "https://bmi.bund.de/", "huawei", "zte", "core-2026",
                 "2026-12-31", "2029-12-31", "BMI press release", "Milestones", "[high]"):
        assert text in result.output, text


def test_policies_one_pack_as_json() -> None:
    result = runner.invoke(app, ["policies", "us-fcc-covered-list", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["id"] == "us-fcc-covered-list"
    assert doc["sources"]["fcc-list-copy"]["url"].startswith("https://")
    assert {c["company"] for c in doc["covers"]} >= {"huawei", "kaspersky", "dji"}
    assert any(m["when"]["date"] == "2021-03-12" for m in doc["milestones"])


def test_policies_unknown_pack_fails() -> None:
    result = runner.invoke(app, ["policies", "no-such-pack"])
    assert result.exit_code == 2
    assert "no policy pack 'no-such-pack'" in result.output


def test_policies_with_a_broken_extra_pack_fails(tmp_path: Path) -> None:
    path = write_pack(tmp_path, minimal_pack(requirements=_requirement(deadline={"date": date(2026, 1, 1)})))
    result = runner.invoke(app, ["policies", "--packs", str(path)])
    assert result.exit_code == 2
    assert "requirements[0].deadline.source" in result.output
