"""SNMP v2c and v3: sysDescr, sysObjectID, sysName, and the LLDP neighbours.

Every credential of the scope is tried at once (a wrong v2c community is
indistinguishable from silence, so trying them one after another would cost a
timeout each); the first that answers, in the scope file's order, is used to
walk the LLDP-MIB remote table (``lldpRemEntry``, 1.0.8802.1.1.2.1.4.1.1):
the neighbours a switch or router sees, reported as observations keyed to
the neighbour (its chassis MAC, management address and system name), not to
the switch. pysnmp owns the UDP socket; :meth:`Gate.udp` checks, bounds,
times out and audits each request. Malformed answers are dropped by pysnmp,
so they end as timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from vendorscope.collect.probe.gate import Gate, ProbeFailed, Step
from vendorscope.collect.probe.scope import ScopeViolation, SnmpV3User
from vendorscope.evidence.snmp import (
    CHASSIS_INDEX,
    ENT_PHYSICAL_CLASS,
    LLDP_REM_ENTRY,
    MAX_ENTITY_ROWS,
    MAX_LLDP_VARBINDS,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    SnmpValue,
    chassis_row,
    inventory_evidence,
    inventory_oids,
    rows_evidence,
    text_of,
)
from vendorscope.model import AssetKeys, Observation

BULK_REPETITIONS = 25

# sysNames too common to tie two records to one device.
GENERIC_NAMES = frozenset({"localhost", "localhost.localdomain", "switch", "router", "default", "unknown", "none"})


@dataclass(frozen=True, slots=True)
class Credential:
    label: str  # what the audit log shows: never the secret
    community: str | None = None
    user: SnmpV3User | None = None


# -- pysnmp at the edge ------------------------------------------------------------


def credentials_of(communities: Iterable[str], users: Iterable[SnmpV3User]) -> list[Credential]:
    out = [Credential(f"v2c community#{i}", community=c) for i, c in enumerate(communities, 1)]
    out.extend(Credential(f"v3 user#{i} ({u.level})", user=u) for i, u in enumerate(users, 1))
    return out


def _plain(value: Any) -> SnmpValue | None:
    """pysnmp values as bytes, dotted OID text or int; None for the no-such/end markers."""
    from pysnmp.proto import rfc1902, rfc1905

    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)):
        return None
    if isinstance(value, rfc1902.ObjectIdentifier):
        return ".".join(str(x) for x in value)
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets())
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class SnmpProber:
    """One pysnmp engine for the whole run."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        scope = gate.scope
        self.credentials = credentials_of(scope.snmp.communities, scope.snmp.v3)
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

            self._engine = SnmpEngine()
        return self._engine

    def prepare(self) -> None:
        """Build the engine and load its MIB view now, before any probe's clock runs:
        both take a CPU-bound half second that would otherwise stall every timer."""
        from pysnmp.hlapi.v3arch.asyncio import ObjectIdentity, ObjectType
        from pysnmp.hlapi.varbinds import CommandGeneratorVarBinds

        CommandGeneratorVarBinds().make_varbinds(
            self.engine.cache, [ObjectType(ObjectIdentity(oid)) for oid in (SYS_DESCR, LLDP_REM_ENTRY)]
        )

    def close(self) -> None:
        if self._engine is not None:
            with contextlib.suppress(Exception):  # closing must not hide the run's result
                self._engine.close_dispatcher()
            self._engine = None

    def _auth(self, credential: Credential) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData

        if credential.community is not None:
            return CommunityData(credential.community, mpModel=1)
        user = credential.user
        assert user is not None
        return UsmUserData(
            user.user,
            authKey=user.auth_key if user.auth_protocol else None,
            privKey=user.priv_key if user.priv_protocol else None,
            authProtocol=_protocols()[0][user.auth_protocol] if user.auth_protocol else None,
            privProtocol=_protocols()[1][user.priv_protocol] if user.priv_protocol else None,
        )

    async def _transport(self, target: str, port: int) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import Udp6TransportTarget, UdpTransportTarget

        kind = Udp6TransportTarget if ":" in target else UdpTransportTarget
        scope = self.gate.scope
        return await kind.create((target, port), timeout=scope.timeout, retries=scope.retries)

    def _ceiling(self) -> float:
        scope = self.gate.scope
        return scope.timeout * (scope.retries + 1) + 1.0

    async def probe(self, target: str, port: int) -> list[Observation]:
        if not self.credentials:
            return []
        answers = await asyncio.gather(*(self._system(target, port, c) for c in self.credentials))
        for credential, answer in zip(self.credentials, answers, strict=True):
            if answer is None:
                continue
            step, values = answer
            out = self._system_observations(step, values, credential)
            out.extend(await self._inventory(target, port, credential))
            out.extend(await self._lldp(target, port, credential))
            return out
        return []

    async def _inventory(self, target: str, port: int, credential: Credential) -> list[Observation]:
        """sysContact, sysLocation, the ENTITY-MIB chassis row and private model OIDs, in a GET of their own:
        an agent that lacks one of them must not cost the system group (v1 agents fail the whole GET)."""
        _step, classes = await self._walk(target, port, credential, ENT_PHYSICAL_CLASS, "entPhysicalClass",
                                          MAX_ENTITY_ROWS)
        chassis = chassis_row(classes)
        oids = inventory_oids(CHASSIS_INDEX if chassis is None else chassis)
        answer = await self._system(target, port, credential, oids, "snmp.get inventory")
        if answer is None:
            return []
        step, values = answer
        version = "v2c" if credential.community is not None else "v3"
        out = []
        for oid, value in values.items():
            if not isinstance(value, bytes):
                continue
            found = inventory_evidence(oid, value)
            if found is not None:
                out.append(self.gate.record(step, found, transport="udp", snmp=version))
        return out

    async def _system(
        self, target: str, port: int, credential: Credential,
        oids: tuple[str, ...] = (SYS_DESCR, SYS_OBJECT_ID, SYS_NAME), probe: str = "snmp.get",
    ) -> tuple[Step, dict[str, SnmpValue]] | None:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd

        try:
            async with self.gate.udp(target, port, f"{probe} {credential.label}", self._ceiling()) as step:
                transport = await self._transport(target, port)
                error, status, _index, varbinds = await get_cmd(
                    self.engine,
                    self._auth(credential),
                    transport,
                    ContextData(),
                    *(ObjectType(ObjectIdentity(oid)) for oid in oids),
                    lookupMib=False,
                )
                if error or status:
                    step.outcome = "timeout" if "timeout" in str(error).lower() else "refused"
                    step.detail = str(error or status)[:200]
                    return None
                values = {str(vb[0]): v for vb in varbinds if (v := _plain(vb[1])) is not None}
                step.outcome = "answered" if values else "empty"
                return (step, values) if values else None
        except (ProbeFailed, ScopeViolation):
            return None
        except Exception:  # noqa: BLE001 - pysnmp raises its own errors on hostile answers
            return None

    def _system_observations(
        self, step: Step, values: dict[str, SnmpValue], credential: Credential
    ) -> list[Observation]:
        out = []
        version = "v2c" if credential.community is not None else "v3"
        for oid, kind in (
            (SYS_DESCR, "snmp.sysdescr"),
            (SYS_OBJECT_ID, "snmp.sysobjectid"),
            (SYS_NAME, "snmp.sysname"),
        ):
            value = values.get(oid)
            if value is None:
                continue
            text = value if kind == "snmp.sysobjectid" and isinstance(value, str) else text_of(value)
            if not text:
                continue
            keys = None
            if kind == "snmp.sysname" and text.lower() not in GENERIC_NAMES:
                # The name other switches' LLDP tables know this device by: it ties them together.
                keys = AssetKeys(ip=step.target, hostname=text)
            out.append(self.gate.observe(step, kind, text, keys=keys, transport="udp", snmp=version))
        return out

    async def _lldp(self, target: str, port: int, credential: Credential) -> list[Observation]:
        step, pairs = await self._walk(target, port, credential, LLDP_REM_ENTRY, "lldpRemTable", MAX_LLDP_VARBINDS)
        if step is None or not pairs:
            return []
        # The neighbours' own keys only (evidence/snmp.py): the agent is who reported them.
        return [self.gate.record(step, found, reported_by=target) for found in rows_evidence(pairs)]

    async def _walk(self, target: str, port: int, credential: Credential, root: str, name: str,
                    limit: int) -> tuple[Step | None, list[tuple[str, SnmpValue]]]:
        """The values under ``root`` (GETBULK), at most ``limit``; what was read before an error or a
        timeout is kept."""
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_walk_cmd

        pairs: list[tuple[str, SnmpValue]] = []
        step: Step | None = None
        try:
            # A walk is several requests: it gets a few timeouts' worth, then keeps what it has.
            async with self.gate.udp(
                target, port, f"snmp.walk {name} {credential.label}", self._ceiling() * 3
            ) as step:
                transport = await self._transport(target, port)
                async for error, status, _index, varbinds in bulk_walk_cmd(
                    self.engine,
                    self._auth(credential),
                    transport,
                    ContextData(),
                    0,
                    min(BULK_REPETITIONS, limit),
                    ObjectType(ObjectIdentity(root)),
                    lexicographicMode=False,
                    lookupMib=False,
                ):
                    if error or status:
                        step.outcome = "error"
                        step.detail = str(error or status)[:200]
                        break
                    for vb in varbinds:
                        value = _plain(vb[1])
                        if value is not None:
                            pairs.append((str(vb[0]), value))
                    if len(pairs) >= limit:
                        step.detail = "truncated"
                        break
                step.outcome = f"{len(pairs)} values" if step.outcome == "ok" else step.outcome
        except (ProbeFailed, ScopeViolation):
            pass
        except Exception:  # noqa: BLE001 - hostile answers must not end the host's probe
            pass
        return step, pairs


@cache
def _protocols() -> tuple[dict[str, Any], dict[str, Any]]:
    from pysnmp.hlapi.v3arch.asyncio import auth

    return (
        {
            "MD5": auth.USM_AUTH_HMAC96_MD5,
            "SHA": auth.USM_AUTH_HMAC96_SHA,
            "SHA224": auth.USM_AUTH_HMAC128_SHA224,
            "SHA256": auth.USM_AUTH_HMAC192_SHA256,
            "SHA384": auth.USM_AUTH_HMAC256_SHA384,
            "SHA512": auth.USM_AUTH_HMAC384_SHA512,
        },
        {
            "DES": auth.USM_PRIV_CBC56_DES,
            "3DES": auth.USM_PRIV_CBC168_3DES,
            "AES": auth.USM_PRIV_CFB128_AES,
            "AES128": auth.USM_PRIV_CFB128_AES,
            "AES192": auth.USM_PRIV_CFB192_AES,
            "AES256": auth.USM_PRIV_CFB256_AES,
        },
    )
