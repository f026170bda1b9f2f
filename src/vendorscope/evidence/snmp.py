"""SNMP v1/v2c responses, informs and traps: sysDescr, sysObjectID, sysName, sysContact,
sysLocation, the ENTITY-MIB chassis names (entPhysicalMfgName, ModelName, SoftwareRev,
SerialNum), the private model OIDs of high-risk vendors (:data:`PRIVATE_MODELS`), and the
LLDP-MIB remote-system table (what the agent knows about its neighbours).

A private model answer becomes ``snmp.private_model`` valued ``<enterprise>:<model>``: the
value says which vendor's MIB answered, so a rule can name the maker from the arc.

A small BER reader: definite lengths only (SNMP forbids the others), bounded
nesting and counts, so hostile bytes fail fast with a DecodeError.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from vendorscope.evidence.record import (
    MAX_VALUE,
    DecodeError,
    Evidence,
    clean_text,
    is_unicast_mac,
    mac_from_text,
    text,
)

PORTS = frozenset({161, 162})  # agents answer on 161, traps and informs go to 162 (UDP)
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
# ENTITY-MIB entPhysicalTable columns (RFC 6933) read from the chassis row; any row index in a capture.
ENT_PHYSICAL = "1.3.6.1.2.1.47.1.1.1.1."
ENTITY_COLUMNS = {10: "snmp.entity.software_rev", 11: "snmp.entity.serial", 12: "snmp.entity.mfg_name",
                  13: "snmp.entity.model_name"}
ENT_PHYSICAL_CLASS = ENT_PHYSICAL + "5"  # entPhysicalClass: the column a probe walks to find the chassis
CLASS_CHASSIS = 3
CHASSIS_INDEX = 1  # the chassis row of most agents, asked when the class column names none
MAX_ENTITY_ROWS = 256  # a chassis row comes early; modular routers list thousands of parts after it
# Private OIDs that name the model in a vendor's own MIB: OID → enterprise number.
# Hikvision: HIKVISION-MIB hikvisionModel 1.3.6.1.4.1.39165.1.1.0 (GLPI agent MibSupport/Hikvision.pm).
# Dahua: DAHUA-SNMP-MIB deviceType 1.3.6.1.4.1.1004849.2.1.2.6.0 (GLPI agent MibSupport/Intelbras.pm reads
# it as the model; LibreNMS tests/snmpsim/dahua-nvr.snmprec records 'DH-NVR4108HS-8P-4KS2' there).
# Huawei HUAWEI-ENTITY-EXTENT-MIB hwEntitySystemModel (2011.5.25.31.6.5.0) is not read: no public
# recording of its answer was found, so no rule could carry a real example.
PRIVATE_MODELS = {"1.3.6.1.4.1.39165.1.1.0": 39165, "1.3.6.1.4.1.1004849.2.1.2.6.0": 1004849}
# Private OIDs that give the firmware version: DAHUA-SNMP-MIB softwareRevision (GLPI agent Intelbras.pm
# getFirmware; '3.212.0000.1' in LibreNMS dahua-nvr.snmprec). ``snmp.private_firmware`` ``<enterprise>:<ver>``.
PRIVATE_FIRMWARE = {"1.3.6.1.4.1.1004849.2.1.1.1.0": 1004849}
SCALARS = {SYS_CONTACT: "snmp.syscontact", SYS_LOCATION: "snmp.syslocation"}
# LLDP-MIB lldpRemEntry: what an agent knows of its neighbours, a row per <timeMark>.<localPort>.<index>.
LLDP_REM_ENTRY = "1.0.8802.1.1.2.1.4.1.1"
LLDP_REM_PREFIX = LLDP_REM_ENTRY + "."
REM_CHASSIS_SUBTYPE, REM_CHASSIS_ID, REM_PORT_ID, REM_PORT_DESC, REM_SYS_NAME, REM_SYS_DESC = 4, 5, 7, 8, 9, 10
CHASSIS_MAC, CHASSIS_NETWORK_ADDRESS = 4, 5  # LldpChassisIdSubtype values
SnmpValue = bytes | str | int  # a varbind's value: octets, an OID as text, or an integer
MAX_LLDP_VARBINDS = 5000  # lldpRemTable values read from one agent (a walk, or a capture's answers)

TAG_INTEGER, TAG_OCTETS, TAG_NULL, TAG_OID, TAG_SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
PDU_RESPONSE, PDU_TRAP_V1, PDU_INFORM, PDU_TRAP_V2, PDU_REPORT = 0xA2, 0xA4, 0xA6, 0xA7, 0xA8
_REPORTING_PDUS = frozenset({PDU_RESPONSE, PDU_INFORM, PDU_TRAP_V2})
_MAX_VARBINDS = 256

TLV = tuple[int, int, int]  # (tag, start of value, end of value)


def display_string(raw: bytes, limit: int = MAX_VALUE) -> str:
    """A DisplayString (sysDescr, sysName) as every source keeps it: lines trimmed, blank lines and
    control characters dropped (agents end lines with CR LF), capped."""
    return clean_text(raw, limit)


def read_tlv(data: bytes, pos: int, end: int) -> TLV:
    if pos + 2 > end:
        raise DecodeError("truncated BER header")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if tag & 0x1F == 0x1F:
        raise DecodeError("multi-byte BER tag")
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise DecodeError("unsupported BER length form")
        if pos + n > end:
            raise DecodeError("truncated BER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        raise DecodeError("truncated BER value")
    return tag, pos, pos + length


def expect(data: bytes, pos: int, end: int, tag: int, what: str) -> TLV:
    tlv = read_tlv(data, pos, end)
    if tlv[0] != tag:
        raise DecodeError(f"SNMP {what}: expected tag 0x{tag:02x}, found 0x{tlv[0]:02x}")
    return tlv


def decode_oid(raw: bytes) -> str:
    if not raw or len(raw) > 128:
        raise DecodeError("bad OID length")
    parts: list[int] = []
    value = 0
    for b in raw:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    if raw[-1] & 0x80:
        raise DecodeError("truncated OID")
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(p) for p in head + parts[1:])


def decode_int(raw: bytes) -> int:
    if not raw or len(raw) > 9:
        raise DecodeError("bad INTEGER length")
    return int.from_bytes(raw, "big", signed=True)


def varbinds(data: bytes, pos: int, end: int) -> list[tuple[str, int, bytes]]:
    """(oid, value tag, value bytes) of a varbind list."""
    _tag, pos, end = expect(data, pos, end, TAG_SEQUENCE, "varbind list")
    out: list[tuple[str, int, bytes]] = []
    while pos < end and len(out) < _MAX_VARBINDS:
        _tag, vpos, vend = expect(data, pos, end, TAG_SEQUENCE, "varbind")
        _tag, opos, oend = expect(data, vpos, vend, TAG_OID, "varbind name")
        vtag, valpos, valend = read_tlv(data, oend, vend)
        out.append((decode_oid(data[opos:oend]), vtag, data[valpos:valend]))
        pos = vend
    return out


class SnmpAnswer(NamedTuple):
    """What one SNMP message says: facts about the agent, and the lldpRemTable varbinds it carried
    (a walk of that table spans several answers, column by column: a reader of many answers joins
    them before :func:`lldp_neighbours`)."""

    facts: list[Evidence]
    lldp_rows: list[tuple[str, SnmpValue]]


def decode_snmp(payload: bytes) -> list[Evidence]:
    """Facts from what an agent says about itself (responses, traps, informs), and the neighbours
    whose rows this one message holds whole."""
    answer = read_answer(payload)
    return answer.facts + rows_evidence(answer.lldp_rows)


def read_answer(payload: bytes) -> SnmpAnswer:
    """One SNMP message read: v1/v2c responses, traps and informs (requests and v3 say nothing)."""
    _tag, pos, end = expect(payload, 0, len(payload), TAG_SEQUENCE, "message")
    _tag, vpos, vend = expect(payload, pos, end, TAG_INTEGER, "version")
    version = decode_int(payload[vpos:vend])
    if version not in (0, 1):
        return SnmpAnswer([], [])  # v3: the interesting part is usually encrypted
    _tag, _cpos, cend = expect(payload, vend, end, TAG_OCTETS, "community")
    pdu_tag, ppos, pend = read_tlv(payload, cend, end)
    facts: list[Evidence] = []
    if pdu_tag == PDU_TRAP_V1:
        _tag, epos, eend = expect(payload, ppos, pend, TAG_OID, "trap enterprise")
        # RFC 1157: a v1 trap's enterprise field is the sysObjectID of the agent.
        facts.append(Evidence("snmp.sysobjectid", decode_oid(payload[epos:eend])))
        pos = eend
        for _field in ("agent address", "generic trap", "specific trap", "timestamp"):
            pos = read_tlv(payload, pos, pend)[2]
        bindings = varbinds(payload, pos, pend)
    elif pdu_tag in _REPORTING_PDUS:
        pos = ppos
        for what in ("request id", "error status", "error index"):
            pos = expect(payload, pos, pend, TAG_INTEGER, what)[2]
        bindings = varbinds(payload, pos, pend)
    else:
        return SnmpAnswer([], [])  # requests name what the manager wants, not what the agent is
    remote: list[tuple[str, SnmpValue]] = []
    for oid, vtag, value in bindings:
        if oid == SYS_DESCR and vtag == TAG_OCTETS and value:
            facts.append(Evidence("snmp.sysdescr", display_string(value)))
        elif oid == SYS_OBJECT_ID and vtag == TAG_OID:
            facts.append(Evidence("snmp.sysobjectid", decode_oid(value)))
        elif oid == SYS_NAME and vtag == TAG_OCTETS and value:
            facts.append(Evidence("snmp.sysname", display_string(value, 255)))
        elif oid == SNMP_TRAP_OID and vtag == TAG_OID:
            facts.append(Evidence("snmp.trap_oid", decode_oid(value)))
        elif vtag == TAG_OCTETS and (found := inventory_evidence(oid, value)) is not None:
            facts.append(found)
        elif oid.startswith(LLDP_REM_PREFIX) and vtag in (TAG_OCTETS, TAG_INTEGER):
            remote.append((oid, decode_int(value) if vtag == TAG_INTEGER else value))
    return SnmpAnswer(facts, remote)


def inventory_evidence(oid: str, value: bytes) -> Evidence | None:
    """sysContact, sysLocation, an ENTITY-MIB name of the chassis, a private model or firmware, or None.

    Shared by the probe (values of its GET) and pcap (varbinds of a response)."""
    oid = oid.lstrip(".")
    text_value = display_string(value, 255)
    if not text_value:
        return None
    if oid in SCALARS:
        return Evidence(SCALARS[oid], text_value)
    if oid in PRIVATE_MODELS:
        return Evidence("snmp.private_model", f"{PRIVATE_MODELS[oid]}:{text_value}", context={"oid": oid})
    if oid in PRIVATE_FIRMWARE:
        return Evidence("snmp.private_firmware", f"{PRIVATE_FIRMWARE[oid]}:{text_value}", context={"oid": oid})
    if oid.startswith(ENT_PHYSICAL):
        column, _, index = oid[len(ENT_PHYSICAL):].partition(".")
        if column.isdigit() and int(column) in ENTITY_COLUMNS and index.isdigit():
            return Evidence(ENTITY_COLUMNS[int(column)], text_value, context={"entity_index": int(index)})
    return None


def chassis_row(classes: Iterable[tuple[str, object]]) -> int | None:
    """The index of the first entPhysicalTable row whose class is chassis(3), from a walk of
    entPhysicalClass (``oid → value`` pairs); None when no row says so.

    Agents number that row as they like: 1 on most, 67108867 on Huawei VRP switches (LibreNMS
    tests/snmpsim/vrp_5720.snmprec)."""
    prefix = ENT_PHYSICAL_CLASS + "."
    for oid, value in classes:
        index = oid.lstrip(".").removeprefix(prefix)
        if index != oid.lstrip(".") and index.isdigit() and value == CLASS_CHASSIS:
            return int(index)
    return None


def inventory_oids(chassis: int = CHASSIS_INDEX) -> tuple[str, ...]:
    """What the probe asks after the system group: contact, location, the chassis row, private models."""
    chassis_oids = tuple(f"{ENT_PHYSICAL}{column}.{chassis}" for column in sorted(ENTITY_COLUMNS))
    return (SYS_CONTACT, SYS_LOCATION, *chassis_oids, *PRIVATE_MODELS, *PRIVATE_FIRMWARE)


@dataclass(frozen=True, slots=True)
class LldpNeighbour:
    """One row of lldpRemTable: a neighbour as the agent saw it."""

    local_port: int
    index: int
    chassis_subtype: int | None = None
    chassis_id: bytes = b""
    port_id: str | None = None
    port_desc: str | None = None
    sys_name: str | None = None
    sys_desc: str | None = None

    @property
    def mac(self) -> str | None:
        if self.chassis_subtype != CHASSIS_MAC:
            return None
        if len(self.chassis_id) == 6 and not is_unicast_mac(self.chassis_id):
            return None  # a group address names no one device
        return mac_from_octets(self.chassis_id)

    @property
    def address(self) -> str | None:
        """A management address given as the chassis id (subtype networkAddress)."""
        if self.chassis_subtype != CHASSIS_NETWORK_ADDRESS or len(self.chassis_id) < 5:
            return None
        family, raw = self.chassis_id[0], self.chassis_id[1:]
        try:
            if family == 1 and len(raw) == 4:
                return str(ipaddress.IPv4Address(raw))
            if family == 2 and len(raw) == 16:
                return str(ipaddress.IPv6Address(raw))
        except ValueError:
            return None
        return None


def mac_from_octets(raw: bytes) -> str | None:
    """A MAC given as six octets, or as text (some agents write it out)."""
    if len(raw) == 6:
        return raw.hex(":")
    return mac_from_text(raw.decode("ascii", "replace"))


def text_of(value: SnmpValue) -> str:
    return display_string(value if isinstance(value, bytes) else str(value).encode("utf-8"))


def _opt_text(value: SnmpValue | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes) and len(value) == 6 and not value.isascii():
        return mac_from_octets(value)  # a port id that is a MAC
    return text_of(value) or None


def lldp_neighbours(varbinds: Iterable[tuple[str, SnmpValue]]) -> list[LldpNeighbour]:
    """Neighbours from (oid, value) pairs of lldpRemEntry: a probe's walk or the varbinds of an answer."""
    rows: dict[tuple[int, int], dict[int, SnmpValue]] = {}
    for oid, value in varbinds:
        oid = oid.lstrip(".")
        if not oid.startswith(LLDP_REM_PREFIX):
            continue
        parts = oid[len(LLDP_REM_PREFIX) :].split(".")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            continue
        column, _time_mark, local_port, index = (int(p) for p in parts)
        rows.setdefault((local_port, index), {})[column] = value
    out = []
    for (local_port, index), cols in sorted(rows.items()):
        subtype = cols.get(REM_CHASSIS_SUBTYPE)
        chassis = cols.get(REM_CHASSIS_ID, b"")
        out.append(
            LldpNeighbour(
                local_port=local_port,
                index=index,
                chassis_subtype=subtype if isinstance(subtype, int) else None,
                chassis_id=chassis if isinstance(chassis, bytes) else str(chassis).encode(),
                port_id=_opt_text(cols.get(REM_PORT_ID)),
                port_desc=_opt_text(cols.get(REM_PORT_DESC)),
                sys_name=_opt_text(cols.get(REM_SYS_NAME)),
                sys_desc=_opt_text(cols.get(REM_SYS_DESC)),
            )
        )
    return out


