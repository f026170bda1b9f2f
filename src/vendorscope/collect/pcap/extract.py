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
Each distinct (kind, value, keys, and for an HTTP body the path it answers) is emitted once,
with the frame and time it was first seen and a ``count`` of the frames that repeated it, so a long
capture yields thousands of observations, not millions. The table is bounded:
when it holds ``max_distinct`` entries it is emitted and started afresh.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vendorscope.collect.pcap import ip
from vendorscope.collect.pcap.errors import DecodeError, SkipReport
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
from vendorscope.collect.pcap.reader import EPB, ProgressCallback, Run, read_frames
from vendorscope.collect.pcap.snmp_walks import LldpWalks
from vendorscope.collect.pcap.tcp import Reassembler, Stream
from vendorscope.evidence import arp, cdp, dhcp, dhip, lldp, mdns, nbns, sadp, sip, snmp, upnp, wsdiscovery
from vendorscope.evidence.record import Evidence, is_unicast_mac
from vendorscope.model import AssetKeys, Observation

OWN, LINK, IP = "own", "link", "ip"
MAX_DISTINCT = 100_000
MAX_BINDINGS = 262_144
# Parsed TCP messages remembered (see Extractor._deliver_stream): at most 2,048 of at most 4 KiB.
MEMO_ENTRIES = 2_048
MEMO_MESSAGE = 4_096
BINDING_KINDS = frozenset({"arp.ip", "dhcp.ip", "ndp.ip", "lldp.mgmt_addr", "cdp.address"})
_MISSING = object()
# The fast path's fields: an untagged Ethernet frame (14 bytes) with an IPv4 header without options.
_ETH = 14
_FAST_IPV4 = b"\x08\x00\x45"  # EtherType IPv4, version 4 with a 20-byte header
_FAST_TCP = _ETH + ip.V4_MIN_HEADER
_FAST_MIN = _FAST_TCP + ip.TCP_MIN_HEADER

# The walkers' one unpack per record: its header, then the fields of an Ethernet/IPv4/TCP packet
# (offsets as in ip.py): source MAC (6 bytes), EtherType + version/IHL (3), total length (2 bytes,
# network order whatever the header's), the fragment bytes, protocol, addresses + ports (12: the
# TCP stream key), data offset, flags. Bytes past a short packet are read, never used.
_PACKET_FIELDS = "6x6s3sxBB2xBBxB2x12s8xBB"
_EPB_FAST = {e: struct.Struct(e + "IIIIIII" + _PACKET_FIELDS) for e in "<>"}
_PCAP_FAST = {e: struct.Struct(e + "IIII" + _PACKET_FIELDS) for e in "<>"}
_EPB_FAST_SIZE = _EPB_FAST["<"].size
_PCAP_FAST_SIZE = _PCAP_FAST["<"].size

