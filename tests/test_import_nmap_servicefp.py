# ruff: noqa: E501 - the fixture's lines are as long as nmap's are
"""nmap's raw answers (service fingerprints) and the upnp-info script, read by the protocol modules.

The two devices of issue 11 that nmap could not name: a Hikvision whose ``Server: App-webs/``
and a Huawei HG8245H whose ``realm="HuaweiHomeGateway"`` appear only in the service fingerprint.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from nmap_fp import nmap_escape
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.collect.imports import nmap as N
from vendorscope.collect.imports.common import Collector
from vendorscope.evidence.kinds import EVIDENCE_KINDS
from vendorscope.model import Observation

FIXTURE = Path(__file__).parent / "fixtures" / "nmap" / "servicefp-only.xml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def read(path: Path) -> list[Observation]:
    collector = Collector()
    with path.open("rb") as stream:
        out = list(N.read_nmap(stream, path.name, f"import:nmap:{path.name}", collector, NOW))
    assert collector.bad_count == 0
    return out


def test_servicefp_answers_become_http_rtsp_and_upnp_evidence() -> None:
    observations = read(FIXTURE)
    by_ip: dict[str, set[tuple[str, str]]] = {}
    for o in observations:
        by_ip.setdefault(o.keys.ip or "", set()).add((o.kind, o.value))
    assert ("http.server", "App-webs/") in by_ip["192.0.2.64"]
    assert any(k == "rtsp.www_authenticate" and "IP Camera(C6207)" in v for k, v in by_ip["192.0.2.64"])
    assert any(k == "http.www_authenticate" and 'realm="HuaweiHomeGateway"' in v for k, v in by_ip["192.0.2.1"])
    assert ("http.title", "HG8245H") in by_ip["192.0.2.1"]
    assert ("upnp.server", "Linux UPnP/1.0 Huawei-ATP-IGD") in by_ip["192.0.2.1"]
    assert ("upnp.manufacturer", "Huawei Technologies Co., Ltd.") in by_ip["192.0.2.1"]
    assert ("upnp.model", "HG8245H V3R013C10S108") in by_ip["192.0.2.1"]
    server = next(o for o in observations if o.kind == "http.server")
    assert server.context["from"] == "servicefp" and server.context["fp_probe"] == "GetRequest"
    assert server.context["port"] == 80 and server.context["file"] == "servicefp-only.xml"
    realm = next(o for o in observations if o.kind == "http.www_authenticate")
    assert realm.context["realm"] == "HuaweiHomeGateway" and realm.context["port"] == 7547
    upnp = next(o for o in observations if o.kind == "upnp.server")
    assert upnp.context["script"] == "upnp-info" and upnp.context["port"] == 1900
    assert {o.kind for o in observations} <= set(EVIDENCE_KINDS)
    # one observation per value, though four probes drew the same Server header
    assert sum(1 for o in observations if o.kind == "http.server") == 1


def test_import_nmap_attributes_the_servicefp_only_devices(tmp_path: Path) -> None:
    out = tmp_path / "devices.jsonl"
    r = CliRunner().invoke(app, ["import", "nmap", str(FIXTURE), "--no-db", "-f", "jsonl", "-o", str(out)])
    assert r.exit_code == 0, r.output
    devices = {d["asset"]: d for d in (json.loads(line) for line in out.read_text().splitlines() if line.startswith("{"))}
    assert devices["ip:192.0.2.64"]["group"] == "hikvision"
    assert devices["ip:192.0.2.1"]["group"] == "huawei"


def test_every_fingerprint_entry_is_read_and_wrapped_lines_are_joined() -> None:
    fp = 'SF-Port80-TCP:V=7.93%I=7%r(GetRequest,5,"HTTP/")%r(HTTPOptions,2,"\\x20\\.")%r(NULL,0,"");'
    assert N.servicefp_responses(fp) == [("GetRequest", b"HTTP/"), ("HTTPOptions", b" ."), ("NULL", b"")]
    wrapped = 'SF-Port80-TCP:V=7.93%r(GetReq\nSF:uest,4,"ab\\\nSF:x41c")'
    assert N.servicefp_responses(wrapped) == [("GetRequest", b"abAc")]
    assert N.servicefp_responses('%r(GetRequest,5,"unterminated') == []


def test_udp_answers_go_to_the_module_of_their_port() -> None:
    ssdp = b"HTTP/1.1 200 OK\r\nSERVER: Linux UPnP/1.0 Huawei-ATP-IGD\r\nST: upnp:rootdevice\r\n\r\n"
    fp = f'SF-Port1900-UDP:V=7.93%r(SSDPSearch,{len(ssdp):x},"{nmap_escape(ssdp)}");'
    found = N.servicefp_evidence(fp, port=1900, protocol="udp", service="upnp")
    assert [(e.kind, e.value) for e in found] == [("upnp.server", "Linux UPnP/1.0 Huawei-ATP-IGD")]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_unescaping_reverses_nmaps_escaping(raw: bytes) -> None:
    assert N.unescape_servicefp(nmap_escape(raw)) == raw
    fp = f'SF-Port9-TCP:V=7.93%r(GetRequest,{len(raw):x},"{nmap_escape(raw)}");'
    assert N.servicefp_responses(fp) == [("GetRequest", raw)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=2000))
def test_hostile_fingerprints_never_crash_and_stay_bounded(text: str) -> None:
    for fp in (text, f'%r(GetRequest,1,"{text}")', f'%r(NULL,1,"{text}")%r(GetRequest,2,"HTTP/1.1 200\\r\\n{text}")'):
        entries = N.servicefp_responses(fp)
        assert len(entries) <= N.MAX_FP_ENTRIES
        assert all(len(data) <= N.MAX_FP_RESPONSE for _probe, data in entries)
        for ev in N.servicefp_evidence(fp, port=80, protocol="tcp", service=None):
            assert ev.kind in EVIDENCE_KINDS and len(ev.value) <= 1024


def test_an_oversized_fingerprint_is_cut() -> None:
    big = "%r(GetRequest,1," + '"' + "A" * (N.MAX_FP_RESPONSE * 3) + '")'
    assert N.servicefp_responses(big) == []  # the entry cannot close within the bound: nothing, not a hang
    many = "".join(f'%r(P{i},1,"x")' for i in range(500))
    assert len(N.servicefp_responses(many)) == N.MAX_FP_ENTRIES


def test_upnp_info_output() -> None:
    out = "\n192.0.2.1\n    Server: Linux UPnP/1.0 Huawei-ATP-IGD\n      Manufacturer: Huawei\n      Model Name: HG8245H\n"
    found = N.upnp_info_evidence(out)
    assert [(e.kind, e.value) for e in found] == [("upnp.server", "Linux UPnP/1.0 Huawei-ATP-IGD"),
                                                  ("upnp.manufacturer", "Huawei"), ("upnp.model", "HG8245H")]
    assert N.upnp_info_evidence(io.StringIO("").read()) == []


def test_udp_discovery_answers_in_a_fingerprint_go_to_their_modules() -> None:
    reply = (b'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><DeviceDescription>DS-2CD2385G1-I</DeviceDescription>'
             b"<DeviceSN>DS-2CD2385G1-I20200414AAWRE33842150</DeviceSN></ProbeMatch>")
    fp = f'SF-Port37020-UDP:V=7.93%I=7%r(Help,{len(reply):x},"{nmap_escape(reply)}");'
    found = N.servicefp_evidence(fp, port=37020, protocol="udp", service=None)
    assert {(e.kind, e.value) for e in found} == {("sadp.model", "DS-2CD2385G1-I"),
                                                  ("sadp.serial", "DS-2CD2385G1-I20200414AAWRE33842150")}
    assert N.servicefp_evidence(fp, port=9, protocol="udp", service=None) == []  # nobody owns port 9
