"""The SSH server's KEXINIT: read by the probe from the lab's asyncssh server, and from a capture of the
same bytes (banner and KEXINIT in separate segments), giving the same ssh.kex and ssh.hassh."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import scapy.all as s
from hypothesis import given, settings
from hypothesis import strategies as st
from lab_fixture import start_lab
from probe_servers import ssh_kexinit_packet

from vendorscope.collect.pcap import read_observations
from vendorscope.collect.probe.audit import MemoryAudit
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import load_scope
from vendorscope.collect.probe.ssh import CLIENT_VERSION
from vendorscope.evidence import ssh
from vendorscope.lab import Lab
from vendorscope.lab.capture import _Frames, _tcp_session, write_capture
from vendorscope.lab.profiles import load_profiles

PROFILE = "huawei-ne40e"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = start_lab(profiles=[p for p in load_profiles() if p.name == PROFILE])
    try:
        yield lab
    finally:
        lab.stop()


def server_bytes(host: str, port: int) -> bytes:
    """What the server sends to a client that sends its line: the line, then the KEXINIT."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(CLIENT_VERSION)
        data = b""
        while not ssh.stream_complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_probe_and_capture_read_the_same_ssh_kexinit_packet(lab: Lab, tmp_path: Path) -> None:
    (device,) = lab.devices
    scope = load_scope(lab.write_scope(tmp_path / "scope.toml"))
    audit = MemoryAudit()
    report = run_probe(scope, [device.ip], audit)
    probed = {(o.kind, o.value) for o in report.observations if o.kind in ("ssh.kex", "ssh.hassh")}
    assert {k for k, _ in probed} == {"ssh.kex", "ssh.hassh"}, audit.entries
    steps = [e for e in audit.entries if e["probe"] == "ssh.kexinit"]
    assert steps and steps[0]["outcome"] == "answered"

    raw = server_bytes(device.ip, device.services["ssh"])
    rest = ssh.after_line(raw)
    assert rest is not None
    lists = ssh.kexinit_lists(rest)
    kex, hostkey, enc, mac, comp = lists[0], lists[1], lists[3], lists[5], lists[7]
    assert "curve25519-sha256" in kex or "ecdh-sha2-nistp256" in kex  # asyncssh's real lists
    hassh = hashlib.md5(f"{kex};{enc};{mac};{comp}".encode(), usedforsecurity=False).hexdigest()
    assert ("ssh.hassh", hassh) in probed
    assert ("ssh.kex", f"{kex};{hostkey};{enc};{mac};{comp}"[: ssh.MAX_KEX_VALUE]) in probed

    # The same server bytes in a capture, the line and the KEXINIT in separate segments.
    line_end = len(raw) - len(rest)
    frames = _Frames()
    _tcp_session(frames, s, ("02:00:00:00:00:01", "192.0.2.10"), ("02:00:00:00:00:02", "192.0.2.20"),
                 50022, 22, [raw[:line_end], rest[:40], rest[40:]], [CLIENT_VERSION])
    pcap = tmp_path / "ssh.pcap"
    with pcap.open("wb") as out:
        write_capture(out, frames.frames, "pcap")
    captured = {(o.kind, o.value) for o in read_observations(pcap) if o.kind in ("ssh.kex", "ssh.hassh")}
    assert captured == probed


def test_stream_complete_waits_for_the_whole_packet_and_no_longer() -> None:
    packet = ssh_kexinit_packet(["a", "b", "c", "c", "d", "d", "none", "none", "", ""])
    line = b"SSH-2.0-x\r\n"
    assert not ssh.stream_complete(b"SSH-2.0-x")
    assert not ssh.stream_complete(line)
    assert not ssh.stream_complete(line + packet[:-1])
    assert ssh.stream_complete(line + packet)
    assert ssh.stream_complete(line + ssh_kexinit_packet(["a"] * 10, msg=21))  # not a KEXINIT: nothing to wait for
    assert ssh.stream_complete(line + b"\xff\xff\xff\xff\x00\x14")  # an impossible length
    assert ssh.stream_complete(b"x" * ssh.MAX_LINE)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=400))
def test_stream_readers_on_hostile_bytes(data: bytes, cut: int) -> None:
    full = b"SSH-2.0-x\r\n" + data
    ssh.stream_complete(full[:cut])
    found = ssh.ssh_evidence(full)
    assert found[0].kind == "ssh.banner"
    assert all(len(e.value) <= ssh.MAX_KEX_VALUE for e in found)
