"""Internet-scan data: Shodan banners, Censys hosts, ZGrab2 results; gzip; broken lines."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vendorscope.collect.imports import scandata as SD
from vendorscope.collect.imports.common import Collector, StrictAbort, open_maybe_gzip
from vendorscope.model import Observation
from vendorscope.pipeline import to_assets

FIXTURES = Path(__file__).parent / "fixtures" / "scandata"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def read(data: bytes, strict: bool = False) -> tuple[list[Observation], Collector]:
    collector = Collector(strict=strict)
    observations = list(SD.read_scandata(io.BytesIO(data), "scan.jsonl", "import:scandata:scan.jsonl",
                                         collector, NOW))
    return observations, collector


def groups(observations: list[Observation]) -> dict[str, str | None]:
    return {sorted(a.keys["ip"])[0]: a.verdict.group for a in to_assets(observations)}


def test_shodan_banners() -> None:
    observations, collector = read((FIXTURES / "shodan-banners.jsonl").read_bytes())
    assert collector.bad_count == 0 and collector.records == 8
    assert groups(observations) == {"192.0.2.10": "huawei", "192.0.2.20": "hikvision", "192.0.2.30": "dahua",
                                    "192.0.2.40": "canon", "192.0.2.50": "zte"}
    got = {(o.keys.ip, o.kind, o.value) for o in observations}
    assert ("192.0.2.10", "ssh.banner", "SSH-2.0-HUAWEI-1.5") in got
    assert ("192.0.2.10", "snmp.sysobjectid", "1.3.6.1.4.1.2011.2.62.2.9") in got
    assert ("192.0.2.20", "scan.product_vendor", "Hikvision IP Camera") in got
    assert ("192.0.2.20", "http.server", "App-webs/") in got
    assert any(k == "http.www_authenticate" and "IP Camera(C6182)" in v for _, k, v in got)
    assert ("192.0.2.30", "tls.cert.issuer",
            "CN=Dahua Device CA,O=ZheJiang Dahua Technology Co.\\, Ltd.,L=HangZhou,ST=ZheJiang,C=CN") in got
    telnet = next(o for o in observations if o.kind == "telnet.banner")
    assert telnet.value.startswith("Warning: Telnet is not a secure protocol") and "\xff" not in telnet.value
    ssh = next(o for o in observations if o.kind == "ssh.banner")
    assert ssh.seen_at == datetime(2024, 4, 1, 12, 34, 56, 789012, tzinfo=UTC)
    assert ssh.context["port"] == 22 and ssh.context["scanner"] == "shodan" and ssh.context["line"] == 1
    assert ssh.context["hostnames"] == ["pe1.ams.example.net"]
    assert ssh.keys.hostname is None  # reverse DNS names are context, never keys


def test_censys_hosts() -> None:
    observations, collector = read((FIXTURES / "censys-hosts.jsonl").read_bytes())
    assert collector.bad_count == 0 and collector.records == 2
    assert groups(observations) == {"198.51.100.7": "huawei", "198.51.100.8": "hikvision"}
    got = {(o.keys.ip, o.kind, o.value) for o in observations}
    assert ("198.51.100.7", "tls.cert.subject", "CN=Huawei,O=Huawei,C=CN") in got  # RFC 4514, as every source
    assert ("198.51.100.7", "http.server", "Huawei Auth-Http Server 1.0") in got
    assert ("198.51.100.7", "snmp.sysname", "BR-AR6120-01") in got
    assert ("198.51.100.7", "scan.product_vendor", "Huawei") in got
    assert ("198.51.100.8", "rtsp.server", "Hikvision-Webs") in got
    assert sum(1 for _, k, v in got if k == "ssh.banner") == 1  # banner and endpoint_id say the same


def test_zgrab2_results() -> None:
    observations, collector = read((FIXTURES / "zgrab2-results.jsonl").read_bytes())
    assert collector.bad_count == 0 and collector.records == 3
    assert groups(observations) == {"203.0.113.5": "zte", "203.0.113.6": "hikvision"}
    got = {(o.keys.ip, o.kind, o.value) for o in observations}
    assert ("203.0.113.5", "http.title", "F670L") in got
    assert ("203.0.113.6", "telnet.banner", "dvrdvs login:") in got
    assert "203.0.113.7" not in {o.keys.ip for o in observations}  # the timed-out grab says nothing


def test_gzip_and_mixed_scanners(tmp_path: Path) -> None:
    data = b"".join((FIXTURES / name).read_bytes() for name in
                    ("shodan-banners.jsonl", "censys-hosts.jsonl", "zgrab2-results.jsonl"))
    path = tmp_path / "all.jsonl.gz"
    path.write_bytes(gzip.compress(data))
    seen: list[int] = []
    collector = Collector()
    with open_maybe_gzip(path, seen.append) as stream:
        observations = list(SD.read_scandata(stream, path.name, "s", collector, NOW))
    assert collector.records == 13 and collector.bad_count == 0
    assert sum(seen) == path.stat().st_size  # progress counts the compressed bytes
    assert len(groups(observations)) == 9


def test_broken_lines_are_reported_and_the_rest_land() -> None:
    good = json.dumps({"ip_str": "192.0.2.1", "port": 22, "data": "SSH-2.0-HUAWEI-1.5\n",
                       "_shodan": {"module": "ssh"}}).encode()
    lines = [
        good,
        b'{"ip_str": "192.0.2.2", "port": 22, "data": "SSH-2.0-ZTE',  # cut off
        b"\x00\x9f\x92\x96 binary garbage \xff",
        b"[1, 2, 3]",
        b'{"hello": "world"}',
        json.dumps({"ip_str": "not-an-ip", "port": 22, "data": "SSH-2.0-x"}).encode(),
        b"",
        json.dumps({"ip": "192.0.2.3", "services": [{"port": 22, "banner": "SSH-2.0-ZTE_SSH.2.0"}]}).encode(),
    ]
    observations, collector = read(b"\n".join(lines) + b"\n")
    assert {o.keys.ip for o in observations} == {"192.0.2.1", "192.0.2.3"}
    places = [b.place for b in collector.bad_records]
    assert places == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    messages = [b.message for b in collector.bad_records]
    assert messages[0].startswith("not JSON") and messages[2] == "not a JSON object"
    assert "not a Shodan banner, Censys host or ZGrab2 result" in messages[3]
    assert "no usable IP address" in messages[4]
    with pytest.raises(StrictAbort):
        read(b"\n".join(lines), strict=True)


def test_overlong_lines_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SD, "MAX_LINE", 100)
    huge = json.dumps({"ip_str": "192.0.2.9", "data": "x" * 500}).encode()
    good = json.dumps({"ip_str": "192.0.2.1", "port": 21, "data": "220 FTP ready\r\n",
                       "_shodan": {"module": "ftp"}}).encode()
    observations, collector = read(huge + b"\n" + good + b"\n")
    assert {o.keys.ip for o in observations} == {"192.0.2.1"}
    assert collector.bad_records[0].place == "line 1" and "longer than" in collector.bad_records[0].message


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    line = json.dumps({"ip_str": "192.0.2.1", "port": 22, "data": "SSH-2.0-HUAWEI-1.5\n"}).encode() + b"\n"
    whole = gzip.compress(line * 2000)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    collector = Collector()
    got: list[Observation] = []
    with pytest.raises(EOFError), open_maybe_gzip(path) as stream:  # the CLI turns this into one bad record
        for obs in SD.read_scandata(stream, path.name, "s", collector, NOW):
            got.append(obs)
    assert got and collector.bad_count == 0


def test_distinguished_names_from_fields() -> None:
    assert SD.dn_from_fields({"CN": "x", "O": "Huawei", "C": "CN"}) == "CN=x,O=Huawei,C=CN"  # RFC 4514
    assert SD.dn_from_fields({"common_name": ["IPC"], "organization": ["Hikvision"]}) == "CN=IPC,O=Hikvision"
    assert SD.dn_from_fields("C=CN") is None
