"""The one way out to the network: every probe's packets go through ``Gate``.

``Gate.open`` (TCP and TLS) and ``Gate.udp`` (SNMP) are the only ways a probe
module reaches the network. Each call checks the scope again (the targets were
already checked when they were expanded: defence in depth), takes a slot of
the global and of the per-host concurrency bound and a token of the rate
limit, and writes one audit line per probe. Every exchange runs under the
scope's timeout, so a host that accepts and never answers, resets mid-banner
or streams garbage ends its probe in time and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from vendorscope.collect.probe.audit import AuditSink
from vendorscope.collect.probe.scope import Scope, ScopeViolation
from vendorscope.evidence.record import Evidence
from vendorscope.model import AssetKeys, Observation

SOURCE = "probe"
HEAD_LIMIT = 64 * 1024  # StreamReader separator limit: caps HTTP/RTSP heads and lines


class ProbeFailed(Exception):
    """A probe step ended without an answer; ``outcome`` says how (audited already)."""

    def __init__(self, outcome: str, detail: str = "", connected: Step | None = None) -> None:
        super().__init__(f"{outcome}: {detail}" if detail else outcome)
        self.outcome = outcome
        self.detail = detail
        # The audited connect, when a TCP connection was made all the same (then reset by
        # the peer, or a TLS handshake failed on it): the port is open.
        self.connected = connected


class Malformed(ValueError):
    """The peer answered, but not in the protocol it was asked in."""


def outcome_of(exc: BaseException) -> str:
    """A short audit word for why a step ended."""
    if isinstance(exc, ProbeFailed):
        return exc.outcome
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "closed"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "eof"
    if isinstance(exc, asyncio.LimitOverrunError):
        return "oversized"
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return "tls-error"
    if isinstance(exc, Malformed):
        return "malformed"
    if isinstance(exc, ScopeViolation):
        return "out-of-scope"
    if isinstance(exc, OSError):
        return "unreachable" if exc.errno in (101, 113, 65, 51) else "error"
    return "error"


class TokenBucket:
    """At most ``rate`` acquisitions a second, with a small burst."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate / 20)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:  # FIFO: waiters are served in order
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


@dataclass(slots=True)
class Step:
    """One audited probe: an id that observations carry, and how it ended."""

    id: str
    target: str
    port: int | None
    probe: str
    transport: str = "tcp"
    outcome: str = "ok"
    detail: str | None = None


class Session:
    """One open TCP (or TLS) connection, holding a global and a per-host slot."""

    def __init__(
        self,
        gate: Gate,
        target: str,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        release: Callable[[], None],
        opened_by: Step,
    ) -> None:
        self.gate = gate
        self.target = target
        self.port = port
        self.reader = reader
        self.writer = writer
        self.opened_by = opened_by
        self._release = release
        self.closed = False

    @property
    def tls(self) -> bool:
        return self.writer.get_extra_info("ssl_object") is not None

    def peer_certificate(self) -> bytes | None:
        obj = self.writer.get_extra_info("ssl_object")
        if obj is None:
            return None
        der: bytes | None = obj.getpeercert(binary_form=True)
        return der

    @asynccontextmanager
    async def exchange(self, probe: str, timeout: float | None = None) -> AsyncIterator[Step]:
        """An audited request/answer on this connection, under the probe timeout."""
        step = self.gate.new_step(self.target, self.port, probe)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.gate.scope.timeout if timeout is None else timeout):
                yield step
        except Exception as exc:
            step.outcome = outcome_of(exc)
            step.detail = step.detail or _describe(exc)
            raise ProbeFailed(step.outcome, step.detail or "") from exc
        finally:
            self.gate.finish(step, time.monotonic() - started)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.tls:
                # A hostile peer can stall the TLS close handshake: don't wait for it.
                self.writer.transport.abort()
            else:
                self.writer.close()
            # Collects a reset the peer sent meanwhile (else asyncio logs it as never retrieved).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 0.05)
        finally:
            self._release()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


