"""Frames → observations: dispatch each frame to its protocol decoder, key the evidence to
the right device, count repeats, and report what could not be read.

Which keys a piece of evidence gets
-----------------------------------
A router's MAC is the link-layer source of routed traffic from many IP
addresses, so the MAC in a frame header says who *forwarded* the frame, not
who *wrote* it. Keys therefore follow what each protocol can prove:

* ``OWN`` (ARP, DHCPv4): only the keys the message itself states (the ARP
  sender, the DHCP client hardware address), which stay true through relays.
* ``LINK`` (LLDP, CDP, and mDNS/LLMNR/NBNS/DHCPv6 sent to a link-local
  multicast or broadcast address, which routers never forward): the sender's
  MAC from the frame, and its IP address for IP protocols.
* ``IP`` (TCP banners, TLS certificates, SNMP, SSDP, SIP and unicast answers):
  the source IP address only. At the end of the file, evidence keyed by IP
  also gets the MAC when ARP, DHCP, neighbour discovery or a link-local
  announcement bound that IP to exactly one MAC *and* the frame came from that
  MAC, i.e. the host is on the captured link.

Deduplication
-------------
Each distinct (kind, value, keys) is emitted once, with the frame and time it
was first seen and a ``count`` of the frames that repeated it, so a long
capture yields thousands of observations, not millions. The table is bounded:
when it holds ``max_distinct`` entries it is emitted and started afresh.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vendorscope.collect.pcap import arp, banners, cdp, dhcp, lldp, mdns, nbns, snmp, ssdp
from vendorscope.collect.pcap.errors import DecodeError, SkipReport
from vendorscope.collect.pcap.facts import Fact, is_unicast_mac
from vendorscope.collect.pcap.link import (
    ETH_ARP,
    ETH_IPV4,
    ETH_IPV6,
    ETH_LLDP,
    LINKTYPE_ETHERNET,
    LLC,
    SUPPORTED_LINK_TYPES,
    VLAN_TPIDS,
    link_layer,
)
from vendorscope.collect.pcap.reader import ProgressCallback, read_frames
from vendorscope.collect.pcap.tcp import Reassembler, Stream
from vendorscope.model import AssetKeys, Observation

OWN, LINK, IP = "own", "link", "ip"
MAX_DISTINCT = 100_000
MAX_BINDINGS = 262_144
BINDING_KINDS = frozenset({"arp.ip", "dhcp.ip", "ndp.ip", "lldp.mgmt_addr", "cdp.address"})
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_MAX_IPV6_EXTENSIONS = 8
_TCP, _UDP, _ICMPV6 = 6, 17, 58
_FIN, _SYN, _RST = 0x01, 0x02, 0x04
_MISSING = object()

UdpDecoder = Callable[[bytes], list[Fact]]
# port → (decoder, key policy, protocol name); multicast-only policies are upgraded per packet.
UDP_DECODERS: dict[int, tuple[UdpDecoder, str, str]] = {
    67: (dhcp.decode_dhcp, OWN, "dhcp"),
    68: (dhcp.decode_dhcp, OWN, "dhcp"),
    546: (dhcp.decode_dhcp6, LINK, "dhcpv6"),
    547: (dhcp.decode_dhcp6, LINK, "dhcpv6"),
    5353: (mdns.decode_mdns, LINK, "mdns"),
    5355: (mdns.decode_llmnr, LINK, "llmnr"),
    137: (nbns.decode_nbns, LINK, "nbns"),
    1900: (ssdp.decode_ssdp, IP, "ssdp"),
    161: (snmp.decode_snmp, IP, "snmp"),
    162: (snmp.decode_snmp, IP, "snmp"),
    5060: (banners.parse_sip, IP, "sip"),
}


def _utc(ts: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None  # a damaged timestamp: the evidence still counts, its time does not


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


@dataclass(slots=True)
class _Seen:
    frame: int
    ts: float
    l2src: bytes | None
    context: dict[str, Any]
    count: int = 1


@dataclass
class Extractor:
    """Turns the frames of one capture file into observations (see the module docstring)."""

    name: str
    report: SkipReport
    max_distinct: int = MAX_DISTINCT
    seen: dict[tuple[str, str, str | None, str | None, str | None, str | None], _Seen] = field(
        default_factory=dict)
    macs: dict[bytes, list[Any]] = field(default_factory=dict)  # src MAC + VLAN tags → [frame, ts, count]
    bindings: dict[str, set[str]] = field(default_factory=dict)
    unknown_link_types: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.source = f"pcap:{self.name}"
        self.tcp = Reassembler(self._deliver_stream)

    # -- recording ----------------------------------------------------------

    def add(self, fact: Fact, policy: str, frame: int, ts: float, l2src: bytes | None, src_ip: str | None,
            protocol: str, **context: Any) -> None:
        mac_key, ip_key = fact.mac, fact.ip
        if not fact.third_party and policy != OWN:
            if policy == LINK and mac_key is None and l2src is not None and (ip_key is None or ip_key == src_ip):
                mac_key = l2src.hex(":") if is_unicast_mac(l2src) else None
            if ip_key is None:
                ip_key = src_ip
        key = (fact.kind, fact.value, mac_key, ip_key, fact.hostname, fact.serial)
        entry = self.seen.get(key)
        if entry is not None:
            entry.count += 1
            return
        self.seen[key] = _Seen(frame, ts, l2src, {"protocol": protocol, **context})
        if mac_key and ip_key and (fact.kind in BINDING_KINDS or policy == LINK):
            macs = self.bindings.get(ip_key)
            if macs is not None:
                macs.add(mac_key)
            elif len(self.bindings) < MAX_BINDINGS:
                self.bindings[ip_key] = {mac_key}

    def _add_all(self, facts: list[Fact], policy: str, frame: int, ts: float, l2src: bytes | None,
                 src_ip: str | None, protocol: str, **context: Any) -> None:
        for fact in facts:
            self.add(fact, policy, frame, ts, l2src, src_ip, protocol, **context)

    def _deliver_stream(self, stream: Stream) -> None:
        assert stream.parser is not None
        try:
            facts = stream.parser.parse(bytes(stream.data), stream.sport, stream.dport)
        except DecodeError as exc:
            self.report.add(f"{exc} ({stream.parser.name})", self.name, frame=stream.frame)
            return
        self._add_all(facts, IP, stream.frame, stream.ts, stream.l2src, stream.src, stream.parser.name,
                      port=stream.sport)

    def full(self) -> bool:
        return len(self.seen) + len(self.macs) >= self.max_distinct

    def drain(self) -> Iterator[Observation]:
        """Emit everything recorded so far and start a fresh table."""
        source, file = self.source, self.name
        for raw, (frame, ts, count) in self.macs.items():
            src = raw[:6]
            if not is_unicast_mac(src):
                continue
            mac_text = src.hex(":")
            keys = AssetKeys(mac=mac_text)
            when = _utc(ts)
            yield Observation("mac", mac_text, source, when, keys,
                              {"frame": frame, "file": file, "count": count, "protocol": "ethernet"})
            if len(raw) > 6:
                vlans = struct.unpack(f"!{(len(raw) - 6) // 2}H", raw[6:])
                yield Observation("vlan", "/".join(str(v) for v in vlans), source, when, keys,
                                  {"frame": frame, "file": file, "count": count, "protocol": "802.1q"})
        bound = {ip: next(iter(macs)) for ip, macs in self.bindings.items() if len(macs) == 1}
        for (kind, value, mac_key, ip_key, hostname, serial), seen in self.seen.items():
            if mac_key is None and ip_key is not None and seen.l2src is not None:
                # On-link host: its IP is bound to one MAC, and this frame came from that MAC.
                candidate = bound.get(ip_key)
                if candidate is not None and candidate == seen.l2src.hex(":"):
                    mac_key = candidate
            context = {"frame": seen.frame, "file": file, "count": seen.count, **seen.context}
            yield Observation(kind, value, source, _utc(seen.ts),
                              AssetKeys(mac=mac_key, ip=ip_key, hostname=hostname, serial=serial), context)
        self.seen.clear()
        self.macs.clear()

    # -- frames -------------------------------------------------------------

    def frames(self, path: str, progress: ProgressCallback | None = None,
               part: tuple[int, int, int] | None = None) -> Iterator[Observation]:
        """Read one file; yields observations when the table fills up and at the end."""
        report, name = self.report, self.name
        macs = self.macs
        streams = self.tcp.streams
        vlan_tpids = VLAN_TPIDS
        udp_decoders = UDP_DECODERS
        macs_get, streams_get = macs.get, streams.get
        frame = 0
        l2src: bytes | None
        mac_key: bytes | None
        try:
            for frame, ts, link_type, data, orig in read_frames(path, report, name, progress, part):
                # The common case first, in as few steps as possible: a TCP segment in
                # an untagged Ethernet/IPv4 frame without options, of a direction whose
                # first message was already read (or a bare ACK).
                if link_type == LINKTYPE_ETHERNET and data.startswith(b"\x08\x00\x45", 12) and len(data) >= 54 \
                        and data[23] == 6 and not (data[20] & 0x1F or data[21]):
                    l2src = data[6:12]
                    seen = macs_get(l2src)
                    if seen is None:
                        macs[l2src] = [frame, ts, 1]
                    else:
                        seen[2] += 1
                    key = data[26:38]
                    state = streams_get(key, _MISSING)
                    if state is None:
                        continue
                    if state is _MISSING and not data[47] & 0x07 and \
                            ((data[16] << 8) | data[17]) <= 20 + (data[46] >> 4) * 4:
                        continue
                    try:
                        start, end = 34 + (data[46] >> 4) * 4, min(14 + ((data[16] << 8) | data[17]), len(data))
                        self._tcp(key, data, 26, 4, 34, start, end, data[47], frame, ts, l2src, len(data) < orig)
                    except DecodeError as exc:
                        report.add(str(exc), name, frame=frame)
                    continue
                try:
                    # -- link layer: Ethernet without tags inline, everything else via link.py
                    vlans: tuple[int, ...] = ()
                    if link_type == LINKTYPE_ETHERNET and len(data) >= 14 and \
                            ((data[12] << 8) | data[13]) not in vlan_tpids:
                        ethertype, off, l2src = (data[12] << 8) | data[13], 14, data[6:12]
                        mac_key = l2src
                        if ethertype <= 1500:
                            ethertype = LLC
                    else:
                        if link_type not in SUPPORTED_LINK_TYPES:
                            self._unknown_link_type(link_type, frame)
                            continue
                        ethertype, off, l2src, vlans = link_layer(link_type, data)
                        mac_key = l2src + struct.pack(f"!{len(vlans)}H", *vlans) if l2src and vlans else l2src
                    if mac_key is not None:
                        seen = macs_get(mac_key)
                        if seen is None:
                            macs[mac_key] = [frame, ts, 1]
                        else:
                            seen[2] += 1
                    # -- IPv4
                    if ethertype == ETH_IPV4:
                        if len(data) < off + 20:
                            raise DecodeError("truncated IPv4 header")
                        vihl = data[off]
                        ihl = (vihl & 0x0F) * 4
                        if vihl >> 4 != 4 or ihl < 20:
                            raise DecodeError("bad IPv4 header")
                        if (data[off + 6] & 0x1F) or data[off + 7]:
                            continue  # a later fragment: no transport header to read
                        proto = data[off + 9]
                        l4 = off + ihl
                        end = min(off + ((data[off + 2] << 8) | data[off + 3]), len(data))
                        if proto == _TCP:
                            if end - l4 < 20:
                                raise DecodeError("truncated TCP header")
                            flags = data[l4 + 13]
                            start = l4 + (data[l4 + 12] >> 4) * 4
                            if start >= end and not flags & (_SYN | _FIN | _RST):
                                continue  # a bare ACK
                            key = data[off + 12 : off + 20] + data[l4 : l4 + 4]
                            if streams_get(key, _MISSING) is None:
                                continue  # this direction's first message was already read
                            self._tcp(key, data, off + 12, 4, l4, start, end, flags, frame, ts, l2src,
                                      len(data) < orig)
                        elif proto == _UDP:
                            if end - l4 < 8:
                                raise DecodeError("truncated UDP header")
                            decoder = udp_decoders.get((data[l4 + 2] << 8) | data[l4 + 3]) or \
                                udp_decoders.get((data[l4] << 8) | data[l4 + 1])
                            if decoder is not None:
                                multicast = (link_type == LINKTYPE_ETHERNET and bool(data[0] & 1)) or \
                                    data[off + 16] >= 224 or data[off + 16 : off + 20] == b"\xff\xff\xff\xff"
                                self._udp(decoder, data[l4 + 8 : end], data[off + 12 : off + 16], multicast,
                                          frame, ts, l2src, (data[l4] << 8) | data[l4 + 1])
                    elif ethertype == ETH_IPV6:
                        multicast = link_type == LINKTYPE_ETHERNET and bool(data[0] & 1)
                        self._ipv6(data, off, frame, ts, l2src, multicast, len(data) < orig)
                    elif ethertype == ETH_ARP:
                        self._add_all(arp.decode_arp(data[off:]), OWN, frame, ts, l2src, None, "arp")
                    elif ethertype == ETH_LLDP:
                        self._add_all(lldp.decode_lldp(data[off:]), LINK, frame, ts, l2src, None, "lldp")
                    elif ethertype == LLC and cdp.is_cdp(data[off : off + 8]):
                        self._add_all(cdp.decode_cdp(data[off + 8 :]), LINK, frame, ts, l2src, None, "cdp")
                except DecodeError as exc:
                    cut = " (frame cut by snaplen)" if len(data) < orig else ""
                    report.add(f"{exc}{cut}", name, frame=frame)
                except Exception as exc:  # noqa: BLE001 - hostile bytes must never stop the capture
                    report.add(f"unreadable frame ({type(exc).__name__}: {str(exc)[:60]})", name, frame=frame)
                if not frame & 0x3FF and len(self.seen) + len(macs) >= self.max_distinct:
                    yield from self.drain()  # checked every 1,024 frames: bounded, and cheap
        finally:
            report.frames += frame
        self.tcp.flush()
        yield from self.drain()

    def _unknown_link_type(self, link_type: int, frame: int) -> None:
        self.report.add(f"frames of unsupported link type {link_type}", self.name, frame=frame)
        self.unknown_link_types.add(link_type)

    def _tcp(self, key: bytes, data: bytes, addr: int, addr_len: int, l4: int, start: int, end: int,
             flags: int, frame: int, ts: float, l2src: bytes | None, cut: bool) -> None:
        sport, dport, seq = struct.unpack_from("!HHI", data, l4)
        src = _ip_text(data[addr : addr + addr_len])
        if flags & _SYN:
            self.tcp.syn(key, seq, src, sport, dport, frame, ts, l2src)
            return
        if start < end:
            self.tcp.segment(key, seq, data[start:end], cut, bool(flags & (_FIN | _RST)), src, sport, dport,
                             frame, ts, l2src)
        elif flags & (_FIN | _RST):
            self.tcp.end(key)

    def _udp(self, decoder: tuple[UdpDecoder, str, str], payload: bytes, src_raw: bytes, multicast: bool,
             frame: int, ts: float, l2src: bytes | None, sport: int) -> None:
        decode, policy, protocol = decoder
        if policy == LINK and not multicast:
            policy = IP  # a unicast answer may have been routed: key by IP only
        facts = decode(payload)
        if facts:
            self._add_all(facts, policy, frame, ts, l2src, _ip_text(src_raw), protocol, port=sport)

    def _ipv6(self, data: bytes, off: int, frame: int, ts: float, l2src: bytes | None, multicast: bool,
              cut: bool) -> None:
        if len(data) < off + 40:
            raise DecodeError("truncated IPv6 header")
        if data[off] >> 4 != 6:
            raise DecodeError("bad IPv6 header")
        end = min(off + 40 + ((data[off + 4] << 8) | data[off + 5]), len(data))
        nxt = data[off + 6]
        l4 = off + 40
        for _ in range(_MAX_IPV6_EXTENSIONS):
            if nxt in _IPV6_EXTENSIONS:
                if l4 + 8 > end:
                    raise DecodeError("truncated IPv6 extension header")
                nxt, l4 = data[l4], l4 + (data[l4 + 1] + 1) * 8
            elif nxt == _IPV6_FRAGMENT:
                if l4 + 8 > end:
                    raise DecodeError("truncated IPv6 fragment header")
                if (data[l4 + 2] << 8 | data[l4 + 3]) & 0xFFF8:
                    return  # a later fragment
                nxt, l4 = data[l4], l4 + 8
            else:
                break
        multicast = multicast or data[off + 24] == 0xFF
        if nxt == _TCP:
            if end - l4 < 20:
                raise DecodeError("truncated TCP header")
            flags = data[l4 + 13]
            start = l4 + (data[l4 + 12] >> 4) * 4
            if start >= end and not flags & (_SYN | _FIN | _RST):
                return
            key = data[off + 8 : off + 40] + data[l4 : l4 + 4]
            if self.tcp.streams.get(key, _MISSING) is None:
                return
            self._tcp(key, data, off + 8, 16, l4, start, end, flags, frame, ts, l2src, cut)
        elif nxt == _UDP:
            if end - l4 < 8:
                raise DecodeError("truncated UDP header")
            sport, dport = struct.unpack_from("!HH", data, l4)
            decoder = UDP_DECODERS.get(dport) or UDP_DECODERS.get(sport)
            if decoder is not None:
                self._udp(decoder, data[l4 + 8 : end], data[off + 8 : off + 24], multicast, frame, ts, l2src,
                          sport)
        elif nxt == _ICMPV6:
            self._add_all(arp.decode_ndp(data[l4:end], data[off + 8 : off + 24]), OWN, frame, ts, l2src, None,
                          "ndp")


def read_observations(
    path: str | Path,
    progress: ProgressCallback | None = None,
    report: SkipReport | None = None,
    name: str | None = None,
    max_distinct: int = MAX_DISTINCT,
    jobs: int = 1,
    parallel_min_bytes: int | None = None,
) -> Iterator[Observation]:
    """Every observation in one capture file, deduplicated, with frame numbers.

    Damage is counted in ``report`` (pass one to read it afterwards); a file
    that is not a capture raises :class:`~vendorscope.collect.pcap.errors.NotACaptureError`
    before anything is yielded. With ``jobs`` > 1 a large uncompressed pcapng
    file is read by that many processes (see :mod:`.parallel`).
    """
    from vendorscope.collect.pcap import parallel

    path = str(path)
    report = report if report is not None else SkipReport()
    report.files += 1
    name = name or Path(path).name
    minimum = parallel.PARALLEL_MIN_BYTES if parallel_min_bytes is None else parallel_min_bytes
    plan = parallel.plan_parts(path, jobs, minimum) if jobs > 1 else None
    if plan is not None:
        yield from parallel.read_parallel(path, name, plan, progress, report, max_distinct)
        return
    extractor = Extractor(name, report, max_distinct)
    yield from extractor.frames(path, progress)
