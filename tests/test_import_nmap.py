# ruff: noqa: E501 - the fixtures' lines are as long as the real files' are
"""nmap XML import: real lab output, streaming, and damaged files."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vendorscope.collect.imports import nmap as N
from vendorscope.collect.imports.common import Collector, StrictAbort
from vendorscope.lab.profiles import load_profiles
from vendorscope.model import Observation
from vendorscope.pipeline import to_assets

FIXTURE = Path(__file__).parent / "fixtures" / "nmap" / "lab-sV.xml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# The lab device behind 127.77.5.N when the fixture was made (see fixtures/nmap/README.md);
# what each one is comes from the lab's own profiles.
FIXTURE_DEVICES = {
    1: "huawei-ne40e", 2: "huawei-ma5800", 3: "huawei-unc", 4: "huawei-s5735", 5: "huawei-ar6120",
    6: "zte-c320", 7: "zte-m6000", 8: "zte-f670l", 9: "hikvision-ipc", 10: "hikvision-nvr",
    11: "whitelabel-cam", 12: "dahua-ipc", 13: "dahua-nvr", 14: "hytera-rd985", 15: "cisco-c9300",
    17: "nokia-7750", 18: "ericsson-bb6630", 19: "axis-p3245", 20: "mikrotik-ccr", 21: "ubiquiti-udm",
    22: "aruba-2930f",
}  # 16 (Juniper: SSH without a name, SNMP v3 only) and 23 (a mail relay) name no maker to nmap
HIGH_RISK = {"huawei", "zte", "hikvision", "dahua", "hytera"}


def read(data: bytes | Path, strict: bool = False, name: str = "scan.xml") -> tuple[list[Observation], Collector]:
    collector = Collector(strict=strict)
    stream = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    with stream:
        observations = list(N.read_nmap(stream, name, f"import:nmap:{name}", collector, NOW))
    return observations, collector


@pytest.fixture(scope="module")
def lab_scan() -> tuple[list[Observation], Collector]:
    return read(FIXTURE, name="lab-sV.xml")


def test_lab_scan_reads_every_host_without_problems(lab_scan: tuple[list[Observation], Collector]) -> None:
    observations, collector = lab_scan
    assert collector.bad_count == 0
    assert collector.records == 32  # 127.77.5.0/27 with -Pn
    kinds = Counter(o.kind for o in observations)
    for kind in ("ssh.banner", "telnet.banner", "ftp.banner", "smtp.banner", "snmp.sysdescr", "http.server",
                 "http.title", "tls.cert.subject", "tls.cert.issuer", "rtsp.methods", "ssh.hostkey", "cpe",
                 "scan.product_vendor", "snmp.sysname", "rtsp.server"):
        assert kinds[kind] > 0, kind
    first = observations[0]
    assert first.source == "import:nmap:lab-sV.xml"
    assert first.context["file"] == "lab-sV.xml" and first.context["line"] > 0
    assert first.seen_at is not None and first.seen_at.tzinfo is not None
    assert first.seen_at.year == 2026  # the host's endtime, not "now"


def test_lab_scan_identifies_the_lab_devices(lab_scan: tuple[list[Observation], Collector]) -> None:
    groups = {p.name: p.group for p in load_profiles()}
    assets = {a.id: a for a in to_assets(lab_scan[0])}
    for n, name in FIXTURE_DEVICES.items():
        asset = assets.get(f"ip:127.77.5.{n}")
        assert asset is not None, name
        assert asset.verdict.group == groups[name], (name, asset.verdict, [a.rule for a in asset.attributions])
    # the mail relay names no hardware maker, and the faulty devices say nothing usable
    for n in (23, 24, 25, 26, 27):
        asset = assets.get(f"ip:127.77.5.{n}")
        assert asset is None or asset.verdict.group not in HIGH_RISK


def test_lab_scan_values_are_what_the_devices_sent(lab_scan: tuple[list[Observation], Collector]) -> None:
    by_ip: dict[str, list[Observation]] = {}
    for o in lab_scan[0]:
        by_ip.setdefault(o.keys.ip or "", []).append(o)
    ne40e = {(o.kind, o.value) for o in by_ip["127.77.5.1"]}
    assert ("ssh.banner", "SSH-2.0-HUAWEI-1.5") in ne40e
    assert ("snmp.sysname", "CORE-NE40E-01") in ne40e
    sysdescr = next(v for k, v in ne40e if k == "snmp.sysdescr")
    assert sysdescr.startswith("Huawei Versatile Routing Platform") and "System uptime" not in sysdescr
    telnet = next(v for k, v in ne40e if k == "telnet.banner")
    assert "Stelnet" in telnet and "\\x" not in telnet and "\xff" not in telnet
    unc = {(o.kind, o.value) for o in by_ip["127.77.5.3"]}
    # One DN spelling for every source (RFC 4514, as a probe or a capture reads the certificate).
    assert ("tls.cert.subject", "CN=5GC-UNC-01,OU=Wireless Network Product Line,O=Huawei,C=CN") in unc
    assert ("tls.cert.issuer", "CN=Huawei Equipment CA,O=Huawei,C=CN") in unc
    ipc = {(o.kind, o.value) for o in by_ip["127.77.5.9"]}
    assert ("http.server", "App-webs/") in ipc
    assert any(k == "rtsp.methods" and "DESCRIBE" in v for k, v in ipc)
    dahua = {(o.kind, o.value) for o in by_ip["127.77.5.13"]}
    assert ("rtsp.server", "Rtsp Server/3.0") in dahua  # from the fingerprint-strings script
    port = next(o for o in by_ip["127.77.5.1"] if o.kind == "ssh.banner")
    assert port.context["port"] == 22 and port.context["protocol"] == "tcp"


def test_hosts_with_only_closed_ports_give_nothing(lab_scan: tuple[list[Observation], Collector]) -> None:
    ips = {o.keys.ip for o in lab_scan[0]}
    assert "127.77.5.0" not in ips and "127.77.5.30" not in ips


HOST_WITH_MAC_AND_OS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -O -sV 192.0.2.0/24" start="1700000000" version="7.93" xmloutputversion="1.05">
<host starttime="1700000100" endtime="1700000200"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="192.0.2.7" addrtype="ipv4"/>
<address addr="00:E0:FC:12:34:56" addrtype="mac" vendor="Huawei Technologies"/>
<hostnames><hostname name="core-7.example.net" type="PTR"/></hostnames>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/>
<service name="ssh" product="Huawei VRP sshd" extrainfo="protocol 1.99" ostype="VRP" method="probed" conf="10">
<cpe>cpe:/o:huawei:vrp</cpe></service></port>
<port protocol="tcp" portid="23"><state state="open" reason="syn-ack" reason_ttl="64"/>
<service name="telnet" method="probed" conf="10" servicefp="SF-Port23-TCP:V=7.93%I=7%D=11/29%Time=1%P=x86_64-pc-linux-gnu%r(NULL,2B,&quot;\\xff\\xfb\\x01\\xff\\xfb\\x03\\r\\n\\r\\nLogin\\x20authentication\\r\\n\\r\\nUsername:&quot;);"/></port>
<port protocol="tcp" portid="80"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="http" method="table" conf="3"/></port>
</ports>
<os><portused state="open" proto="tcp" portid="22"/>
<osmatch name="Huawei VRP 8.X" accuracy="96" line="1234">
<osclass type="router" vendor="Huawei" osfamily="VRP" osgen="8.X" accuracy="96"><cpe>cpe:/o:huawei:vrp:8</cpe></osclass>
</osmatch>
<osmatch name="Linux 4.15" accuracy="85" line="5678">
<osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="4.X" accuracy="85"><cpe>cpe:/o:linux:linux_kernel:4.15</cpe></osclass>
</osmatch>
</os>
</host>
<host><status state="down" reason="no-response" reason_ttl="0"/><address addr="192.0.2.8" addrtype="ipv4"/></host>
<runstats><finished time="1700000300"/><hosts up="1" down="1" total="2"/></runstats>
</nmaprun>
"""


