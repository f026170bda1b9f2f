"""`vendorscope assets / asset / snapshots / history / diff`: end to end on a SQLite inventory."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vendorscope import assess as assess_module
from vendorscope.cli import app
from vendorscope.model import AssetKeys, Finding, Observation, Status
from vendorscope.pipeline import ingest

runner = CliRunner()
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROUTER = "mac:00:e0:fc:12:34:56"
CAMERA = "mac:c0:56:e3:00:00:01"


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def jsonl(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def observation(kind: str, value: str, mac: str, ip: str | None = None, at: datetime = T0,
                **context: Any) -> Observation:
    return Observation(kind, value, "pcap:lab.pcap", at, AssetKeys(mac=mac, ip=ip), context)


@pytest.fixture(scope="module")
def inventory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two snapshots through the real pipeline: a Huawei router stays, a camera goes, a Dahua camera comes."""
    db = tmp_path_factory.mktemp("cli") / "inventory.db"
    router = [observation("mac", "00:e0:fc:12:34:56", "00:e0:fc:12:34:56", "192.0.2.1", file="lab.pcap", frame=i)
              for i in range(1, 8)]
    router.append(observation("ssh.banner", "SSH-2.0-HUAWEI-1.5", "00:e0:fc:12:34:56", "192.0.2.1",
                              file="lab.pcap", frame=42, port=22))
    camera = [observation("http.server", "App-webs/", "c0:56:e3:00:00:01", "192.0.2.2", file="lab.pcap", frame=9,
                          port=80)]
    dahua = [observation("rtsp.server", "Dahua Rtsp Server", "3c:ef:8c:00:00:09", "192.0.2.9",
                         at=T0 + timedelta(days=7), file="lab2.pcap", frame=3, port=554)]
    ingest(router + camera, source="pcap:lab.pcap", db=str(db), started_at=T0)
    ingest(router + dahua, source="pcap:lab.pcap", db=str(db), started_at=T0 + timedelta(days=7))
    return db


@pytest.fixture
def db(inventory_file: Path, tmp_path: Path) -> str:
    """A private copy, so that annotations made by one test do not leak into another."""
    copy = tmp_path / "inventory.db"
    copy.write_bytes(inventory_file.read_bytes())
    return str(copy)


def test_assets_lists_the_inventory_as_it_stands(db: str) -> None:
    r = run("assets", "--db", db, "--format", "jsonl")
    assert r.exit_code == 0, r.output
    rows = {row["asset"]: row for row in jsonl(r.output)}
    assert set(rows) == {ROUTER, "mac:3c:ef:8c:00:00:09"}
    router = rows[ROUTER]
    assert (router["vendor_id"], router["group"], router["ips"]) == ("huawei", "huawei", ["192.0.2.1"])
    assert router["confidence"] > 0.9 and router["evidence"] == 2 and router["kinds"] == ["mac", "ssh.banner"]
    assert router["conflicts"] == 0

    r = run("assets", "--db", db, "--vendor", "dahua", "--format", "jsonl")
    assert [row["asset"] for row in jsonl(r.output)] == ["mac:3c:ef:8c:00:00:09"]
    r = run("assets", "--db", db, "--snapshot", "1", "--format", "csv")
    assert r.exit_code == 0 and CAMERA in r.output and "3c:ef:8c" not in r.output
    r = run("assets", "--db", db)
    assert r.exit_code == 0 and "Huaw" in r.output and "2 asset(s)" in r.output


def test_assets_set_role_site_and_tags(db: str) -> None:
    r = run("assets", "00:E0:FC:12:34:56", "--set-role", "core", "--set-site", "fra-1", "--tag", "Military",
            "--tag", "government", "--db", db)
    assert r.exit_code == 0, r.output
    assert f"{ROUTER}: role core; site fra-1; tags government, military" in r.output

    r = run("assets", "--role", "core", "--site", "fra-1", "--db", db, "--format", "jsonl")
    [row] = jsonl(r.output)
    assert (row["asset"], row["role"], row["site"], row["tags"]) == (ROUTER, "core", "fra-1",
                                                                      ["government", "military"])
    r = run("assets", ROUTER, "--untag", "government", "--db", db)
    assert r.exit_code == 0 and "tags removed government" in r.output
    r = run("assets", ROUTER, "--db", db, "--format", "jsonl")
    assert [row["tags"] for row in jsonl(r.output)] == [["military"]]


