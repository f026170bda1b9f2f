"""Vendor discovery probes: Hikvision SADP, Dahua DHIP and ONVIF WS-Discovery over UDP.

Read-only questions every such device answers to anyone on its segment ("who are you?"):
the SADP ``inquiry``, ``DHDiscover.search`` and a WS-Discovery Probe. They run on the UDP
ports of the scope that a discovery module declares (37020, 37810, 3702): one datagram
unicast to each scoped target, through :meth:`Gate.udp` (scope check, rate, timeout, audit),
and only the target's own answer is read. Multicast, which would reach devices nobody named,
is sent only to the segments a scope file lists in ``allow_multicast``; see :func:`multicast`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from vendorscope.collect.probe.gate import Gate, ProbeFailed
from vendorscope.collect.probe.scope import ScopeViolation
from vendorscope.evidence import dhip, sadp, wsdiscovery
from vendorscope.evidence.record import DecodeError, Evidence
from vendorscope.model import AssetKeys, Observation

MAX_REPLY = 64 * 1024
MAX_REPLIES = 1024  # answers read from one multicast question


@dataclass(frozen=True, slots=True)
class Discovery:
    """One discovery protocol: the question, how to read the answer, where to multicast it."""

    name: str
    request: Callable[[], bytes]
    decode: Callable[[bytes], list[Evidence]]
    group: str


def _sadp_request() -> bytes:
    return sadp.inquiry(str(uuid.uuid4()).upper())


def _wsd_request() -> bytes:
    return wsdiscovery.probe(str(uuid.uuid4()))


# port → protocol, from the ports the evidence modules declare.
PROTOCOLS: dict[int, Discovery] = {
    **{p: Discovery("sadp.inquiry", _sadp_request, sadp.decode_sadp, sadp.MULTICAST_GROUP) for p in sadp.PORTS},
    **{p: Discovery("dhip.search", dhip.search, dhip.decode_dhip, dhip.MULTICAST_GROUP) for p in dhip.PORTS},
    **{p: Discovery("wsdiscovery.probe", _wsd_request, wsdiscovery.decode_wsdiscovery, wsdiscovery.MULTICAST_GROUP)
       for p in wsdiscovery.PORTS},
}


class _Replies(asyncio.DatagramProtocol):
    """Collects datagrams; ``accept`` decides which senders count (the target, or the segment)."""

    def __init__(self, accept: Callable[[str], bool], first_only: bool) -> None:
        self.accept = accept
        self.first_only = first_only
        self.replies: list[tuple[str, bytes]] = []
        self.done = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.accept(addr[0]) or len(self.replies) >= MAX_REPLIES:
            return
        self.replies.append((addr[0], data[:MAX_REPLY]))
        if self.first_only and not self.done.done():
            self.done.set_result(None)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: nobody there
        if not self.done.done():
            self.done.set_exception(exc)


def observations_of(gate_record: Callable[..., Observation], step: object, protocol: Discovery,
                    data: bytes, sender: str) -> list[Observation]:
    try:
        found = protocol.decode(data)
    except DecodeError:
        return []
    out = []
    for ev in found:
        keys = AssetKeys(ip=sender, mac=ev.mac, serial=ev.serial)
        out.append(gate_record(step, ev, keys=keys, transport="udp"))
    return out


async def probe_discovery(gate: Gate, target: str, port: int) -> list[Observation]:
    """Ask one target on one discovery port; its answer's observations (none when it is silent)."""
    protocol = PROTOCOLS.get(port)
    if protocol is None:
        return []
    loop = asyncio.get_running_loop()
    out: list[Observation] = []
    try:
        async with gate.udp(target, port, protocol.name, gate.scope.timeout) as step:
            address = gate.scope.check(target, port, "udp")
            transport, replies = await loop.create_datagram_endpoint(
                lambda: _Replies(lambda sender: sender == address, first_only=True),
                remote_addr=(address, port))
            try:
                transport.sendto(protocol.request())
                await replies.done
            finally:
                transport.close()
            for sender, data in replies.replies:
                out.extend(observations_of(gate.record, step, protocol, data, sender))
            if not out:
                step.outcome, step.detail = "unreadable", f"no {protocol.name.split('.')[0]} answer in the reply"
    except (ProbeFailed, ScopeViolation, OSError):
        return out
    return out


async def multicast(gate: Gate, segment: ipaddress.IPv4Network | ipaddress.IPv6Network, port: int,
                    wait: float | None = None) -> list[Observation]:
    """Ask a whole segment at once: the protocol's multicast group, answers kept only from
    addresses inside ``segment`` and the scope. Refused (ScopeViolation, audited) unless the scope
    lists the segment in ``allow_multicast``."""
    protocol = PROTOCOLS.get(port)
    if protocol is None:
        return []
    try:
        gate.scope.check_multicast(segment, port)
    except ScopeViolation as exc:
        gate.refuse(protocol.group, port, f"{protocol.name} (multicast)", "udp", exc)
        raise
    step = gate.new_step(protocol.group, port, f"{protocol.name} (multicast to {segment})", "udp")
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    def accept(sender: str) -> bool:
        address = ipaddress.ip_address(sender)
        return address in segment and gate.scope.allows(address)

    out: list[Observation] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # never past the first router
        sock.bind(("0.0.0.0", 0))
        transport, replies = await loop.create_datagram_endpoint(lambda: _Replies(accept, first_only=False),
                                                                 sock=sock)
        try:
            transport.sendto(protocol.request(), (protocol.group, port))
            await asyncio.sleep(wait if wait is not None else gate.scope.timeout)
        finally:
            transport.close()
        for sender, data in replies.replies:
            out.extend(observations_of(gate.record, step, protocol, data, sender))
        step.detail = f"{len(replies.replies)} answers"
    except OSError as exc:
        step.outcome, step.detail = "error", str(exc)[:200]
    finally:
        gate.finish(step, time.monotonic() - started)
    return out

