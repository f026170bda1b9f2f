"""RTSP DESCRIBE's session description: rtsp.sdp from the probe (lab recorder with RTSP authentication
off), from a capture of the same answer, the cited vendor lines' rules, and hostile input."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import scapy.all as s
from hypothesis import given, settings
from hypothesis import strategies as st
from lab_fixture import start_lab

from vendorscope.collect.pcap import read_observations
from vendorscope.collect.probe.audit import MemoryAudit
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import load_scope
from vendorscope.evidence import rtsp
from vendorscope.identify.engine import default_engine
from vendorscope.lab import Lab
from vendorscope.lab.capture import _Frames, _tcp_session, write_capture
from vendorscope.lab.profiles import load_profiles
from vendorscope.model import Observation
from vendorscope.pipeline import to_assets

# Session part of the DESCRIBE answer in github.com/bluenviron/mediacommon/issues/144.
HIK_SDP = (b"v=0\r\no=- 1109162014219182 0 IN IP4 0.0.0.0\r\ns=HIK Media Server V5.03.010\r\n"
           b"i=HIK Media Server Session Description : standard\r\ne=NONE\r\nc=IN IP4 0.0.0.0\r\nb=AS:2080\r\n"
           b"t=0 0\r\na=control:*\r\na=range:npt=now-\r\nm=video 0 RTP/AVP 96\r\ni=Video Media\r\n"
           b"a=control:trackID=video\r\na=rtpmap:96 H264/90000\r\n")
DAHUA = "dahua-nvr"
DAHUA_SUMMARY = "s=Media Server\na=packetization-supported:DH\na=rtppayload-supported:DH"


def test_summary_keeps_the_session_lines_that_name_software() -> None:
    assert rtsp.sdp_summary(HIK_SDP) == ("s=HIK Media Server V5.03.010\n"
                                         "i=HIK Media Server Session Description : standard")
    axis = b"v=0\r\ns=Media Presentation\r\ne=NONE\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n"
    assert rtsp.sdp_summary(axis) == "s=Media Presentation"
    assert rtsp.sdp_summary(b"<html>not sdp</html>") is None
    assert rtsp.sdp_evidence(HIK_SDP, "text/html") == []
    assert [e.kind for e in rtsp.sdp_evidence(HIK_SDP, "application/sdp")] == ["rtsp.sdp"]


def test_rules_name_the_cited_makers_and_not_the_generic_names() -> None:
    engine = default_engine()

    def groups(value: str) -> set[str]:
        return {a.group for a in engine.identify(Observation("rtsp.sdp", value, source="test"))}

    assert groups("s=HIK Media Server V5.03.010\ni=HIK Media Server Session Description : standard") == {"hikvision"}
    assert groups(DAHUA_SUMMARY) == {"dahua"}
    assert groups("s=Media Presentation") == set()
    assert groups("s=Media Server\na=tool:libavformat 57.71.100") == set()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=2000))
def test_sdp_reader_on_hostile_bytes(body: bytes) -> None:
    for data in (body, b"v=0\r\n" + body):
        value = rtsp.sdp_summary(data)
        assert value is None or (0 < len(value) <= rtsp.MAX_SDP_VALUE and "\r" not in value)
    rtsp.response_evidence(b"RTSP/1.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n" + body)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = start_lab(profiles=[p for p in load_profiles() if p.name == DAHUA])
    try:
        yield lab
    finally:
        lab.stop()


def describe_answer(host: str, port: int) -> bytes:
    request = f"DESCRIBE rtsp://{host}:{port}/ RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"a=recvonly"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_probe_and_capture_read_the_same_description(lab: Lab, tmp_path: Path) -> None:
    (device,) = lab.devices
    scope = load_scope(lab.write_scope(tmp_path / "scope.toml"))
    report = run_probe(scope, [device.ip], MemoryAudit())
    probed = {o.value for o in report.observations if o.kind == "rtsp.sdp"}
    assert probed == {DAHUA_SUMMARY}
    (asset,) = [a for a in to_assets(report.observations) if device.ip in a.keys.get("ip", ())]
    assert any(a.rule == "rtsp.sdp.dahua.dh_payload" for a in asset.attributions)

    answer = describe_answer(device.ip, device.services["rtsp"])
    frames = _Frames()
    cut = answer.index(b"\r\n\r\n") + 10
    _tcp_session(frames, s, ("02:00:00:00:00:01", "192.0.2.10"), ("02:00:00:00:00:02", "192.0.2.30"),
                 50554, 554, [answer[:cut], answer[cut:]], [b"DESCRIBE rtsp://192.0.2.30/ RTSP/1.0\r\nCSeq: 2\r\n\r\n"])
    pcap = tmp_path / "rtsp.pcap"
    with pcap.open("wb") as out:
        write_capture(out, frames.frames, "pcap")
    captured = {o.value for o in read_observations(pcap) if o.kind == "rtsp.sdp"}
    assert captured == probed
