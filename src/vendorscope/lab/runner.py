"""The lab: emulated devices on their own loopback addresses, served from one background thread.

    with Lab(count=30, base="127.77.5.0/24") as lab:
        lab.write_scope(tmp / "scope.toml")
        for device in lab.devices: ...

Device i gets the i-th host address of `base` and the profile i mod P, so a
lab of any size replicates the profiles. Every socket is bound before a
single server starts: an address that is taken fails at once, naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from vendorscope.lab import discovery, faults, ftp, http, rtsp, smtp, ssh, telnet, tls
from vendorscope.lab.model import (
    DEFAULT_BASE,
    PORT_MODES,
    LabDevice,
    LabError,
    covering_network,
    parse_base,
    plan_addresses,
)
from vendorscope.lab.profiles import DISCOVERY_SERVICES, UDP_SERVICES, Profile, data_path, load_profiles
from vendorscope.lab.snmp import MibView, SnmpAgent, SnmpCredentials, device_records, load_snmprec
from vendorscope.lab.streams import Service

HIGH_PORT_OFFSET = 10000
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LISTEN_BACKLOG = 256

# Probe settings written to the scope file: gentle enough for a laptop, fast on loopback.
SCOPE_DEFAULTS: dict[str, Any] = {"rate": 2000, "per_host": 4, "timeout": 2.0, "retries": 1}


def device_mac(oui: str | None, index: int) -> str | None:
    """OUI + a per-device suffix with room for 16 interface MACs after it."""
    if oui is None:
        return None
    suffix = [(index >> 12) & 0xFF, (index >> 4) & 0xFF, (index & 0xF) << 4]
    return oui.lower() + "".join(f":{b:02x}" for b in suffix)


def privileged_ports_allowed(ip: str) -> bool:
    """Whether this process may bind ports below 1024 (root, or a lowered port floor)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, 1))
        except PermissionError:
            return False
        except OSError:
            return True  # taken or odd: not a permission problem, binding proper will say
    return True


def plan_devices(profiles: list[Profile], addresses: list[str], port_offset: int) -> list[LabDevice]:
    devices = []
    for index, ip in enumerate(addresses):
        profile = profiles[index % len(profiles)]
        round_ = index // len(profiles)
        suffix = "" if round_ == 0 else f"-{round_ + 1}"
        devices.append(
            LabDevice(
                name=profile.name + suffix,
                ip=ip,
                vendor=profile.vendor,
                group=profile.group,
                role=profile.role,
                # Only privileged ports move: the discovery protocols' ports are above 1024 already.
                services={name: port + (port_offset if port < 1024 else 0)
                          for name, port in profile.services().items()},
                conflict=profile.conflict,
                fault=profile.fault,
                hostname=profile.hostname + suffix,
                profile=profile.name,
                product=profile.product,
                mac=device_mac(profile.mac, index),
                label=profile.label,
                udp_services=tuple(s for s in profile.services() if s in UDP_SERVICES),
            )
        )
    return devices


