"""ONVIF WS-Discovery (UDP 3702): a SOAP Probe for NetworkVideoTransmitter devices, answered by a
ProbeMatch whose Scopes name the device (``onvif://www.onvif.org/name/HIKVISION``,
``…/hardware/DS-2CD2143G2-I``) and whose XAddrs say where its ONVIF service is.
"""

from __future__ import annotations

from urllib.parse import unquote

from vendorscope.evidence import xml
from vendorscope.evidence.record import DecodeError, Evidence, clean_str

PORTS = frozenset({3702})  # UDP; multicast group 239.255.255.250
MULTICAST_GROUP = "239.255.255.250"
SCOPE_PREFIX = "onvif://www.onvif.org/"
MAX_SCOPES = 64
# Scope path → kind: the two scopes that name the device.
SCOPE_KINDS = {"name": "wsd.name", "hardware": "wsd.hardware"}


def probe(message_id: str) -> bytes:
    """A WS-Discovery Probe for ONVIF video devices."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        f"<s:Header><a:MessageID>uuid:{message_id}</a:MessageID>"
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
    ).encode()


def is_soap(data: bytes) -> bool:
    head = data[:512].lstrip()
    return head.startswith(b"<") and b"Envelope" in data[:2048]


def parse_probe_matches(data: bytes) -> list[dict[str, list[str]]]:
    """Scopes and XAddrs of each ProbeMatch (also of a Hello announcement)."""
    root = xml.root(data)
    if root is None:
        return []
    out = []
    for match in (el for el in root.iter() if xml.local(el.tag) in ("ProbeMatch", "Hello")):
        fields: dict[str, list[str]] = {}
        for el in match:
            name = xml.local(el.tag)
            if name in ("Scopes", "XAddrs", "Types") and el.text:
                fields[name] = el.text.split()[:MAX_SCOPES]
        out.append(fields)
    return out


def decode_wsdiscovery(payload: bytes) -> list[Evidence]:
    """wsd.name and wsd.hardware of the onvif scopes of a ProbeMatch (a Probe gives nothing), with
    the service addresses in context; raises DecodeError when the datagram is not SOAP."""
    if not is_soap(payload):
        raise DecodeError("not a WS-Discovery message")
    out: list[Evidence] = []
    for match in parse_probe_matches(payload):
        xaddrs = [clean_str(a, 256) for a in match.get("XAddrs", [])[:4]]
        scopes: dict[str, str] = {}
        for scope in match.get("Scopes", []):
            if not scope.startswith(SCOPE_PREFIX):
                continue
            key, _, value = scope[len(SCOPE_PREFIX):].partition("/")
            if key in SCOPE_KINDS and key not in scopes and value:
                scopes[key] = clean_str(unquote(value), 256)
        context = {"xaddrs": xaddrs or None, "model": scopes.get("hardware"), "name": scopes.get("name")}
        out.extend(Evidence(SCOPE_KINDS[key], value, context=context) for key, value in scopes.items() if value)
    return out
