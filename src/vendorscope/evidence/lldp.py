"""LLDP (IEEE 802.1AB): chassis and port ids, system name and description, capabilities,
management addresses, and the LLDP-MED inventory (manufacturer, model, serial)."""

from __future__ import annotations

from vendorscope.evidence.record import DecodeError, Evidence, hex_or_text, ipv4, ipv6, mac, text

ETHERTYPE = 0x88CC  # LLDP rides directly on Ethernet
CAPABILITIES = ("other", "repeater", "bridge", "wlan-ap", "router", "telephone", "docsis", "station",
                "c-vlan", "s-vlan", "tpmr")
_MED_OUI = b"\x00\x12\xbb"
_MED_INVENTORY = {5: "lldp.med.hardware_revision", 6: "lldp.med.firmware_revision",
                  7: "lldp.med.software_revision", 8: "lldp.med.serial", 9: "lldp.med.manufacturer",
                  10: "lldp.med.model", 11: "lldp.med.asset_id"}
_MAX_TLVS = 128


def tlvs(payload: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 2 <= len(payload) and len(out) < _MAX_TLVS:
        header = (payload[pos] << 8) | payload[pos + 1]
        kind, length = header >> 9, header & 0x1FF
        if kind == 0:  # end of LLDPDU
            break
        if pos + 2 + length > len(payload):
            raise DecodeError(f"truncated LLDP TLV (type {kind})")
        out.append((kind, payload[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    if len(payload) - pos == 1:
        raise DecodeError("truncated LLDP TLV header")
    return out


def chassis_or_port_id(value: bytes, mac_subtype: int, address_subtype: int) -> str:
    """A chassis or port id as text: a MAC, an address, a name, or hex for anything binary.

    The chassis MAC is kept as a value, not as a device key: the frame's source
    MAC (the port's) already keys the device, and one device must not be split
    in two by naming it with two MACs.
    """
    if not value:
        raise DecodeError("empty LLDP id TLV")
    subtype, raw = value[0], value[1:]
    if subtype == mac_subtype and len(raw) == 6:
        return mac(raw)
    if subtype == address_subtype and raw:
        return _address(raw[0], raw[1:]) or raw.hex(":")
    return hex_or_text(raw)


def _address(family: int, raw: bytes) -> str | None:
    if family == 1 and len(raw) == 4:
        return ipv4(raw)
    if family == 2 and len(raw) == 16:
        return ipv6(raw)
    return None


def decode_lldp(payload: bytes) -> list[Evidence]:
    facts: list[Evidence] = []
    for kind, value in tlvs(payload):
        if kind == 1:
            facts.append(Evidence("lldp.chassis_id", chassis_or_port_id(value, 4, 5)))
        elif kind == 2:
            facts.append(Evidence("lldp.port_id", chassis_or_port_id(value, 3, 4)))
        elif kind == 4 and value:
            facts.append(Evidence("lldp.port_description", text(value)))
        elif kind == 5 and value:
            name = text(value, 255)
            facts.append(Evidence("lldp.sysname", name))
        elif kind == 6 and value:
            facts.append(Evidence("lldp.sysdescr", text(value)))
        elif kind == 7:
            if len(value) < 4:
                raise DecodeError("truncated LLDP capabilities TLV")
            enabled = (value[2] << 8) | value[3]
            names = [n for bit, n in enumerate(CAPABILITIES) if enabled >> bit & 1]
            facts.append(Evidence("lldp.capabilities", ",".join(names) or "none"))
        elif kind == 8:
            if len(value) < 2 or len(value) < 1 + value[0]:
                raise DecodeError("truncated LLDP management address TLV")
            addr_len = value[0]
            addr = _address(value[1], value[2 : 1 + addr_len])
            if addr is not None:
                facts.append(Evidence("lldp.mgmt_addr", addr, ip=addr))
        elif (kind == 127 and len(value) >= 4 and value[:3] == _MED_OUI and value[3] in _MED_INVENTORY
              and (item := text(value[4:], 255))):
            fact_kind = _MED_INVENTORY[value[3]]
            facts.append(Evidence(fact_kind, item, serial=item if fact_kind == "lldp.med.serial" else None))
    return facts