def test_mac_vendor_os_matches_and_the_null_probe_greeting() -> None:
    observations, collector = read(HOST_WITH_MAC_AND_OS)
    assert collector.bad_count == 0 and collector.records == 2
    got = {(o.kind, o.value) for o in observations}
    assert ("mac", "00:e0:fc:12:34:56") in got
    assert ("nmap.mac_vendor", "Huawei Technologies") in got
    assert ("scan.product_vendor", "Huawei VRP sshd") in got
    assert ("nmap.os", "Huawei VRP 8.X") in got
    assert ("cpe", "cpe:/o:huawei:vrp:8") in got
    assert ("cpe", "cpe:/o:linux:linux_kernel:4.15") not in got  # only the best OS match counts
    telnet = next(o for o in observations if o.kind == "telnet.banner")
    assert "Login authentication" in telnet.value and telnet.context["from"] == "servicefp"
    assert all(o.keys.ip == "192.0.2.7" and o.keys.mac == "00:e0:fc:12:34:56" for o in observations)
    assert all(o.keys.hostname == "core-7.example.net" for o in observations)
    assert observations[0].seen_at == datetime.fromtimestamp(1700000200, UTC)
    assert not any(o.context.get("port") == 80 for o in observations)  # filtered port: no evidence
    [asset] = to_assets(observations)
    assert asset.verdict.group == "huawei"


def _scan(*hosts: bytes, prolog: bytes = b"", close: bool = True) -> bytes:
    head = b'<?xml version="1.0"?>\n' + prolog + b'<nmaprun scanner="nmap" start="1700000000">\n'
    return head + b"\n".join(hosts) + (b"\n</nmaprun>\n" if close else b"\n")


