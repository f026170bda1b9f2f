"""One assessment: headline, findings, history and diff judged with the same packs, mode and audiences.

Before, the store judged its history with every bundled pack in statutory
mode while the headline used the user's: with --mode strict or --packs the
burn-down and the headline disagreed. These tests run the real CLI on a real
SQLite inventory and check that every view counts the same covered assets.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_packs import minimal_pack
from typer.testing import CliRunner

from vendorscope.assess import Criteria, assess_inventory, history
from vendorscope.cli import app
from vendorscope.judge.packs import load_packs
from vendorscope.model import COVERED_STATUSES, AssetKeys, Observation, Role, Status
from vendorscope.pipeline import ingest
from vendorscope.store.inventory import open_inventory

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src" / "vendorscope"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATEST_DAY = (T0 + timedelta(days=1)).date()


def seen(kind: str, value: str, mac: str, ip: str, frame: int) -> Observation:
    return Observation(kind, value, "pcap:site.pcap", T0, AssetKeys(mac=mac, ip=ip),
                       {"file": "site.pcap", "frame": frame})


def network() -> list[Observation]:
    """A Huawei router and a Hikvision camera (purpose-qualified under the FCC list)."""
    return [
        seen("ssh.banner", "SSH-2.0-HUAWEI-1.5", "00:e0:fc:00:00:01", "198.51.100.1", 10),
        seen("http.server", "App-webs/", "c0:56:e3:00:00:01", "198.51.100.2", 20),
    ]


# A pack only --packs brings: it covers Hikvision outright (no purpose qualification).
EXTRA_PACK = minimal_pack(
    id="test-extra",
    covers=[{"company": "hikvision", "name": "Hikvision", "scope": "everything", "source": "src"}],
    requirements=[{"id": "remove-cameras", "text": "remove them", "source": "src",
                   "deadline": {"date": date(2027, 6, 30), "source": "src"}}],
)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("assess")
    db = folder / "inv.db"
    ingest(network(), source="pcap:site.pcap", db=str(db), started_at=T0)
    ingest(network(), source="pcap:site.pcap", db=str(db), started_at=T0 + timedelta(days=1))
    (folder / "test-extra.yaml").write_text(yaml.safe_dump(EXTRA_PACK), "utf-8")
    return folder


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _covered_per_requirement(rows: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        if Status(r["status"]) in COVERED_STATUSES:
            out[(r["policy"], r["requirement"])].add(r.get("asset") or r["asset_id"])
    return out


JUDGING = {
    "strict": ["--policy", "us-fcc-covered-list", "--mode", "strict"],
    "statutory": ["--policy", "us-fcc-covered-list", "--mode", "statutory"],
    "extra-pack": ["--policy", "test-extra", "--packs", "{folder}/test-extra.yaml"],
}


@pytest.mark.parametrize("name", sorted(JUDGING))
def test_headline_findings_and_history_agree(inventory: Path, name: str) -> None:
    covered = _agreeing_covered_assets(inventory, name)
    if name == "extra-pack":
        assert covered == {CAMERA}


def _agreeing_covered_assets(inventory: Path, name: str) -> set[str]:
    """The covered assets, after checking that report, findings, history and burn-down all count them alike."""
    db = str(inventory / "inv.db")
    judging = [a.format(folder=inventory) for a in JUDGING[name]]
    day = ["--as-of", LATEST_DAY.isoformat()]

    report = json.loads(_run("report", "--db", db, "--format", "json", "-o", "-", *day, *judging))
    findings = [json.loads(line) for line in _run("findings", "--db", db, "--format", "jsonl", *day, *judging)
                .splitlines() if line.strip()]
    history_rows = [json.loads(line) for line in _run("history", "--db", db, "--format", "jsonl", *judging)
                    .splitlines() if line.strip()]

    from_findings = _covered_per_requirement(findings)
    assert from_findings == _covered_per_requirement(report["findings"])
    covered_assets = set().union(*from_findings.values()) if from_findings else set()
    assert report["headline"]["covered"] == len(covered_assets)
    latest = history_rows[-1]["coverage"]
    assert {(c["policy"], c["requirement"]): c["covered"] for c in latest if c["covered"]} == {
        k: len(v) for k, v in from_findings.items()}
    for series in report["burndown"]:
        key = (series["policy"], series["requirement"])
        assert series["points"][-1]["covered"] == len(from_findings.get(key, ())), key

    return covered_assets


CAMERA = "mac:c0:56:e3:00:00:01"


def test_the_modes_differ_so_the_agreement_is_not_vacuous(inventory: Path) -> None:
    # purpose-qualified coverage (FCC list, Hikvision): the camera is covered only in strict mode
    assert CAMERA in _agreeing_covered_assets(inventory, "strict")
    assert CAMERA not in _agreeing_covered_assets(inventory, "statutory")


def test_diff_progress_uses_the_same_criteria(inventory: Path) -> None:
    db = str(inventory / "inv.db")
    rows = [json.loads(line) for line in _run("diff", "1", "2", "--db", db, "--format", "jsonl",
                                              "--policy", "us-fcc-covered-list", "--mode", "strict").splitlines()]
    strict = {(r["policy"], r["requirement"]): r["after"] for r in rows if r["change"] == "progress"}
    rows = [json.loads(line) for line in _run("diff", "1", "2", "--db", db, "--format", "jsonl",
                                              "--policy", "us-fcc-covered-list").splitlines()]
    statutory = {(r["policy"], r["requirement"]): r["after"] for r in rows if r["change"] == "progress"}
    assert strict and sum(strict.values()) == sum(statutory.values()) + len(strict)  # + the camera, per requirement


def test_assess_gives_the_effective_role_and_the_latest_history_point(inventory: Path) -> None:
    criteria = Criteria.of(load_packs([inventory / "test-extra.yaml"]), "strict")
    with open_inventory(str(inventory / "inv.db"), create=False) as inv:
        assessment = assess_inventory(inv, criteria, LATEST_DAY)
        entries = history(inv, criteria)
    roles = {a.id: a.role for a in assessment.assets}
    assert roles["mac:c0:56:e3:00:00:01"] is Role.cctv  # inferred from the device type, once, here
    covered: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in assessment.findings:
        if f.status in COVERED_STATUSES:
            covered[(f.policy, f.requirement)].add(f.asset_id)
    assert entries[-1].coverage is not None
    assert {(c.policy, c.requirement): c.covered for c in entries[-1].coverage if c.covered} == {
        k: len(v) for k, v in covered.items()}


# ---------------------------------------------------------------- the store stores and reads


def _imports(path: Path) -> set[str]:
    """Modules a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found.add("importlib.import_module")
    return found