class Gate:
    """The one way out to the network: scope check, bounds, rate, timeout, audit."""

    def __init__(
        self, scope: Scope, audit: AuditSink, concurrency: int = 256, run_id: str | None = None
    ) -> None:
        self.scope = scope
        self.audit = audit
        self.run_id = run_id or secrets.token_hex(4)
        self._global = asyncio.Semaphore(max(1, concurrency))
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}
        self._bucket = TokenBucket(scope.rate)
        self._ids = itertools.count(1)
        self.steps = 0
        self.connections = 0

    # -- audit -------------------------------------------------------------

    def new_step(self, target: str, port: int | None, probe: str, transport: str = "tcp") -> Step:
        return Step(f"{self.run_id}-{next(self._ids)}", target, port, probe, transport)

    def finish(self, step: Step, duration: float) -> None:
        self.steps += 1
        self.audit.record(
            target=step.target,
            port=step.port,
            probe=step.probe,
            outcome=step.outcome,
            duration=duration,
            transport=step.transport,
            probe_id=step.id,
            detail=step.detail if step.outcome != "ok" else None,
        )

    def refuse(self, target: str, port: int | None, probe: str, transport: str, exc: ScopeViolation) -> None:
        step = self.new_step(target, port, probe, transport)
        step.outcome, step.detail = "out-of-scope", str(exc)
        self.finish(step, 0.0)

    async def pace(self) -> None:
        """One token of the scope's rate, for a request on a connection already open (deep probes)."""
        await self._bucket.take()

    # -- slots -------------------------------------------------------------

    async def _acquire(self, address: str) -> Callable[[], None]:
        host = self._per_host.get(address)
        if host is None:
            host = self._per_host[address] = asyncio.Semaphore(self.scope.per_host)
        self._users[address] = self._users.get(address, 0) + 1
        try:
            await host.acquire()
            try:
                await self._global.acquire()
            except BaseException:
                host.release()
                raise
        except BaseException:
            self._forget(address)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._global.release()
                host.release()
                self._forget(address)

        return release

    def _forget(self, address: str) -> None:
        self._users[address] -= 1
        if not self._users[address]:  # keep memory flat over large ranges
            del self._users[address]
            self._per_host.pop(address, None)

    # -- the gate ----------------------------------------------------------

    async def open(self, target: str, port: int, tls: ssl.SSLContext | None = None) -> Session:
        """Connect to ``target:port`` (then a TLS handshake if ``tls``); raises ProbeFailed.

        A connect that times out is tried again (``retries``); a refusal, an
        unreachable host or a failed handshake answer the same every time. The
        connect and the handshake are audited separately (tcp.connect, tls.handshake),
        and a failed handshake carries the connect step: the port is open all the same."""
        try:
            address = self.scope.check(target, port, "tcp")
        except ScopeViolation as exc:
            self.refuse(str(target), port, "tcp.connect", "tcp", exc)
            raise
        attempts = 1 + self.scope.retries
        for attempt in range(attempts):
            step = self.new_step(address, port, "tcp.connect" if attempt == 0 else "tcp.connect (retry)")
            release = await self._acquire(address)
            started = time.monotonic()
            try:
                await self._bucket.take()
                started = time.monotonic()
                async with asyncio.timeout(self.scope.timeout):
                    reader, writer = await asyncio.open_connection(address, port, limit=HEAD_LIMIT)
            except BaseException as exc:
                release()
                step.outcome, step.detail = outcome_of(exc), _describe(exc)
                self.finish(step, time.monotonic() - started)
                if not isinstance(exc, Exception):
                    raise  # cancelled: stop now
                # A refusal or an unreachable host answers the same every time; a timeout
                # or a reset (accepted, then dropped: the port is open) is worth one more try.
                if step.outcome in ("timeout", "reset") and attempt + 1 < attempts:
                    continue
                raise ProbeFailed(step.outcome, step.detail, step if step.outcome == "reset" else None) from exc
            step.outcome = "open"
            self.finish(step, time.monotonic() - started)
            self.connections += 1
            session = Session(self, address, port, reader, writer, release, step)
            if tls is not None:
                await self._handshake(session, tls)
            return session
        raise AssertionError("unreachable")  # pragma: no cover

    async def _handshake(self, session: Session, tls: ssl.SSLContext) -> None:
        connected = session.opened_by
        step = self.new_step(session.target, session.port, "tls.handshake")
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.scope.timeout):
                # No SNI: the target is an address, and a device's default certificate is the evidence.
                await session.writer.start_tls(tls, server_hostname="", ssl_handshake_timeout=self.scope.timeout)
        except BaseException as exc:
            step.outcome, step.detail = outcome_of(exc), _describe(exc)
            self.finish(step, time.monotonic() - started)
            session.writer.transport.abort()
            await session.aclose()
            if not isinstance(exc, Exception):
                raise
            raise ProbeFailed(step.outcome, step.detail, connected) from exc
        self.finish(step, time.monotonic() - started)
        session.opened_by = step

    @asynccontextmanager
    async def udp(self, target: str, port: int, probe: str, timeout: float) -> AsyncIterator[Step]:
        """Permission to send datagrams to ``target:port`` for one audited probe.

        The UDP probes (SNMP) let their library own the socket; this is where they
        are checked, bounded, rate-limited, timed out and audited."""
        try:
            address = self.scope.check(target, port, "udp")
        except ScopeViolation as exc:
            self.refuse(str(target), port, probe, "udp", exc)
            raise
        release = await self._acquire(address)
        try:
            await self._bucket.take()
            step = self.new_step(address, port, probe, "udp")
            started = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    yield step
            except Exception as exc:
                step.outcome = outcome_of(exc) if step.outcome == "ok" else step.outcome
                step.detail = step.detail or _describe(exc)
                raise ProbeFailed(step.outcome, step.detail) from exc
            finally:
                self.finish(step, time.monotonic() - started)
        finally:
            release()

    # -- evidence ----------------------------------------------------------

    def observe(
        self, step: Step, kind: str, value: str, *, keys: AssetKeys | None = None, **context: Any
    ) -> Observation:
        return self.record(step, Evidence(kind, value, context=context), keys=keys)

    def record(self, step: Step, evidence: Evidence, *, keys: AssetKeys | None = None, **context: Any) -> Observation:
        """The observation of what a protocol module found in this step's answer."""
        if keys is None:
            # Facts about another device (an LLDP neighbour) carry only that device's keys.
            ip = evidence.ip if evidence.third_party else evidence.ip or step.target
            keys = AssetKeys(ip=ip, mac=evidence.mac, hostname=evidence.hostname, serial=evidence.serial)
        merged = {**(evidence.context or {}), **context}
        return Observation(
            kind=evidence.kind,
            value=evidence.value,
            source=SOURCE,
            seen_at=datetime.now(UTC),
            keys=keys,
            context={
                "port": step.port,
                "probe": step.probe,
                "probe_id": step.id,
                **{k: v for k, v in merged.items() if v not in (None, "", [], {})},
            },
        )
