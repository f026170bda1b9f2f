"""Asyncio orchestration of the probes: which probe runs where, and in what order.

Per host, every TCP port of the scope is probed at once (bounded by the
scope's ``per_host``, the global concurrency and the rate, all enforced by
:class:`~vendorscope.collect.probe.gate.Gate`): protocols whose server speaks
first (SSH, Telnet, FTP, SMTP) are recognised by their greeting; silent ports
are asked in HTTP on the same connection, then in TLS or RTSP as the answer
suggests. Well-known client-speaks-first ports (HTTP, HTTPS, RTSP, TLS) skip
the wait for a greeting. SNMP runs beside them on the UDP ports. A probe that
fails ends that line of inquiry, never the host or the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vendorscope.collect.probe import discovery, http, rtsp, ssh, tcp, tls
from vendorscope.collect.probe.audit import AuditSink
from vendorscope.collect.probe.gate import Gate, ProbeFailed
from vendorscope.collect.probe.scope import Scope, ScopeViolation
from vendorscope.collect.probe.snmp import SnmpProber
from vendorscope.evidence import greeting as greeting_evidence
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence import rtsp as rtsp_evidence
from vendorscope.evidence import tls as tls_evidence
from vendorscope.model import Observation

# What a port number suggests, from the ports the evidence modules declare. Only a hint: greetings
# and answers decide.
SERVER_FIRST: dict[int, str] = dict(greeting_evidence.SERVER_FIRST)
CLIENT_FIRST: dict[int, str] = {
    **{port: "http" for port in sorted(http_evidence.PORTS)},
    **{port: "https" for port in sorted(http_evidence.TLS_PORTS)},
    **{port: "tls" for port in sorted(tls_evidence.PORTS)},
    **{port: "rtsp" for port in sorted(rtsp_evidence.PORTS)},
}


# -- orchestration -------------------------------------------------------------


@dataclass(slots=True)
class HostResult:
    target: str
    observations: list[Observation] = field(default_factory=list)
    open_ports: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ProbeReport:
    observations: list[Observation]
    hosts: list[HostResult]
    started_at: datetime
    finished_at: datetime
    probes: int
    connections: int
    run_id: str

    @property
    def stats(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "hosts": len(self.hosts),
            "hosts_answering": sum(1 for h in self.hosts if h.observations),
            "probes": self.probes,
            "connections": self.connections,
            "observations": len(self.observations),
            "seconds": round((self.finished_at - self.started_at).total_seconds(), 3),
        }


@dataclass(frozen=True, slots=True)
class PlannedHost:
    target: str
    tcp_ports: tuple[int, ...]
    udp_ports: tuple[int, ...]
    probes: tuple[str, ...]


def plan(scope: Scope, targets: Sequence[str]) -> list[PlannedHost]:
    """What a run would probe (for --dry-run): every target is checked, nothing is sent."""
    probes = ["tcp.connect"]
    names = {SERVER_FIRST.get(p) or CLIENT_FIRST.get(p) or "banner/http/tls" for p in scope.ports}
    probes.extend(sorted(names))
    if _snmp_ports(scope) and scope.snmp:
        probes.append("snmp")
    probes.extend(discovery.PROTOCOLS[p].name for p in _discovery_ports(scope))
    udp = tuple(p for p in scope.udp_ports if p in _discovery_ports(scope) or (scope.snmp and p in _snmp_ports(scope)))
    hosts = []
    for target in targets:
        address = scope.check(target)
        hosts.append(PlannedHost(address, scope.ports, udp, tuple(probes)))
    return hosts


def _discovery_ports(scope: Scope) -> tuple[int, ...]:
    """The scope's UDP ports a vendor discovery protocol owns (asked with that protocol, not SNMP)."""
    return tuple(p for p in scope.udp_ports if p in discovery.PROTOCOLS)


def _snmp_ports(scope: Scope) -> tuple[int, ...]:
    return tuple(p for p in scope.udp_ports if p not in discovery.PROTOCOLS)