def _module_file(name: str) -> Path | None:
    relative = Path(*name.split(".")[1:])
    for candidate in (SRC / relative.with_suffix(".py"), SRC / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_store_imports_nothing_from_the_judge() -> None:
    """Neither directly nor through the modules it imports (resolve, model, identify...)."""
    todo = [p for p in (SRC / "store").rglob("*.py")]
    reached: dict[Path, str] = {p: "store" for p in todo}
    while todo:
        path = todo.pop()
        for name in _imports(path):
            assert not name.startswith(("vendorscope.judge", "vendorscope.assess")), (path, name)
            assert name != "importlib.import_module", path
            target = _module_file(name) if name.startswith("vendorscope.") else None
            if target is not None and target not in reached:
                reached[target] = name
                todo.append(target)
    assert SRC / "resolve.py" in reached  # the walk did follow the store's own imports


# ---------------------------------------------------------------- the evidence chain, one record in every output


def test_the_evidence_chain_is_serialised_identically_everywhere(inventory: Path) -> None:
    db = str(inventory / "inv.db")
    judging = ["--policy", "us-fcc-covered-list", "--mode", "strict", "--as-of", LATEST_DAY.isoformat()]
    cli = [json.loads(line) for line in _run("findings", "--db", db, "--format", "jsonl", *judging).splitlines()]
    report = json.loads(_run("report", "--db", db, "--format", "json", "-o", "-", *judging))
    html = _run("report", "--db", db, "--format", "html", "-o", "-", *judging)
    embedded = json.loads(re.search(r'<script type="application/json" id="vs-data">(.*?)</script>', html, re.S)
                          .group(1))  # type: ignore[union-attr]
    bom = json.loads(_run("report", "--db", db, "--format", "cyclonedx", "-o", "-", *judging))

    def chains(rows: list[dict[str, Any]], asset_key: str) -> dict[tuple[str, str], tuple[Any, Any]]:
        return {(r[asset_key], r["requirement"]): (r["evidence_chain"], r["evidence"]) for r in rows}

    from_cli = chains(cli, "asset")
    assert from_cli == chains(report["findings"], "asset_id") == chains(embedded["findings"], "asset_id")
    camera_chain, camera_lines = from_cli[(CAMERA, "no-fcc-subsidies")]
    [link] = camera_chain
    assert (link["kind"], link["value"], link["source"]) == ("http.server", "App-webs/", "pcap:site.pcap")
    assert link["context"] == {"file": "site.pcap", "frame": 20} and link["rule"] and link["vendor"] == "hikvision"
    assert link["observation_id"].startswith("obs:")
    assert camera_lines == [f"http.server 'App-webs/' → {link['rule']} ({link['confidence']:.2g})"]

    # the asset's evidence (JSON, HTML) and its CycloneDX identity name the same observation
    asset_evidence = next(a["evidence"] for a in report["assets"] if a["id"] == CAMERA)
    assert link in asset_evidence
    assert asset_evidence == next(a["evidence"] for a in embedded["assets"] if a["id"] == CAMERA)
    methods = next(c for c in bom["components"] if c["bom-ref"] == CAMERA)["evidence"]["identity"][0]["methods"]
    assert [m["value"] for m in methods] == [
        f"{e['kind']}: {e['value']} (rule {e['rule']}, vendor {e['vendor']}, {e['observation_id']})"
        for e in asset_evidence
    ]
