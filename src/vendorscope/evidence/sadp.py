"""Hikvision SADP (Search Active Devices Protocol): the XML inquiry on UDP 37020 and the
``<ProbeMatch>`` a Hikvision device (and the OEM and consumer brands built on its firmware) answers
with: DeviceDescription (the model), DeviceSN, MAC, SoftwareVersion, DeviceType (a numeric class).

A reply names its device by content (serial and MAC), so its evidence carries those keys.
"""

from __future__ import annotations

from vendorscope.evidence import xml
from vendorscope.evidence.record import DecodeError, Evidence, mac_from_text

PORTS = frozenset({37020})  # UDP; multicast group 239.255.255.250
MULTICAST_GROUP = "239.255.255.250"
_WANTED = frozenset({"DeviceType", "DeviceDescription", "DeviceSN", "MAC", "SoftwareVersion", "DSPVersion",
                     "IPv4Address", "CommandPort", "HttpPort", "Types"})


def inquiry(uuid: str) -> bytes:
    """The inquiry a SADP client multicasts (and a probe sends to one address)."""
    return (f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{uuid}</Uuid>'
            f"<Types>inquiry</Types></Probe>").encode()


def is_sadp(data: bytes) -> bool:
    head = data[:512].lstrip(b"\x00")
    return head.startswith(b"<?xml") and (b"<Probe>" in data[:1024] or b"<ProbeMatch>" in data[:1024])


def parse_probe_match(data: bytes) -> dict[str, str]:
    """The fields of a ``<ProbeMatch>`` reply; empty for an inquiry or anything else."""
    root = xml.root(data.strip(b"\x00\r\n "))
    if root is None or xml.local(root.tag) != "ProbeMatch":
        return {}
    out: dict[str, str] = {}
    for el in root:
        name = xml.local(el.tag)
        if name in _WANTED and name not in out and el.text and el.text.strip():
            out[name] = xml.field_text(el.text)
    return out


def decode_sadp(payload: bytes) -> list[Evidence]:
    """sadp.model, sadp.serial, sadp.software and the device's MAC of a SADP reply (an inquiry
    gives nothing); raises DecodeError when the datagram is not SADP."""
    if not is_sadp(payload):
        raise DecodeError("not a SADP message")
    info = parse_probe_match(payload)
    if not info:
        return []
    serial = info.get("DeviceSN")
    mac = mac_from_text(info.get("MAC"))
    extra = {"model": info.get("DeviceDescription"), "serial": serial, "firmware": info.get("SoftwareVersion"),
             "device_class": info.get("DeviceType"), "dsp": info.get("DSPVersion")}
    out: list[Evidence] = []
    if info.get("DeviceDescription"):
        out.append(Evidence("sadp.model", info["DeviceDescription"], mac=mac, serial=serial, context=extra))
    if serial:
        out.append(Evidence("sadp.serial", serial, mac=mac, serial=serial, context=extra))
    if info.get("SoftwareVersion"):
        out.append(Evidence("sadp.software", info["SoftwareVersion"], mac=mac, serial=serial, context=extra))
    if mac:
        out.append(Evidence("mac", mac, mac=mac, serial=serial, context={"from": "sadp"}))
    return out