def default_concurrency() -> int:
    """Half the open-file limit, at most 512: one socket per slot, room for the rest."""
    soft = 1024
    try:
        import resource

        limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft = 4096 if limit == resource.RLIM_INFINITY else limit
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    return max(8, min(512, soft // 2 - 16))


async def probe_targets(
    scope: Scope,
    targets: Sequence[str],
    audit: AuditSink,
    *,
    concurrency: int | None = None,
    on_host: Callable[[HostResult], None] | None = None,
) -> ProbeReport:
    """Probe every target (already expanded by ``scope.expand``) and collect observations."""
    for target in targets:  # refuse the whole run before the first packet
        scope.check(target)
    concurrency = concurrency or default_concurrency()
    gate = Gate(scope, audit, concurrency)
    started = datetime.now(UTC)
    results: list[HostResult] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for target in targets:
        queue.put_nowait(target)
    snmp = SnmpProber(gate) if scope.snmp and _snmp_ports(scope) else None
    if snmp is not None:
        snmp.prepare()

    async def worker() -> None:
        while True:
            try:
                target = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            result = await probe_host(gate, target, snmp)
            results.append(result)
            if on_host is not None:
                on_host(result)

    # Hosts in flight: enough to keep every connection slot busy.
    workers = max(1, min(len(targets), concurrency))
    segment_observations: list[Observation] = []
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
        # Multicast only where the scope file names the segment (allow_multicast); never otherwise.
        for segment in scope.allow_multicast:
            for port in _discovery_ports(scope):
                segment_observations.extend(await discovery.multicast(gate, segment, port))
    finally:
        if snmp is not None:
            snmp.close()
    order = {t: i for i, t in enumerate(targets)}
    results.sort(key=lambda r: order.get(r.target, 0))
    observations = [o for r in results for o in r.observations] + segment_observations
    return ProbeReport(
        observations, results, started, datetime.now(UTC), gate.steps, gate.connections, gate.run_id
    )


def run_probe(
    scope: Scope,
    targets: Sequence[str],
    audit: AuditSink,
    *,
    concurrency: int | None = None,
    on_host: Callable[[HostResult], None] | None = None,
) -> ProbeReport:
    return asyncio.run(probe_targets(scope, targets, audit, concurrency=concurrency, on_host=on_host))


async def probe_host(gate: Gate, target: str, snmp: SnmpProber | None = None) -> HostResult:
    """Every TCP port and SNMP credential of the scope against one host."""
    result = HostResult(target)
    tasks = [probe_tcp_port(gate, target, port) for port in gate.scope.ports]
    if snmp is not None:
        tasks.extend(snmp.probe(target, port) for port in _snmp_ports(gate.scope))
    tasks.extend(discovery.probe_discovery(gate, target, port) for port in _discovery_ports(gate.scope))
    seen: set[tuple[str, str, Any]] = set()
    for found in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(found, BaseException):
            if not isinstance(found, Exception):
                raise found
            # One probe's bug must not lose the host's other evidence; the audit log keeps it.
            step = gate.new_step(target, None, "probe")
            step.outcome, step.detail = "error", f"{type(found).__name__}: {found}"
            gate.finish(step, 0.0)
            continue
        for obs in found:
            key = (obs.kind, obs.value, obs.context.get("port"))
            if key in seen:
                continue
            seen.add(key)
            result.observations.append(obs)
            if obs.kind == "tcp.open":
                result.open_ports.append(int(obs.value))
    result.open_ports.sort()
    return result


async def probe_tcp_port(gate: Gate, target: str, port: int) -> list[Observation]:
    """Connect, then learn what speaks on the port: greeting, HTTP, TLS or RTSP."""
    hint = SERVER_FIRST.get(port) or CLIENT_FIRST.get(port)
    if hint in ("http", "https", "rtsp", "tls"):
        return await _client_first(gate, target, port, hint)
    wait = gate.scope.timeout if hint else gate.scope.greeting_wait
    try:
        session = await gate.open(target, port)
    except ScopeViolation:
        return []
    except ProbeFailed as exc:
        return [gate.observe(exc.connected, "tcp.open", str(port))] if exc.connected else []
    out = [gate.observe(session.opened_by, "tcp.open", str(port))]
    adopted = False
    try:
        greeting = await tcp.read_greeting_step(
            session, wait, reply=greeting_evidence.telnet_reply, complete=greeting_evidence.greeting_complete
        )
        if greeting.data:
            found = greeting_evidence.classify(port, greeting.data)
            if found is not None:
                out.append(gate.record(greeting.step, found, ended=greeting.end))
                if found.kind == "ssh.banner":
                    out.extend(await ssh.read_kexinit(gate, session, greeting.data))
            if http.looks_like_http(greeting.data):
                out.extend(http.observations_from_raw(gate, greeting.step, greeting.data))
            return out
        if greeting.end != "silent" or hint is not None:
            return out  # closed on us without a word, or a silent server-first service
        # A silent port: ask it in HTTP on the same connection, then TLS or RTSP as it suggests.
        adopted = True
        result = await http.probe_http(gate, target, port, adopt=session)
    except ProbeFailed:
        return out
    finally:
        if not adopted:
            await session.aclose()
    out.extend(result.observations)
    if result.looks_tls:
        out.extend(await _tls_then_http(gate, target, port))
    elif result.looks_rtsp:
        out.extend(await rtsp.probe_rtsp(gate, target, port))
    return out


async def _client_first(gate: Gate, target: str, port: int, hint: str) -> list[Observation]:
    if hint == "rtsp":
        return await rtsp.probe_rtsp(gate, target, port, report_open=True)
    if hint == "tls":
        return await tls.probe_tls(gate, target, port, report_open=True)
    if hint == "https":
        result = await http.probe_http(gate, target, port, tls=tls.client_context(), report_open=True)
        if result.opened or result.refused:
            return result.observations
        # Not TLS after all (handshake failed): try plain HTTP on the same port.
        plain = await http.probe_http(gate, target, port, report_open=True)
        return result.observations + plain.observations
    result = await http.probe_http(gate, target, port, report_open=True)
    out = result.observations
    if result.looks_tls:
        out.extend(await _tls_then_http(gate, target, port))
    elif result.looks_rtsp:
        out.extend(await rtsp.probe_rtsp(gate, target, port))
    return out


async def _tls_then_http(gate: Gate, target: str, port: int) -> list[Observation]:
    result = await http.probe_http(gate, target, port, tls=tls.client_context())
    return result.observations