def rows_evidence(varbinds: Iterable[tuple[str, SnmpValue]]) -> list[Evidence]:
    """The evidence of every neighbour in lldpRemEntry (oid, value) pairs."""
    return [fact for n in lldp_neighbours(varbinds) for fact in neighbour_evidence(n)]


def neighbour_evidence(n: LldpNeighbour) -> list[Evidence]:
    """What a neighbour row says, for every source (probe walk, captured answer).

    These facts describe the neighbour, not the agent: they carry the neighbour's own keys (chassis
    MAC, management address, system name) and never the agent's address. A row with none is dropped.
    """
    mac_key, address = n.mac, n.address
    if not (mac_key or address or n.sys_name):
        return []
    context = {"local_port": n.local_port, "remote_port": n.port_id, "remote_port_desc": n.port_desc}
    chassis = mac_key or address or (text(n.chassis_id, 255) if n.chassis_id else None)
    facts = []
    for kind, value in (("mac", mac_key), ("lldp.chassis_id", chassis), ("lldp.port_id", n.port_id),
                        ("lldp.sysname", n.sys_name), ("lldp.sysdescr", n.sys_desc)):
        if value:
            facts.append(Evidence(kind, value, mac=mac_key, ip=address, hostname=n.sys_name, context=context,
                                  third_party=True))
    return facts
