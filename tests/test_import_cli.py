"""`vendorscope import KIND FILE...` end to end: output, store, strict, warnings, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from netbox_replay import NetboxReplay
from typer.testing import CliRunner

from vendorscope.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def rows(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_nmap_import_prints_devices_and_stores_a_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    out = tmp_path / "devices.jsonl"
    r = run("import", "nmap", str(FIXTURES / "nmap" / "lab-sV.xml"), "--db", str(db), "-f", "jsonl", "-o", str(out))
    assert r.exit_code == 0, r.output
    devices = rows(out.read_text())
    by_asset = {d["asset"]: d for d in devices}
    assert by_asset["ip:127.77.5.1"]["group"] == "huawei"
    assert "ssh.banner" in by_asset["ip:127.77.5.1"]["evidence"]  # type: ignore[operator]
    assert "import nmap: 1 file, 32 records" in r.output and "stored in" in r.output
    assert db.exists()
    from vendorscope.store.inventory import open_inventory

    with open_inventory(str(db)) as inventory:
        [snapshot] = inventory.snapshots()
    assert snapshot.source == "import:nmap:lab-sV.xml"
    assert snapshot.assets == len(devices) and snapshot.stats["records"] == 32


def test_table_import_with_several_files_and_observations_out(tmp_path: Path) -> None:
    tables = FIXTURES / "tables"
    obs = tmp_path / "obs.jsonl"
    r = run("import", "table", str(tables / "cmdb-servicenow.csv"), str(tables / "inventar-nord.csv"),
            "--no-db", "--format", "csv", "--observations", str(obs))
    assert r.exit_code == 0, r.output
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(table) == 9
    assert "import table: 2 files, 9 records" in r.output and "nothing stored (--no-db)" in r.output
    records = rows(obs.read_text())
    assert {"kind", "value", "source", "seen_at", "file", "line"} <= set(records[0])
    assert any(x["kind"] == "asset.role" and x["value"] == "radio" for x in records)
    # the observations file is what `vendorscope identify FILE` reads
    r = run("identify", str(obs), "--format", "jsonl")
    assert r.exit_code == 0 and any(x.get("attributions") for x in rows(r.stdout))


def test_bad_records_warn_and_exit_1_but_the_good_ones_land(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    r = run("import", "table", str(FIXTURES / "tables" / "broken.csv"), "--db", str(db), "-f", "jsonl")
    assert r.exit_code == 1
    assert "warning:" in r.output and "broken.csv line 3: 6 cells where the header has 4" in r.output
    assert "4 bad records skipped" in r.output
    assert {d["hostnames"][0] for d in rows(r.stdout)} == {"good-1", "good-2"}  # type: ignore[index]
    assert db.exists()


def test_strict_fails_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    obs = tmp_path / "obs.jsonl"
    r = run("import", "table", str(FIXTURES / "tables" / "broken.csv"), "--db", str(db), "--strict",
            "--observations", str(obs))
    assert r.exit_code == 1
    assert "broken.csv line 3" in r.output and "--strict: nothing was written" in r.output
    assert not db.exists() and not obs.exists()
    assert "Traceback" not in r.output


def test_many_bad_records_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(["{broken"] * 30 + ['{"ip_str": "192.0.2.1", "data": "SSH-2.0-HUAWEI-1.5\\n"}']))
    r = run("import", "scandata", str(path), "--no-db", "-f", "jsonl")
    assert r.exit_code == 1
    assert r.output.count("warning:") == 21 and "10 more bad records not shown" in r.output
    assert rows(r.stdout)[0]["group"] == "huawei"


def test_sbom_and_scandata_imports(tmp_path: Path) -> None:
    sboms = sorted(str(p) for p in (FIXTURES / "sbom").iterdir())
    r = run("import", "sbom", *sboms, "--no-db", "-f", "jsonl")
    assert r.exit_code == 0, r.output
    assert {d["group"] for d in rows(r.stdout)} == {"hikvision", "dahua", "huawei", "zte", "hytera"}
    r = run("import", "scandata", str(FIXTURES / "scandata" / "censys-hosts.jsonl"), "--no-db", "-f", "jsonl")
    assert r.exit_code == 0 and {d["group"] for d in rows(r.stdout)} == {"huawei", "hikvision"}


def test_netbox_import_token_from_option_and_environment(tmp_path: Path) -> None:
    with NetboxReplay() as replay:
        r = run("import", "netbox", replay.url, "--token", replay.token, "--no-db", "-f", "jsonl")
        assert r.exit_code == 0, r.output
        assert len(rows(r.stdout)) == 7 and "import netbox: server, 7 records" in r.output
        r = run("import", "netbox", replay.url, "--no-db", "-f", "jsonl",
                env={"VENDORSCOPE_NETBOX_TOKEN": replay.token})
        assert r.exit_code == 0 and len(rows(r.stdout)) == 7
        r = run("import", "netbox", replay.url, "--token", "wrong", "--no-db")
        assert r.exit_code == 2 and "refused the token" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize(("args", "message"), [
    (("import", "nmap", "/nonexistent/scan.xml", "--no-db"), "no such file"),
    (("import", "nmap", "{tmp}", "--no-db"), "is a directory"),
    (("import", "nmap", "{fixture}", "--map", "a=b", "--no-db"), "--map and --sheet apply to `import table` only"),
    (("import", "table", "{fixture}", "--map", "colour=Farbe", "--no-db"), "unknown field 'colour'"),
    (("import", "netbox", "netbox.example", "--no-db"), "starts with http"),
    (("import", "netbox", "http://a", "http://b", "--no-db"), "one server URL"),
    (("import", "sbom", "{fixture}", "--token", "x", "--no-db"), "--token applies"),
])
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    fixture = str(FIXTURES / "tables" / "cmdb-servicenow.csv")
    r = run(*(a.format(tmp=tmp_path, fixture=fixture) for a in args))
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_files_of_the_wrong_kind_are_one_error_each(tmp_path: Path) -> None:
    csv_file = FIXTURES / "tables" / "cmdb-servicenow.csv"
    nmap = FIXTURES / "nmap" / "lab-sV.xml"
    r = run("import", "nmap", str(csv_file), str(nmap), "--no-db", "-f", "jsonl")
    assert r.exit_code == 1
    assert f"{csv_file}: not nmap XML output" in r.output
    assert len(rows(r.stdout)) > 20  # the real scan still landed
    r = run("import", "sbom", str(nmap), "--no-db")
    assert r.exit_code == 1 and "not a CycloneDX document" in r.output


def test_truncated_gzip_is_a_bad_record(tmp_path: Path) -> None:
    import gzip

    line = b'{"ip_str": "192.0.2.1", "port": 22, "data": "SSH-2.0-HUAWEI-1.5\\n"}\n'
    data = gzip.compress(line * 5000)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    r = run("import", "scandata", str(path), "--no-db", "-f", "jsonl")
    assert r.exit_code == 1 and "compressed data ends early" in r.output
    assert rows(r.stdout)[0]["group"] == "huawei"
