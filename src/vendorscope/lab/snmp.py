"""SNMP agents serving recorded .snmprec data with pysnmp's own command responder.

One pysnmp engine serves every SNMP device of the lab: each device is a UDP
transport of its own (its IP, port 161), and the MIB instrumentation picks
the device's recorded data by the transport the request came in on. That
keeps hundreds of devices cheap to start; the price is that they share one
snmpEngineID. v2c answers to the lab community, v3 to one user with
authPriv (HMAC-SHA-96 / AES-128-CFB).

.snmprec is snmpsim's format: ``OID|TAG|VALUE`` per line, TAG the BER tag
number (2 Integer32, 4 OctetString, 5 Null, 6 OID, 64 IpAddress, 65 Counter32,
66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64) with an ``x`` suffix when
VALUE is hex.
"""

from __future__ import annotations

import bisect
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyasn1.type.base import Asn1Item
from pysnmp import error as snmp_error
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import instrum

Oid = tuple[int, ...]

SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IF_PHYS_ADDRESS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 6)
LLDP_LOC_CHASSIS_ID: Oid = (1, 0, 8802, 1, 1, 2, 1, 3, 2, 0)

# Security model numbers in pysnmp's execution context.
_COMMUNITY_MODELS = (1, 2)
_USM_MODEL = 3

_TYPES: dict[str, Any] = {
    "2": rfc1902.Integer32,
    "4": rfc1902.OctetString,
    "5": None,
    "6": rfc1902.ObjectIdentifier,
    "64": rfc1902.IpAddress,
    "65": rfc1902.Counter32,
    "66": rfc1902.Gauge32,
    "67": rfc1902.TimeTicks,
    "68": rfc1902.Opaque,
    "70": rfc1902.Counter64,
}


class SnmprecError(ValueError):
    pass


def parse_oid(text: str) -> Oid:
    try:
        oid = tuple(int(part) for part in text.strip().strip(".").split("."))
    except ValueError:
        raise SnmprecError(f"bad OID {text!r}") from None
    if len(oid) < 2:
        raise SnmprecError(f"bad OID {text!r}")
    return oid


def parse_value(tag: str, value: str) -> Asn1Item:
    hexed = tag.endswith("x")
    base = tag[:-1] if hexed else tag
    if base not in _TYPES:
        raise SnmprecError(f"unknown tag {tag!r}")
    kind = _TYPES[base]
    if kind is None:
        return rfc1902.Null("")
    if hexed:
        raw = bytes.fromhex(value)
        if base in ("4", "64", "68"):
            return kind(raw)
        value = raw.decode("ascii")
    if base in ("2", "65", "66", "67", "70"):
        return kind(int(value))
    return kind(value)


def parse_snmprec(text: str, source: str = "snmprec") -> dict[Oid, Asn1Item]:
    """OID → value from .snmprec text; later lines win, blank and # lines are skipped."""
    records: dict[Oid, Asn1Item] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("|", 2)
        if len(parts) != 3:
            raise SnmprecError(f"{source} line {lineno}: expected OID|TAG|VALUE")
        try:
            records[parse_oid(parts[0])] = parse_value(parts[1].strip(), parts[2])
        except (SnmprecError, ValueError) as exc:
            raise SnmprecError(f"{source} line {lineno}: {exc}") from exc
    return records


def load_snmprec(path: Path) -> dict[Oid, Asn1Item]:
    return parse_snmprec(path.read_text(encoding="utf-8"), str(path))


class MibView:
    """Ordered OID → value data of one device, with GET and GETNEXT lookups."""

    def __init__(self, records: Mapping[Oid, Asn1Item], uptime_from: float | None = None) -> None:
        self._values = dict(records)
        self._oids = sorted(self._values)
        self._uptime_from = uptime_from if uptime_from is not None else time.monotonic()

    def __len__(self) -> int:
        return len(self._oids)

    def _value(self, oid: Oid) -> Asn1Item:
        if oid == SYS_UPTIME:  # a live agent's uptime moves
            return rfc1902.TimeTicks(int((time.monotonic() - self._uptime_from) * 100) % 2**32)
        return self._values[oid]

    def get(self, oid: Oid) -> Asn1Item:
        if oid in self._values:
            return self._value(oid)
        column = oid[:-1]
        i = bisect.bisect_left(self._oids, column)
        if i < len(self._oids) and self._oids[i][: len(column)] == column:
            return rfc1905.noSuchInstance
        return rfc1905.noSuchObject

    def next(self, oid: Oid) -> tuple[Oid, Asn1Item]:
        i = bisect.bisect_right(self._oids, oid)
        if i >= len(self._oids):
            return oid, rfc1905.endOfMibView
        found = self._oids[i]
        return found, self._value(found)