def test_annotating_needs_a_known_asset(db: str) -> None:
    r = run("assets", "--set-role", "core", "--db", db)
    assert r.exit_code == 2 and "name the assets to annotate" in r.output
    r = run("assets", "00:00:00:00:00:99", "--set-role", "core", "--db", db)
    assert r.exit_code == 2 and "no asset '00:00:00:00:00:99'" in r.output
    r = run("assets", ROUTER, "--set-role", "mainframe", "--db", db)
    assert r.exit_code == 2 and "mainframe" in r.output


def test_asset_shows_the_whole_evidence_chain(db: str) -> None:
    r = run("asset", "192.0.2.1", "--db", db)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert ROUTER in text and "Huawei" in text
    assert "ssh.banner" in text and "frame=42" in text and "port=22" in text
    assert "7 sightings" in text and "2 more sightings" in text  # the MAC, seen in 7 frames
    assert "rule ssh." in text and "→ huawei" in text
    r = run("asset", ROUTER, "--all", "--db", db)
    assert "frame=7" in " ".join(r.output.split())

    r = run("asset", ROUTER, "--db", db, "--format", "jsonl")
    record = json.loads(r.output)
    assert record["verdict"]["vendor"] == "huawei" and [s["id"] for s in record["snapshots"]] == [1, 2]
    assert len(record["observations"]) == 8
    banner = next(o for o in record["observations"] if o["kind"] == "ssh.banner")
    assert banner["context"] == {"file": "lab.pcap", "frame": 42, "port": 22}
    assert banner["rules"] and all(rule["vendor"] == "huawei" for rule in banner["rules"])

    r = run("asset", CAMERA, "--db", db, "--format", "jsonl")  # gone now: shown as last seen
    assert json.loads(r.output)["verdict"]["group"] == "hikvision"
    r = run("asset", "nothing-like-this", "--db", db)
    assert r.exit_code == 2 and "no asset 'nothing-like-this'" in r.output


def test_snapshots_history_and_diff(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run("snapshots", "--db", db, "--format", "jsonl")
    assert [(s["snapshot"], s["source"], s["assets"]) for s in jsonl(r.output)] == [
        (1, "pcap:lab.pcap", 2), (2, "pcap:lab.pcap", 2)]

    r = run("diff", "--db", db, "--format", "jsonl")  # previous → latest
    assert r.exit_code == 0, r.output
    changes = {(row["change"], row["asset"]) for row in jsonl(r.output) if row["change"] != "progress"}
    assert changes == {("appeared", "mac:3c:ef:8c:00:00:09"), ("disappeared", CAMERA)}
    r = run("diff", "1", "2", "--db", db)
    assert r.exit_code == 0 and "1 appeared, 1 disappeared, 0 re-identified" in r.output
    r = run("diff", "1", "7", "--db", db)
    assert r.exit_code == 2 and "no snapshot 7" in r.output

    def fake_judge(assets: Any, packs: Any, as_of: date, **criteria: Any) -> list[Finding]:
        return [Finding(a.id, "pack", "remove", Status.must_remove, as_of, date(2027, 1, 1), "high", "covered")
                for a in assets if a.verdict.group in ("huawei", "hikvision")]

    monkeypatch.setattr(assess_module, "evaluate", fake_judge)
    r = run("history", "--db", db, "--format", "jsonl")
    assert r.exit_code == 0, r.output
    assert [[(c["requirement"], c["covered"]) for c in row["coverage"]] for row in jsonl(r.output)] == [
        [("remove", 2)], [("remove", 1)]]
    r = run("history", "--db", db)
    text = " ".join(r.output.split())
    assert "progress toward deadlines" in text and "2027-01-01" in text
    r = run("history", "--db", db, "--format", "csv")
    assert r.output.splitlines()[0].startswith("snapshot,source,started")


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    for command in (["assets"], ["asset", ROUTER], ["snapshots"], ["history"], ["diff", "1", "2"]):
        r = run(*command, "--db", str(missing))
        assert r.exit_code == 2, (command, r.output)
        assert "no inventory there" in r.output and "Traceback" not in r.output
    assert not missing.exists()  # reading never creates an inventory

    garbage = tmp_path / "notes.db"
    garbage.write_bytes(os.urandom(2048))
    r = run("assets", "--db", str(garbage))
    assert r.exit_code == 2 and "not a vendorscope inventory" in r.output and "Traceback" not in r.output

    r = run("assets", "--db", f"postgresql://someone:pw@/inventory?host={tmp_path}&port=5999")
    assert r.exit_code == 2 and "cannot use postgresql+psycopg://someone:***@/inventory" in r.output
    assert "pw@" not in r.output and "Traceback" not in r.output
