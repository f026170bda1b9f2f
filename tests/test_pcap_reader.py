"""The capture reader: formats, compression, link types, and damage of every kind."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import dpkt
import pytest
import scapy.all as s

from vendorscope.collect.pcap import NotACaptureError, SkipReport, read_observations
from vendorscope.collect.pcap.reader import read_frames
from vendorscope.lab.capture import DEMO_PATH, generate, pcap_header, pcap_record, pcapng_header, pcapng_record

T = 1_715_000_000.25
FRAMES = [bytes(s.Ether(src=f"e0:06:30:00:00:{i:02x}", dst="ff:ff:ff:ff:ff:ff")
                / s.ARP(hwsrc=f"e0:06:30:00:00:{i:02x}", psrc=f"10.0.0.{i}", pdst="10.0.0.254"))
          for i in range(1, 21)]


def frames_of(path: Path) -> tuple[list[tuple[int, float, int, bytes, int]], SkipReport]:
    report = SkipReport()
    return list(read_frames(str(path), report)), report


def arp_ips(path: Path) -> set[str]:
    return {o.value for o in read_observations(path) if o.kind == "arp.ip"}


def test_own_writers_pcap_and_pcapng(tmp_path: Path) -> None:
    for name, header, record in (("a.pcap", pcap_header, pcap_record), ("a.pcapng", pcapng_header, pcapng_record)):
        path = tmp_path / name
        path.write_bytes(header(1) + b"".join(record(T + i, f) for i, f in enumerate(FRAMES)))
        frames, report = frames_of(path)
        assert [f[3] for f in frames] == FRAMES
        assert [f[0] for f in frames] == list(range(1, 21))
        assert frames[3][1] == pytest.approx(T + 3, abs=1e-5)
        assert not report


def test_dpkt_and_scapy_writers(tmp_path: Path) -> None:
    """Files written by other libraries: dpkt pcap (nanosecond too), dpkt pcapng, scapy pcapng."""
    for name, nano in (("dpkt.pcap", False), ("dpkt-ns.pcap", True)):
        with open(tmp_path / name, "wb") as f:
            writer = dpkt.pcap.Writer(f, nano=nano)
            for i, frame in enumerate(FRAMES):
                writer.writepkt(frame, ts=T + i)
    with open(tmp_path / "dpkt.pcapng", "wb") as f:
        ng = dpkt.pcapng.Writer(f)
        for i, frame in enumerate(FRAMES):
            ng.writepkt(frame, ts=T + i)
    packets = [s.Ether(f) for f in FRAMES]
    for i, p in enumerate(packets):
        p.time = T + i
    s.wrpcapng(str(tmp_path / "scapy.pcapng"), packets)
    for name in ("dpkt.pcap", "dpkt-ns.pcap", "dpkt.pcapng", "scapy.pcapng"):
        frames, report = frames_of(tmp_path / name)
        assert [f[3] for f in frames] == FRAMES, name
        assert frames[5][1] == pytest.approx(T + 5, abs=1e-3), name
        assert not report, name


def test_big_endian_pcap(tmp_path: Path) -> None:
    header = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    records = b"".join(struct.pack(">IIII", int(T) + i, 5, len(f), len(f)) + f for i, f in enumerate(FRAMES))
    path = tmp_path / "be.pcap"
    path.write_bytes(header + records)
    frames, report = frames_of(path)
    assert len(frames) == 20 and not report


def test_gzip_and_cut_gzip(tmp_path: Path) -> None:
    raw = pcap_header(1) + b"".join(pcap_record(T + i, f) for i, f in enumerate(FRAMES))
    (tmp_path / "a.pcap.gz").write_bytes(gzip.compress(raw))
    assert len(arp_ips(tmp_path / "a.pcap.gz")) == 20
    cut = gzip.compress(raw)[: len(gzip.compress(raw)) // 2]
    (tmp_path / "cut.pcap.gz").write_bytes(cut)
    frames, report = frames_of(tmp_path / "cut.pcap.gz")
    assert 0 < len(frames) < 20
    assert any("compressed stream" in r for r in report.counts)


def test_truncated_file_keeps_earlier_frames(tmp_path: Path) -> None:
    raw = pcap_header(1) + b"".join(pcap_record(T + i, f) for i, f in enumerate(FRAMES))
    path = tmp_path / "cut.pcap"
    path.write_bytes(raw[:-30])
    frames, report = frames_of(path)
    assert len(frames) == 19
    assert report.total == 1 and "file ends inside a record" in next(iter(report.counts))
    assert report.places[next(iter(report.counts))][0].frame == 20


def test_corrupt_pcap_record_length_resyncs(tmp_path: Path) -> None:
    records = [pcap_record(T + i, f) for i, f in enumerate(FRAMES)]
    broken = bytearray(records[5])
    struct.pack_into("<I", broken, 8, 0x7FFFFFF0)  # an impossible captured length
    path = tmp_path / "bad.pcap"
    path.write_bytes(pcap_header(1) + b"".join(records[:5]) + bytes(broken) + b"".join(records[6:]))
    frames, report = frames_of(path)
    assert [f[3] for f in frames] == FRAMES[:5] + FRAMES[6:]
    assert any("corrupt pcap record header" in r for r in report.counts)


def test_corrupt_pcapng_block_resyncs(tmp_path: Path) -> None:
    records = [pcapng_record(T + i, f) for i, f in enumerate(FRAMES)]
    broken = bytearray(records[7])
    struct.pack_into("<I", broken, 4, 64)  # wrong total length: the trailer will not match
    path = tmp_path / "bad.pcapng"
    path.write_bytes(pcapng_header(1) + b"".join(records[:7]) + bytes(broken) + b"".join(records[8:]))
    frames, report = frames_of(path)
    assert [f[3] for f in frames] == FRAMES[:7] + FRAMES[8:]
    assert report.total >= 1


def test_garbage_inside_pcapng_is_skipped(tmp_path: Path) -> None:
    records = [pcapng_record(T + i, f) for i, f in enumerate(FRAMES)]
    path = tmp_path / "garbage.pcapng"
    path.write_bytes(pcapng_header(1) + b"".join(records[:10]) + b"\x13\x37" * 501 + b"".join(records[10:]))
    frames, report = frames_of(path)
    assert [f[3] for f in frames] == FRAMES
    assert report.total >= 1


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a capture\n")
    with pytest.raises(NotACaptureError, match="notes.txt: not a pcap or pcapng capture"):
        list(read_observations(path))
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(NotACaptureError, match="empty file"):
        list(read_observations(empty))


def test_unknown_link_type_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "odd.pcap"
    path.write_bytes(pcap_header(147) + b"".join(pcap_record(T + i, f) for i, f in enumerate(FRAMES[:3])))
    report = SkipReport()
    assert list(read_observations(path, report=report)) == []
    assert report.counts["frames of unsupported link type 147"] == 3


def test_snaplen_cut_frames_are_reported_not_fatal(tmp_path: Path) -> None:
    lldp = bytes.fromhex(
        "0180c200000ee006301a2b0188cc020704e006301a2b01040805474530" "2f302f310602007806")  # cut inside a TLV
    path = tmp_path / "snap.pcap"
    path.write_bytes(pcap_header(1, snaplen=40) + pcap_record(T, lldp, orig=200) + pcap_record(T + 1, FRAMES[0]))
    report = SkipReport()
    observations = list(read_observations(path, report=report))
    assert any(o.kind == "arp.ip" for o in observations)  # the frame after it is read
    (reason,) = report.counts
    assert "LLDP" in reason and "snaplen" in reason


@pytest.mark.parametrize("link", ["sll", "sll2", "raw"])
def test_generated_capture_in_other_link_types(tmp_path: Path, link: str) -> None:
    path = tmp_path / f"lab-{link}.pcap"
    generate(path, size=50_000, fmt="pcap", link=link)
    observations = list(read_observations(path))
    by_kind = {(o.kind, o.value) for o in observations}
    assert ("ssh.banner", "SSH-2.0-HUAWEI-1.5") in by_kind
    assert ("snmp.sysobjectid", "1.3.6.1.4.1.3902.1082.1001.300.2.1") in by_kind
    if link != "raw":  # raw IP carries no link layer: no LLDP, no ARP, no MACs
        assert ("lldp.sysname", "HW-CORE-01") in by_kind
        assert any(o.kind == "mac" and o.value == "e0:06:30:1a:2b:01" for o in observations)
    else:
        assert not any(o.kind == "mac" for o in observations)


def test_dedup_counts_and_bounded_table(tmp_path: Path) -> None:
    path = tmp_path / "rep.pcap"
    path.write_bytes(pcap_header(1) + b"".join(pcap_record(T + i, FRAMES[0]) for i in range(50)))
    (arp_obs,) = [o for o in read_observations(path) if o.kind == "arp.ip"]
    assert arp_obs.context["count"] == 50 and arp_obs.context["frame"] == 1
    assert arp_obs.seen_at is not None and arp_obs.seen_at.tzinfo is not None
    # A table smaller than the evidence is emitted in parts, never lost.
    many = tmp_path / "many.pcap"
    many.write_bytes(pcap_header(1) + b"".join(pcap_record(T + i, f) for i, f in enumerate(FRAMES * 200)))
    small = list(read_observations(many, max_distinct=8))
    assert {o.value for o in small if o.kind == "arp.ip"} == {f"10.0.0.{i}" for i in range(1, 21)}


def test_demo_capture_reads_cleanly() -> None:
    report = SkipReport()
    observations = list(read_observations(DEMO_PATH, report=report))
    assert not report, report.lines()
    assert report.frames > 500
    assert all(o.source == "pcap:demo.pcapng" and isinstance(o.context["frame"], int) for o in observations)