UdpDecoder = Callable[[bytes], list[Evidence]]
# port → (decoder, key policy, protocol name), from the ports each evidence module declares;
# multicast-only policies are upgraded per packet.
UDP_DECODERS: dict[int, tuple[UdpDecoder, str, str]] = {
    **{port: (dhcp.decode_dhcp, OWN, "dhcp") for port in dhcp.PORTS},
    **{port: (dhcp.decode_dhcp6, LINK, "dhcpv6") for port in dhcp.DHCP6_PORTS},
    **{port: (mdns.decode_mdns, LINK, "mdns") for port in mdns.PORTS},
    **{port: (mdns.decode_llmnr, LINK, "llmnr") for port in mdns.LLMNR_PORTS},
    **{port: (nbns.decode_nbns, LINK, "nbns") for port in nbns.PORTS},
    **{port: (upnp.decode_ssdp, IP, "ssdp") for port in upnp.PORTS},
    **{port: (snmp.decode_snmp, IP, "snmp") for port in snmp.PORTS},
    **{port: (sip.parse_sip, IP, "sip") for port in sip.PORTS},
    **{port: (sadp.decode_sadp, IP, "sadp") for port in sadp.PORTS},
    **{port: (dhip.decode_dhip, IP, "dhip") for port in dhip.PORTS},
    **{port: (wsdiscovery.decode_wsdiscovery, IP, "wsdiscovery") for port in wsdiscovery.PORTS},
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
    seen: dict[tuple[str, str, str | None, str | None, str | None, str | None, str | None], _Seen] = field(
        default_factory=dict)
    macs: dict[bytes, list[Any]] = field(default_factory=dict)  # src MAC + VLAN tags → [frame, ts, count]
    bindings: dict[str, set[str]] = field(default_factory=dict)
    unknown_link_types: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.source = f"pcap:{self.name}"
        self.tcp = Reassembler(self._deliver_stream)
        self.lldp_walks = LldpWalks()
        # Short TCP messages already parsed → their evidence (see _deliver_stream)
        self.parsed: dict[tuple[str, str | None, bytes], list[Evidence]] = {}

    # -- recording ----------------------------------------------------------

    def add(self, ev: Evidence, policy: str, frame: int, ts: float, l2src: bytes | None, src_ip: str | None,
            protocol: str, **context: Any) -> None:
        mac_key, ip_key = ev.mac, ev.ip
        if not ev.third_party and policy != OWN:
            if policy == LINK and mac_key is None and l2src is not None and (ip_key is None or ip_key == src_ip):
                mac_key = l2src.hex(":") if is_unicast_mac(l2src) else None
            if ip_key is None:
                ip_key = src_ip
        # The path an answer came from is part of what it says (the same 404 page under /ISAPI/… and
        # under /api/… are two answers, as the probe records them).
        path = ev.context.get("path") if ev.context else None
        key = (ev.kind, ev.value, mac_key, ip_key, ev.hostname, ev.serial, path)
        entry = self.seen.get(key)
        if entry is not None:
            entry.count += 1
            return
        self.seen[key] = _Seen(frame, ts, l2src, {"protocol": protocol, **context, **ev.context}
                               if ev.context else {"protocol": protocol, **context})
        if mac_key and ip_key and (ev.kind in BINDING_KINDS or policy == LINK):
            macs = self.bindings.get(ip_key)
            if macs is not None:
                macs.add(mac_key)
            elif len(self.bindings) < MAX_BINDINGS:
                self.bindings[ip_key] = {mac_key}

    def _add_all(self, found: list[Evidence], policy: str, frame: int, ts: float, l2src: bytes | None,
                 src_ip: str | None, protocol: str, **context: Any) -> None:
        for ev in found:
            self.add(ev, policy, frame, ts, l2src, src_ip, protocol, **context)

    def _deliver_stream(self, stream: Stream, message: bytes, path: str | None) -> None:
        assert stream.parser is not None
        # Keep-alive polling repeats the same short requests and answers on every connection: each
        # distinct HTTP/RTSP message (whose reading depends on its bytes and path only, not on ports)
        # is parsed once (bounded: short messages only, the table emptied when full).
        memo_key = (stream.parser.name, path, message) \
            if stream.parser.length is not None and len(message) <= MEMO_MESSAGE else None
        found = self.parsed.get(memo_key) if memo_key is not None else None
        if found is None:
            try:
                found = stream.parser.parse(message, stream.sport, stream.dport, path)
            except DecodeError as exc:
                self.report.add(f"{exc} ({stream.parser.name})", self.name, frame=stream.frame)
                return
            if memo_key is not None:
                if len(self.parsed) >= MEMO_ENTRIES:
                    self.parsed.clear()
                self.parsed[memo_key] = found
        self._add_all(found, IP, stream.frame, stream.ts, stream.l2src, stream.src, stream.parser.name,
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
        for (kind, value, mac_key, ip_key, hostname, serial, _path), seen in self.seen.items():
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
        """Read one file; yields observations when the table fills up and at the end.

        Runs of well-formed records are walked in place (:meth:`_walk_pcapng`, :meth:`_walk_pcap`);
        frames the reader hands over one by one go through :meth:`_frame`.
        """
        report, name = self.report, self.name
        macs, seen = self.macs, self.seen
        frame_of = self._frame
        frame = 0
        try:
            for item in read_frames(path, report, name, progress, part, runs=True):
                if item.__class__ is Run:
                    run: Run = item
                    full = self._walk_pcapng(run) if run.trailer is not None else self._walk_pcap(run)
                    frame = run.frame
                    if full:
                        yield from self.drain()
                    continue
                frame, ts, link_type, data, orig = item  # type: ignore[misc]
                if frame_of(frame, ts, link_type, data, orig) and not frame & 0x3FF \
                        and len(seen) + len(macs) >= self.max_distinct:
                    yield from self.drain()  # checked every 1,024 frames: bounded, and cheap
        finally:
            report.frames += frame
        self.tcp.flush()
        self._flush_lldp_walks()
        yield from self.drain()

    # The walkers take the common frames in place, in as few steps as possible: a TCP segment in an
    # untagged Ethernet/IPv4 frame without options, of a direction that is read no more (or a bare
    # ACK); a UDP datagram in such a frame for a port no decoder reads. Any other
    # frame is cut out of the buffer and given to :meth:`_frame`, as the reader would have given it.
    # Both walkers hold the same steps; only the record header differs (a loop per format, not a
    # call per frame).

    def _walk_pcapng(self, run: Run) -> bool:
        """Walk the EPBs of ``run``; True when the table is full (``run`` tells where it stopped)."""
        buf, pos, frame = run.buf, run.pos, run.frame
        links, units, offsets, trailer = run.links, run.units, run.offsets, run.trailer
        assert trailer is not None
        head = _EPB_FAST[run.endian].unpack_from
        end_buf, n_ifaces = len(buf), len(links)
        macs, seen = self.macs, self.seen
        macs_get, streams_get, udp_get = macs.get, self.tcp.streams.get, UDP_DECODERS.get
        report, name, frame_of, tcp = self.report, self.name, self._frame, self._tcp
        missing, fast_ipv4, ending = _MISSING, _FAST_IPV4, ip.SYN | ip.FIN | ip.RST
        full = False
        # One unpack reads the block header and the packet's Ethernet/IPv4/TCP fields (bytes
        # past a short packet are read but not used: the lengths are checked first).
        while pos + _EPB_FAST_SIZE <= end_buf:
            (btype, blen, iface_id, ts_hi, ts_lo, caplen, orig, l2src, ethertype_version, total_high, total_low,
             frag_high, frag_low, proto, key, doff, flags) = head(buf, pos)
            end = pos + blen
            if (btype != EPB or blen & 3 or end > end_buf or caplen > blen - 32 or iface_id >= n_ifaces
                    or not caplen or trailer(buf, end - 4)[0] != blen):
                break
            frame += 1
            d = pos + 28  # the packet's first byte
            pos = end
            link_type = links[iface_id]
            if link_type == 1 and ethertype_version == fast_ipv4 and caplen >= 42 \
                    and not (frag_high & 0x1F or frag_low):
                if proto == 6 and caplen >= 54:
                    mac = macs_get(l2src)
                    if mac is None:
                        macs[l2src] = [frame, (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id], 1]
                    else:
                        mac[2] += 1
                    state = streams_get(key, missing)
                    if state is None:
                        continue
                    doff, total = (doff >> 4) * 4, (total_high << 8) | total_low
                    if not flags & ending and total <= 20 + doff:
                        continue  # a bare ACK: nothing to read, whether the stream is read or not
                    try:
                        tcp(key, buf[d : d + caplen], 26, 4, 34, 34 + doff, min(14 + total, caplen), flags, frame,
                            (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id], l2src, caplen < orig)
                    except DecodeError as exc:
                        report.add(str(exc), name, frame=frame)
                    continue
                if proto == 17 and ((total_high << 8) | total_low) >= 28 and udp_get((key[10] << 8) | key[11]) is None \
                        and udp_get((key[8] << 8) | key[9]) is None:
                    mac = macs_get(l2src)
                    if mac is None:
                        macs[l2src] = [frame, (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id], 1]
                    else:
                        mac[2] += 1
                    continue
            if frame_of(frame, (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id], link_type,
                        buf[d : d + caplen], orig) and not frame & 0x3FF and len(seen) + len(macs) >= self.max_distinct:
                full = True
                break
        run.pos, run.frame = pos, frame
        return full

    def _walk_pcap(self, run: Run) -> bool:
        """Walk the records of ``run``; True when the table is full (``run`` tells where it stopped)."""
        buf, pos, frame, last = run.buf, run.pos, run.frame, run.last
        link_type, unit, limit, frac_limit = run.links[0], run.units[0], run.limit, run.frac_limit
        head = _PCAP_FAST[run.endian].unpack_from
        end_buf = len(buf)
        ethernet = link_type == 1
        macs, seen = self.macs, self.seen
        macs_get, streams_get, udp_get = macs.get, self.tcp.streams.get, UDP_DECODERS.get
        report, name, frame_of, tcp = self.report, self.name, self._frame, self._tcp
        missing, fast_ipv4, ending = _MISSING, _FAST_IPV4, ip.SYN | ip.FIN | ip.RST
        full = False
        while pos + _PCAP_FAST_SIZE <= end_buf:
            (sec, frac, caplen, orig, l2src, ethertype_version, total_high, total_low, frag_high, frag_low, proto, key,
             doff, flags) = head(buf, pos)
            end = pos + 16 + caplen
            if caplen > limit or frac >= frac_limit or not caplen or end > end_buf:
                break
            frame += 1
            last = pos
            d = pos + 16  # the packet's first byte
            pos = end
            if ethernet and ethertype_version == fast_ipv4 and caplen >= 42 and not (frag_high & 0x1F or frag_low):
                if proto == 6 and caplen >= 54:
                    mac = macs_get(l2src)
                    if mac is None:
                        macs[l2src] = [frame, sec + frac * unit, 1]
                    else:
                        mac[2] += 1
                    state = streams_get(key, missing)
                    if state is None:
                        continue
                    doff, total = (doff >> 4) * 4, (total_high << 8) | total_low
                    if not flags & ending and total <= 20 + doff:
                        continue  # a bare ACK: nothing to read, whether the stream is read or not
                    try:
                        tcp(key, buf[d : d + caplen], 26, 4, 34, 34 + doff, min(14 + total, caplen), flags, frame,
                            sec + frac * unit, l2src, caplen < orig)
                    except DecodeError as exc:
                        report.add(str(exc), name, frame=frame)
                    continue
                if proto == 17 and ((total_high << 8) | total_low) >= 28 and udp_get((key[10] << 8) | key[11]) is None \
                        and udp_get((key[8] << 8) | key[9]) is None:
                    mac = macs_get(l2src)
                    if mac is None:
                        macs[l2src] = [frame, sec + frac * unit, 1]
                    else:
                        mac[2] += 1
                    continue
            if frame_of(frame, sec + frac * unit, link_type, buf[d : d + caplen], orig) and not frame & 0x3FF \
                    and len(seen) + len(macs) >= self.max_distinct:
                full = True
                break
        run.pos, run.frame, run.last = pos, frame, last
        return full

    def _frame(self, frame: int, ts: float, link_type: int, data: bytes, orig: int) -> bool:
        """One frame; True when it went the whole way (the caller then checks whether the table is full)."""
        report, name = self.report, self.name
        macs = self.macs
        macs_get = macs.get
        l2src: bytes | None
        mac_key: bytes | None
        # The fast path's offsets as locals: as cheap as literals, named once in ip.py.
        eth, fast_ipv4, fast_tcp, fast_min = _ETH, _FAST_IPV4, _FAST_TCP, _FAST_MIN
        v4_proto, v4_frag, v4_len, v4_src = _ETH + ip.V4_PROTOCOL, _ETH + ip.V4_FLAGS_FRAGMENT, \
            _ETH + ip.V4_TOTAL_LENGTH, _ETH + ip.V4_SRC
        v4_frag_low, v4_len_low = v4_frag + 1, v4_len + 1
        key_end, tcp_offset, tcp_flags = _FAST_TCP + ip.TCP_DPORT + 2, _FAST_TCP + ip.TCP_DATA_OFFSET, \
            _FAST_TCP + ip.TCP_FLAGS
        proto_tcp, ending, v4_min = ip.PROTO_TCP, ip.SYN | ip.FIN | ip.RST, ip.V4_MIN_HEADER
        proto_udp, udp_header, udp_sport, udp_dport = ip.PROTO_UDP, ip.UDP_HEADER, ip.UDP_SPORT, ip.UDP_DPORT
        udp_decoders_get = UDP_DECODERS.get
        fast_udp_min, fast_udp_dport = _FAST_TCP + ip.UDP_HEADER, _FAST_TCP + ip.UDP_DPORT
        # The common cases first (the walkers take them in place when the reader gives a run).
        if link_type == LINKTYPE_ETHERNET and data.startswith(fast_ipv4, 12) and len(data) >= fast_min \
                and data[v4_proto] == proto_tcp and not (data[v4_frag] & 0x1F or data[v4_frag_low]):
            l2src = data[6:12]
            seen = macs_get(l2src)
            if seen is None:
                macs[l2src] = [frame, ts, 1]
            else:
                seen[2] += 1
            key = data[v4_src:key_end]
            state = self.tcp.streams.get(key, _MISSING)
            if state is None:
                return False
            if not data[tcp_flags] & ending and \
                    ((data[v4_len] << 8) | data[v4_len_low]) <= v4_min + (data[tcp_offset] >> 4) * 4:
                return False
            try:
                start = fast_tcp + (data[tcp_offset] >> 4) * 4
                end = min(eth + ((data[v4_len] << 8) | data[v4_len_low]), len(data))
                self._tcp(key, data, v4_src, 4, fast_tcp, start, end, data[tcp_flags], frame, ts, l2src,
                          len(data) < orig)
            except DecodeError as exc:
                report.add(str(exc), name, frame=frame)
            return False
        if link_type == LINKTYPE_ETHERNET and data.startswith(fast_ipv4, 12) and len(data) >= fast_udp_min \
                and data[v4_proto] == proto_udp and not (data[v4_frag] & 0x1F or data[v4_frag_low]) \
                and ((data[v4_len] << 8) | data[v4_len_low]) >= fast_udp_min - eth \
                and udp_decoders_get((data[fast_udp_dport] << 8) | data[fast_udp_dport + 1]) is None \
                and udp_decoders_get((data[fast_tcp] << 8) | data[fast_tcp + 1]) is None:
            l2src = data[6:12]
            seen = macs_get(l2src)
            if seen is None:
                macs[l2src] = [frame, ts, 1]
            else:
                seen[2] += 1
            return False
        try:
            # -- link layer: Ethernet without tags inline, everything else via link.py
            vlans: tuple[int, ...] = ()
            if link_type == LINKTYPE_ETHERNET and len(data) >= 14 and \
                    ((data[12] << 8) | data[13]) not in VLAN_TPIDS:
                ethertype, off, l2src = (data[12] << 8) | data[13], 14, data[6:12]
                mac_key = l2src
                if ethertype <= 1500:
                    ethertype = LLC
            else:
                if link_type not in SUPPORTED_LINK_TYPES:
                    self._unknown_link_type(link_type, frame)
                    return False
                ethertype, off, l2src, vlans = link_layer(link_type, data)
                mac_key = l2src + struct.pack(f"!{len(vlans)}H", *vlans) if l2src and vlans else l2src
            if mac_key is not None:
                seen = macs_get(mac_key)
                if seen is None:
                    macs[mac_key] = [frame, ts, 1]
                else:
                    seen[2] += 1
            # -- IPv4 and IPv6
            if ethertype == ETH_IPV4 or ethertype == ETH_IPV6:  # noqa: SIM109 - no tuple per frame
                header = ip.ipv4(data, off) if ethertype == ETH_IPV4 else ip.ipv6(data, off)
                if header is None:
                    return False  # a later fragment: no transport header to read
                if header[0] == proto_udp:  # inline: a third of all frames, most for no decoder
                    l4, end = header[1], header[2]
                    if end - l4 < udp_header:
                        raise DecodeError("truncated UDP header")
                    sport = (data[l4 + udp_sport] << 8) | data[l4 + udp_sport + 1]
                    decoder = udp_decoders_get((data[l4 + udp_dport] << 8) | data[l4 + udp_dport + 1]) \
                        or udp_decoders_get(sport)
                    if decoder is not None:
                        src, addr_len = header[3], header[4]
                        self._udp(decoder, data[l4 + udp_header : end], data[src : src + addr_len],
                                  (link_type == LINKTYPE_ETHERNET and bool(data[0] & 1))
                                  or ip.to_multicast(data, src, addr_len),
                                  frame, ts, l2src, sport)
                else:
                    self._transport(header, data, frame, ts, l2src, len(data) < orig)
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
        return True

    def _unknown_link_type(self, link_type: int, frame: int) -> None:
        self.report.add(f"frames of unsupported link type {link_type}", self.name, frame=frame)
        self.unknown_link_types.add(link_type)

    def _tcp(self, key: bytes, data: bytes, addr: int, addr_len: int, l4: int, start: int, end: int,
             flags: int, frame: int, ts: float, l2src: bytes | None, cut: bool) -> None:
        sport, dport, seq = struct.unpack_from("!HHI", data, l4)
        src = _ip_text(data[addr : addr + addr_len])
        if flags & ip.SYN:
            self.tcp.syn(key, seq, src, sport, dport, frame, ts, l2src)
            return
        if start < end:
            self.tcp.segment(key, seq, data[start:end], cut, bool(flags & (ip.FIN | ip.RST)), src, sport, dport,
                             frame, ts, l2src)
        elif flags & (ip.FIN | ip.RST):
            self.tcp.end(key)

    def _udp(self, decoder: tuple[UdpDecoder, str, str], payload: bytes, src_raw: bytes, multicast: bool,
             frame: int, ts: float, l2src: bytes | None, sport: int) -> None:
        decode, policy, protocol = decoder
        if policy == LINK and not multicast:
            policy = IP  # a unicast answer may have been routed: key by IP only
        if decode is snmp.decode_snmp:  # a walk spans answers: their neighbour rows are joined at the end
            src_ip = _ip_text(src_raw)
            found = self.lldp_walks.read(payload, src_ip, frame, ts, sport)
            if found:
                self._add_all(found, policy, frame, ts, l2src, src_ip, protocol, port=sport)
            return
        found = decode(payload)
        if found:
            self._add_all(found, policy, frame, ts, l2src, _ip_text(src_raw), protocol, port=sport)

    def _flush_lldp_walks(self) -> None:
        """The neighbours each agent's lldpRemTable answers describe, with the frame its walk began in."""
        for agent, walk, found in self.lldp_walks.neighbours():
            self._add_all(found, IP, walk.frame, walk.ts, None, agent, "snmp", port=walk.port, reported_by=agent)

    def _transport(self, header: ip.IpHeader, data: bytes, frame: int, ts: float, l2src: bytes | None,
                   cut: bool) -> None:
        """TCP and ICMPv6 (UDP is read inline in :meth:`frames`)."""
        protocol, l4, end, src, addr_len = header
        if protocol == ip.PROTO_TCP:
            start = ip.tcp_payload_start(data, l4, end)
            flags = data[l4 + ip.TCP_FLAGS]
            if start >= end and not flags & (ip.SYN | ip.FIN | ip.RST):
                return  # a bare ACK
            key = data[src : src + 2 * addr_len] + data[l4 : l4 + 4]
            if self.tcp.streams.get(key, _MISSING) is None:
                return  # this direction is read no more
            self._tcp(key, data, src, addr_len, l4, start, end, flags, frame, ts, l2src, cut)
        elif protocol == ip.PROTO_ICMPV6 and addr_len == 16:
            self._add_all(arp.decode_ndp(data[l4:end], data[src : src + 16]), OWN, frame, ts, l2src, None, "ndp")
