"""`vendorscope pcap` end to end on the lab capture: devices, vendors, evidence, damage."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.lab.capture import DEMO_PATH, generate

runner = CliRunner()

# MAC of each lab device → the vendor the passive stage must name.
EXPECTED = {
    "e0:06:30:1a:2b:01": "huawei",  # LLDP, SSH, SNMP sysObjectID 2011
    "f0:1b:24:3c:4d:02": "zte",  # telnet banner, SNMP sysObjectID 3902
    "54:8c:81:b5:c6:06": "hikvision",  # HTTP App-webs, OUI
    "74:c9:29:d7:e8:07": "dahua",  # digest realm, OUI
    "9c:06:6e:1b:2c:09": "hytera",  # SNMP sysObjectID 40297, OUI
    "e8:0a:b9:5e:6f:03": "cisco",  # CDP, OUI
    "d8:da:f1:3d:4e:0a": "huawei",  # TLS certificate, OUI
}


def pcap_rows(*args: str) -> tuple[list[dict[str, Any]], str]:
    result = runner.invoke(app, ["pcap", "--no-db", "--format", "jsonl", *args])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return rows, result.stderr


def by_mac(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {mac: row for row in rows for mac in row["mac"] or ()}


def test_demo_capture_finds_every_high_risk_device(tmp_path: Path) -> None:
    obs_path = tmp_path / "obs.jsonl"
    rows, stderr = pcap_rows(str(DEMO_PATH), "--observations", str(obs_path))
    devices = by_mac(rows)
    for mac, vendor in EXPECTED.items():
        assert devices[mac]["vendor"] == vendor, (mac, devices.get(mac))
    router = devices["e0:06:30:1a:2b:01"]
    assert "10.20.0.1" in router["ips"]
    assert {"lldp.sysdescr", "snmp.sysobjectid", "ssh.banner"} <= set(router["evidence"])
    # The internet server's banner came through the router: it must not be the router's.
    assert "93.184.216.34" not in router["ips"]
    assert devices["54:8c:81:b5:c6:06"]["hostnames"] == ["ds-2cd2043g2-i"]
    assert "781 frames read" in stderr
    # Every observation names the frame that proves it.
    observations = [json.loads(line) for line in obs_path.read_text().splitlines()]
    assert observations and all(isinstance(o["frame"], int) and o["file"] == "demo.pcapng" for o in observations)
    banner = next(o for o in observations if o["kind"] == "ssh.banner" and o["value"] == "SSH-2.0-HUAWEI-1.5")
    assert banner["ip"] == "10.20.0.1" and banner["frame"] > 1 and banner["seen_at"].startswith("2024-05-06")


def test_devices_sharing_a_default_hostname_stay_apart(tmp_path: Path) -> None:
    import scapy.all as s

    from vendorscope.lab.capture import pcap_header, pcap_record

    records = []
    for i, mac in enumerate(("54:8c:81:00:00:01", "54:8c:81:00:00:02")):
        raw_mac = bytes.fromhex(mac.replace(":", ""))
        frame = bytes(s.Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / s.IP(src="0.0.0.0", dst="255.255.255.255")
                      / s.UDP(sport=68, dport=67) / s.BOOTP(op=1, chaddr=raw_mac)
                      / s.DHCP(options=[("message-type", "request"), ("hostname", b"IPCAMERA"), "end"]))
        records.append(pcap_record(1_715_000_000 + i, frame))
    path = tmp_path / "twins.pcap"
    path.write_bytes(pcap_header(1) + b"".join(records))
    rows, _ = pcap_rows(str(path))
    assert sorted(m for r in rows for m in r["mac"]) == ["54:8c:81:00:00:01", "54:8c:81:00:00:02"]
    assert len(rows) == 2 and all(r["hostnames"] == ["ipcamera"] for r in rows)


def test_csv_output_to_file(tmp_path: Path) -> None:
    out = tmp_path / "devices.csv"
    result = runner.invoke(app, ["pcap", "--no-db", "--format", "csv", "-o", str(out), str(DEMO_PATH)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["vendor"] for r in rows} >= {"huawei", "zte", "hikvision", "dahua", "hytera", "cisco"}


@pytest.mark.parametrize("fmt, link, compress", [("pcap", "ethernet", False), ("pcapng", "sll2", True),
                                                 ("pcap", "sll", False), ("pcap", "raw", True)])
def test_formats_link_types_and_gzip(tmp_path: Path, fmt: str, link: str, compress: bool) -> None:
    path = tmp_path / f"lab.{fmt}{'.gz' if compress else ''}"
    generate(path, size=60_000, fmt=fmt, link=link)
    rows, _ = pcap_rows(str(path))
    vendors = {r["vendor"] for r in rows}
    assert {"huawei", "zte", "hytera"} <= vendors  # SNMP and banners: IP-level evidence in every link type
    if link != "raw":
        assert {"hikvision", "dahua", "cisco"} <= vendors


def test_truncated_capture_reports_and_keeps_earlier_devices(tmp_path: Path) -> None:
    data = DEMO_PATH.read_bytes()
    path = tmp_path / "cut.pcapng"
    # Cut inside the frames after the device traffic, and damage a block length on the way.
    damaged = bytearray(data[:200_000])
    damaged[150_004:150_008] = b"\xff\xff\xff\x7f"
    path.write_bytes(bytes(damaged))
    rows, stderr = pcap_rows(str(path))
    assert {"huawei", "zte", "hikvision", "hytera"} <= {r["vendor"] for r in rows}
    assert "skipped" in stderr and "cut.pcapng" in stderr


def test_not_a_capture_is_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "report.pdf"
    bogus.write_bytes(b"%PDF-1.7\n" + b"\x00" * 100)
    result = runner.invoke(app, ["pcap", "--no-db", str(bogus)])
    assert result.exit_code == 2
    (line,) = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert "report.pdf: not a pcap or pcapng capture" in line
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["pcap", "--no-db", str(tmp_path / "nope.pcap")])
    assert missing.exit_code == 2 and "nope.pcap: no such file" in missing.stderr


def test_good_file_still_read_beside_a_bad_one(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a capture")
    result = runner.invoke(app, ["pcap", "--no-db", "--format", "jsonl", str(DEMO_PATH), str(bogus)])
    assert result.exit_code == 2
    assert "notes.txt: not a pcap or pcapng capture" in result.stderr
    assert any('"hikvision"' in line for line in result.stdout.splitlines())


def test_gzip_of_demo(tmp_path: Path) -> None:
    path = tmp_path / "demo.pcapng.gz"
    with DEMO_PATH.open("rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    rows, _ = pcap_rows(str(path))
    assert by_mac(rows)["9c:06:6e:1b:2c:09"]["vendor"] == "hytera"


@pytest.mark.skipif(importlib.util.find_spec("vendorscope.store.inventory") is None,
                    reason="vendorscope.store.inventory is not written yet")
def test_stores_a_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "inventory.db"
    result = runner.invoke(app, ["pcap", "--db", str(db), "--format", "jsonl", str(DEMO_PATH)])
    assert result.exit_code == 0, result.output
    assert db.exists() and db.stat().st_size > 0
    assert "stored as snapshot" in result.stderr