def _toml_list(values: list[Any]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


class Lab:
    """Emulated devices on loopback, served from a background thread with its own event loop."""

    def __init__(
        self,
        count: int | None = None,
        base: str = DEFAULT_BASE,
        state_dir: Path | None = None,
        ports: str = "auto",
        profiles: list[Profile] | None = None,
        faults: bool = True,
    ) -> None:
        if ports not in PORT_MODES:
            raise LabError(f"ports must be one of {', '.join(PORT_MODES)}, not {ports!r}")
        all_profiles = profiles if profiles is not None else load_profiles()
        self.profiles = [p for p in all_profiles if faults or p.fault is None]
        if not self.profiles:
            raise LabError("no device profiles")
        self.network = parse_base(base)
        self.base = str(self.network)
        self.count = count if count is not None else len(self.profiles)
        addresses = plan_addresses(self.network, self.count)
        if ports == "auto":
            ports = "standard" if privileged_ports_allowed(addresses[0]) else "high"
        self.port_offset = HIGH_PORT_OFFSET if ports == "high" else 0
        self.devices: list[LabDevice] = plan_devices(self.profiles, addresses, self.port_offset)
        self.state_dir = state_dir
        self.credentials = SnmpCredentials()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._services: list[Service] = []
        self._sockets: list[socket.socket] = []
        self._tmp: Path | None = None

    # -- public ------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def device(self, name: str) -> LabDevice:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    def by_profile(self, profile: str) -> list[LabDevice]:
        return [d for d in self.devices if d.profile == profile]

    def tcp_ports(self) -> list[int]:
        return sorted({p for d in self.devices for p in d.tcp_ports()})

    def udp_ports(self) -> list[int]:
        return sorted({p for d in self.devices for p in d.udp_ports()})

    def scope_network(self) -> ipaddress.IPv4Network:
        return covering_network([d.ip for d in self.devices], self.network)

    def scope_text(self) -> str:
        """A scope file allowing exactly the lab's addresses and ports."""
        c = self.credentials
        lines = [
            "# Scope for the vendorscope lab: loopback only.",
            "[scope]",
            f"allow = {_toml_list([str(self.scope_network())])}",
            "exclude = []",
            f"ports = {_toml_list(self.tcp_ports())}",
            f"udp_ports = {_toml_list(self.udp_ports())}",
            *(f"{k} = {json.dumps(v)}" for k, v in SCOPE_DEFAULTS.items()),
            "",
            "[snmp]",
            f"communities = {_toml_list([c.community])}",
            "",
            "[[snmp.v3]]",
            f"user = {json.dumps(c.user)}",
            f"auth_protocol = {json.dumps(c.auth_protocol)}",
            f"auth_key = {json.dumps(c.auth_key)}",
            f"priv_protocol = {json.dumps(c.priv_protocol)}",
            f"priv_key = {json.dumps(c.priv_key)}",
        ]
        return "\n".join(lines) + "\n"

    def write_scope(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.scope_text(), encoding="utf-8")
        return path

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "count": self.count,
            "port_offset": self.port_offset,
            "devices": [d.as_dict() for d in self.devices],
        }

    def start(self) -> Lab:
        """Bind every address, start every server; returns once all of them listen."""
        if self.running:
            raise LabError("the lab is already running")
        self._sockets = self._bind_all()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, args=(loop,), name="vendorscope-lab", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start_services(), loop)
        try:
            future.result(timeout=START_TIMEOUT)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, LabError):
                raise
            raise LabError(f"the lab failed to start: {exc!r}") from exc
        return self

    def stop(self) -> None:
        """Stop every server and close every connection. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._stop_services(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)
        self._loop = self._thread = None
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- binding -----------------------------------------------------------

    def _bind_all(self) -> list[socket.socket]:
        bound: list[socket.socket] = []
        try:
            for device in self.devices:
                for service, port in device.services.items():
                    bound.append(self._bind(device, service, port))
        except BaseException:
            for sock in bound:
                sock.close()
            raise
        return bound

    def _bind(self, device: LabDevice, service: str, port: int) -> socket.socket:
        udp = service in device.udp_services
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            if not udp:  # lets a restarted lab rebind past TIME_WAIT; a live listener still conflicts
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((device.ip, port))
            if not udp:
                sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = f"{device.ip}:{port}/{'udp' if udp else 'tcp'} ({device.name} {service})"
            if exc.errno == errno.EADDRINUSE:
                raise LabError(
                    f"{where} is already in use: another lab or server holds it; choose another base"
                ) from None
            if exc.errno == errno.EACCES:
                raise LabError(f"{where}: no permission to bind; use ports='high' (or 'auto')") from None
            raise LabError(f"{where}: {exc.strerror or exc}") from None
        return sock

    # -- serving (inside the lab's thread) ----------------------------------

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _tls_dir(self) -> Path:
        if self.state_dir is not None:
            return Path(self.state_dir) / "tls"
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="vendorscope-lab-"))
        return self._tmp

    async def _start_services(self) -> None:
        profiles = {p.name: p for p in self.profiles}
        sockets = iter(self._sockets)
        host_keys: dict[str, Any] = {}
        tls_contexts: dict[str, Any] = {}
        snmp_data: dict[str, Any] = {}
        agent: SnmpAgent | None = None
        for device in self.devices:
            profile = profiles[device.profile]
            for service in device.services:
                sock = next(sockets)
                if profile.fault is not None:
                    if service in device.udp_services:
                        self._services.append(await faults.start_udp(sock, profile.fault))
                    else:
                        self._services.append(await faults.start_tcp(sock, profile.fault, service))
                    continue
                if service == "ssh":
                    assert profile.ssh is not None
                    if profile.name not in host_keys:
                        host_keys[profile.name] = ssh.host_keys()
                    self._services.append(await ssh.start(sock, profile.ssh, host_keys[profile.name]))
                elif service == "telnet":
                    assert profile.telnet is not None
                    self._services.append(await telnet.start(sock, profile.telnet))
                elif service == "ftp":
                    assert profile.ftp is not None
                    self._services.append(await ftp.start(sock, profile.ftp))
                elif service == "smtp":
                    assert profile.smtp is not None
                    self._services.append(await smtp.start(sock, profile.smtp))
                elif service == "rtsp":
                    assert profile.rtsp is not None
                    self._services.append(await rtsp.start(sock, profile.rtsp))
                elif service in ("http", "https"):
                    web = profile.http if service == "http" else profile.https
                    assert web is not None
                    context = None
                    if web.tls:
                        if profile.name not in tls_contexts:
                            cert, key = tls.make_certificate(
                                web.cert_subject or f"CN={profile.hostname}", web.cert_issuer
                            )
                            tls_contexts[profile.name] = tls.server_context(cert, key, self._tls_dir(), profile.name)
                        context = tls_contexts[profile.name]
                    self._services.append(await http.start(sock, web, profile.name, device.hostname, context))
                elif service == "snmp":
                    assert profile.snmp is not None and profile.snmp.data is not None
                    if agent is None:
                        agent = SnmpAgent(self.credentials)
                        self._services.append(agent)
                    if profile.name not in snmp_data:
                        snmp_data[profile.name] = load_snmprec(data_path("data", "snmp", profile.snmp.data))
                    mac = bytes.fromhex(device.mac.replace(":", "")) if device.mac else None
                    view = MibView(device_records(snmp_data[profile.name], device.hostname, mac))
                    agent.add(sock, view, v2c=profile.snmp.v2c, v3=profile.snmp.v3)
                elif service in DISCOVERY_SERVICES:
                    svc = getattr(profile, service)
                    assert svc is not None
                    self._services.append(await discovery.start(sock, service, svc, device.ip, device.mac))
                else:  # pragma: no cover - profiles.py admits no other service
                    raise LabError(f"{device.name}: no server for {service}")

    async def _stop_services(self) -> None:
        services, self._services = self._services, []
        results = await asyncio.gather(*(s.close() for s in services), return_exceptions=True)
        del results  # a server that fails to close cleanly is gone all the same