def _host(ip: str, banner: str = "SSH-2.0-HUAWEI-1.5") -> bytes:
    return (f'<host><status state="up"/><address addr="{ip}" addrtype="ipv4"/><ports>'
            f'<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" method="probed"/>'
            f'<script id="banner" output="{banner}"/></port></ports></host>').encode()


def test_a_broken_host_is_one_bad_record_and_its_neighbours_land() -> None:
    unclosed = b'<host><status state="up"/><address addr="192.0.2.2" addrtype="ipv4"/><ports>'
    mismatched = b'<host><status state="up"/><address addr="192.0.2.3" addrtype="ipv4"></host>'
    data = _scan(_host("192.0.2.1"), unclosed, mismatched, _host("192.0.2.4"))
    observations, collector = read(data)
    assert {o.keys.ip for o in observations} == {"192.0.2.1", "192.0.2.4"}
    assert collector.bad_count == 2 and collector.records == 2
    messages = [str(b) for b in collector.bad_records]
    assert messages[0].startswith("scan.xml <host> at line 4:") and "not closed" in messages[0]
    assert messages[1].startswith("scan.xml <host> at line 5:") and "malformed XML" in messages[1]


def test_entities_are_refused_never_expanded() -> None:
    bomb = (b'<!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n')
    external = b'<!ENTITY xxe SYSTEM "file:///etc/passwd">'
    data = _scan(_host("192.0.2.1"), _host("192.0.2.2", banner="&c;"), _host("192.0.2.3", banner="&xxe;"),
                 _host("192.0.2.4"), prolog=bomb[:-3] + external + b"]>\n")
    observations, collector = read(data)
    assert {o.keys.ip for o in observations} == {"192.0.2.1", "192.0.2.4"}
    assert all("aaaa" not in o.value and "root:" not in o.value for o in observations)
    messages = [str(b) for b in collector.bad_records]
    assert "declares entities" in messages[0]
    assert sum("undefined entity" in m for m in messages) == 2


def test_strict_stops_at_the_first_bad_host() -> None:
    data = _scan(_host("192.0.2.1"), b"<host><oops></host>", _host("192.0.2.3"))
    with pytest.raises(StrictAbort) as info:
        read(data, strict=True)
    assert "line 4" in str(info.value)


def test_interrupted_scan_keeps_the_finished_hosts() -> None:
    data = _scan(_host("192.0.2.1"), _host("192.0.2.2")[:60], close=False)
    observations, collector = read(data)
    assert {o.keys.ip for o in observations} == {"192.0.2.1"}
    assert collector.bad_count == 1 and "file ends inside" in collector.bad_records[0].message


@pytest.mark.parametrize("data", [b"", b"hostname,vendor\nx,Huawei\n", b"\x00\x01\x02" * 100,
                                  b"<?xml version='1.0'?><report><host>nope</host></report>"])
def test_files_that_are_not_nmap_xml_are_one_error(data: bytes) -> None:
    observations, collector = read(data)
    assert observations == []
    assert collector.bad_count == 1
    assert "not nmap XML" in collector.bad_records[0].message


def test_a_zero_host_scan_is_fine() -> None:
    observations, collector = read(_scan())
    assert observations == [] and collector.bad_count == 0


def test_hosts_split_across_read_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(N, "CHUNK", 7)  # every tag is cut somewhere
    hosts = [_host(f"10.0.{i // 250}.{i % 250 + 1}") for i in range(40)]
    observations, collector = read(_scan(*hosts))
    assert collector.bad_count == 0 and collector.records == 40
    assert len({o.keys.ip for o in observations}) == 40


def test_an_oversized_host_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(N, "MAX_HOST_BYTES", 2000)
    monkeypatch.setattr(N, "CHUNK", 256)
    huge = _host("192.0.2.2", banner="SSH-2.0-" + "x" * 5000)
    observations, collector = read(_scan(_host("192.0.2.1"), huge, _host("192.0.2.3")))
    assert {o.keys.ip for o in observations} == {"192.0.2.1", "192.0.2.3"}
    assert collector.bad_count == 1 and "larger than" in collector.bad_records[0].message


def test_nmap_text_decoding() -> None:
    assert N.unescape_banner("\\xFF\\xFB\\x01Login \\x0&#xa;D\\x0A".replace("&#xa;", "\n")) == b"\xff\xfb\x01Login \r\n"
    assert N.unescape_banner("220 ProFT...") == b"220 ProFT"
    fp = 'SF:%r(NULL,10,"\\xff\\xfb\\x01Hi\\x20there\\.\\r\\n");%r(GetRequest,5,"x")'
    assert N.null_probe_response(fp) == b"\xff\xfb\x01Hi there.\r\n"
    assert N.null_probe_response("SF:%r(GetRequest,5,\"x\")") is None
