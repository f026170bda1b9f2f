"""Dahua DHIP discovery (UDP 37810): a 32-byte header (``20 00 00 00 'DHIP'``, session, id, and the
body length twice) and a JSON body. The search is ``DHDiscover.search``; devices answer
``client.notifyDevInfo`` with DeviceType (the model), SerialNo, Vendor, Version and their MAC.

Dahua's OEM brands answer the same way with their own Vendor ("Lorex", "General", "Private").
"""

from __future__ import annotations

import json
import struct
from typing import Any

from vendorscope.evidence.record import DecodeError, Evidence, clean_str, mac_from_text

PORTS = frozenset({37810})  # UDP; multicast group 239.255.255.251, or broadcast
MULTICAST_GROUP = "239.255.255.251"
MAGIC = b"\x20\x00\x00\x00DHIP"
HEADER = 32
MAX_BODY = 16 * 1024  # replies are ~800 bytes; more is not a discovery reply
MAX_FIELD = 256


def frame(body: bytes, session: int = 0, request_id: int = 0) -> bytes:
    """A DHIP datagram: the header (body length at offsets 16 and 24, little-endian) and the body."""
    return MAGIC + struct.pack("<IIIIII", session, request_id, len(body), 0, len(body), 0) + body


def search() -> bytes:
    """The DHDiscover.search request Dahua's ConfigTool sends."""
    return frame(b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\n')


def is_dhip(data: bytes) -> bool:
    return data.startswith(MAGIC) and len(data) >= HEADER


def body_of(data: bytes) -> dict[str, Any]:
    """The JSON object of a DHIP datagram; raises DecodeError when it is not one."""
    if not is_dhip(data):
        raise DecodeError("not a DHIP message")
    (length,) = struct.unpack_from("<I", data, 16)
    body = data[HEADER : HEADER + min(length, MAX_BODY)].rstrip(b"\x00\r\n ")
    if len(data) - HEADER > MAX_BODY:
        raise DecodeError("DHIP body larger than 16 KiB")
    try:
        parsed = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"DHIP body is not JSON ({type(exc).__name__})") from None
    if not isinstance(parsed, dict):
        raise DecodeError("DHIP body is not a JSON object")
    return parsed


def _field(info: dict[str, Any], name: str) -> str | None:
    value = info.get(name)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = clean_str(str(value), MAX_FIELD)
        return text or None
    return None


def decode_dhip(payload: bytes) -> list[Evidence]:
    """dhip.model, dhip.vendor, dhip.serial and the MAC of a client.notifyDevInfo reply (a search
    gives nothing); raises DecodeError when the datagram is not DHIP."""
    body = body_of(payload)
    if body.get("method") != "client.notifyDevInfo":
        return []
    params = body.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        return []
    raw_mac = body.get("mac")
    mac = mac_from_text(raw_mac) if isinstance(raw_mac, str) else None
    serial = _field(info, "SerialNo")
    extra = {"model": _field(info, "DeviceType"), "vendor": _field(info, "Vendor"), "serial": serial,
             "firmware": _field(info, "Version"), "device_class": _field(info, "DeviceClass"),
             "manufacturer": _field(info, "Manufacturer")}
    out: list[Evidence] = []
    for kind, name in (("dhip.model", "DeviceType"), ("dhip.vendor", "Vendor"), ("dhip.serial", "SerialNo")):
        value = _field(info, name)
        if value:
            out.append(Evidence(kind, value, mac=mac, serial=serial, context=extra))
    if mac:
        out.append(Evidence("mac", mac, mac=mac, serial=serial, context={"from": "dhip"}))
    return out