def device_records(base: Mapping[Oid, Asn1Item], hostname: str, mac: bytes | None) -> dict[Oid, Asn1Item]:
    """A profile's recorded data made this device's own: its sysName and MAC addresses."""
    records = dict(base)
    records[SYS_NAME] = rfc1902.OctetString(hostname)
    if mac is not None:
        for oid in records:
            if oid[: len(IF_PHYS_ADDRESS)] == IF_PHYS_ADDRESS and len(oid) == len(IF_PHYS_ADDRESS) + 1:
                records[oid] = rfc1902.OctetString(mac[:5] + bytes([(mac[5] + oid[-1] - 1) % 256]))
        if LLDP_LOC_CHASSIS_ID in records:
            records[LLDP_LOC_CHASSIS_ID] = rfc1902.OctetString(mac)
    return records


@dataclass(frozen=True, slots=True)
class SnmpCredentials:
    community: str = "public"
    user: str = "vsuser"
    auth_protocol: str = "SHA"
    auth_key: str = "vs-lab-auth-key"
    priv_protocol: str = "AES"
    priv_key: str = "vs-lab-priv-key"


@dataclass(frozen=True, slots=True)
class _Device:
    view: MibView
    v2c: bool
    v3: bool

    def answers(self, security_model: int) -> bool:
        if security_model in _COMMUNITY_MODELS:
            return self.v2c
        return security_model == _USM_MODEL and self.v3


class _Instrumentation(instrum.AbstractMibInstrumController):
    """Reads the recorded data of whichever device the request arrived at."""

    def __init__(self, agent: SnmpAgent) -> None:
        self._agent = agent

    def _device(self) -> _Device:
        request = self._agent.engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        device = self._agent.devices.get(tuple(request["transportDomain"]))
        if device is None or not device.answers(int(request["securityModel"])):
            # A PySnmpError that is not an SmiError makes the responder send nothing,
            # which is what an agent does with a community or user it does not know.
            raise snmp_error.PySnmpError("not served")
        return device

    def read_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        view = self._device().view
        return [(name, view.get(tuple(name))) for name, _ in var_binds]

    def read_next_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        view = self._device().view
        out = []
        for name, _ in var_binds:
            oid, value = view.next(tuple(name))
            out.append((rfc1902.ObjectName(oid), value))
        return out

    def write_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        self._device()
        raise snmp_error.PySnmpError("read-only lab")  # real agents answer noAccess; silence is fine


class SnmpAgent:
    """The lab's SNMP engine; create it inside the lab's event loop."""

    def __init__(self, credentials: SnmpCredentials) -> None:
        self.engine = engine.SnmpEngine()
        self.devices: dict[tuple[int, ...], _Device] = {}
        config.add_v1_system(self.engine, "lab-community", credentials.community)
        config.add_v3_user(
            self.engine,
            credentials.user,
            _AUTH[credentials.auth_protocol],
            credentials.auth_key,
            _PRIV[credentials.priv_protocol],
            credentials.priv_key,
        )
        snmp_context = context.SnmpContext(self.engine)
        snmp_context.unregister_context_name(b"")
        snmp_context.register_context_name(b"", _Instrumentation(self))
        self._responders = [
            cmdrsp.GetCommandResponder(self.engine, snmp_context),
            cmdrsp.NextCommandResponder(self.engine, snmp_context),
            cmdrsp.BulkCommandResponder(self.engine, snmp_context),
        ]

    def add(self, sock: socket.socket, view: MibView, v2c: bool = True, v3: bool = True) -> None:
        """Serve `view` on a bound UDP socket."""
        domain = udp.DOMAIN_NAME + (len(self.devices) + 1,)
        transport = udp.UdpAsyncioTransport().open_server_mode(sock=sock)
        config.add_transport(self.engine, domain, transport)
        self.devices[tuple(domain)] = _Device(view, v2c, v3)

    async def close(self) -> None:
        dispatcher = self.engine.transport_dispatcher
        if dispatcher is not None:
            dispatcher.close_dispatcher()


_AUTH = {"SHA": config.USM_AUTH_HMAC96_SHA, "MD5": config.USM_AUTH_HMAC96_MD5}
_PRIV = {"AES": config.USM_PRIV_CFB128_AES, "DES": config.USM_PRIV_CBC56_DES}
