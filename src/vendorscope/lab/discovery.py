"""Vendor discovery responders: Hikvision SADP (UDP 37020), Dahua DHIP (UDP 37810) and ONVIF
WS-Discovery (UDP 3702), answering on the device's own loopback address.

Each answers only the request its protocol defines (a SADP ``inquiry``, a ``DHDiscover.search``,
a WS-Discovery Probe) with a reply shaped like the devices' own: the field sets, order and
spelling follow replies devices sent, cited in devices.toml (``source``). Other datagrams get
no answer, as on a real device.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from xml.sax.saxutils import escape

from vendorscope.evidence import dhip, sadp, wsdiscovery
from vendorscope.lab.faults import DatagramService
from vendorscope.lab.profiles import DiscoveryService

MAX_REQUEST = 4096


def sadp_reply(svc: DiscoveryService, ip: str, mac: str, uuid: str) -> bytes:
    """A ``<ProbeMatch>`` with the fields (in the order) a Hikvision camera answers an inquiry with."""
    fields = [("Uuid", uuid), ("Types", "inquiry"), ("DeviceType", svc.device_class or "0"),
              ("DeviceDescription", svc.model), ("DeviceSN", svc.serial), ("CommandPort", "8000"),
              ("HttpPort", "80"), ("MAC", mac.replace(":", "-")), ("IPv4Address", ip),
              ("IPv4SubnetMask", "255.0.0.0"), ("IPv4Gateway", "0.0.0.0"), ("DHCP", "false"),
              ("AnalogChannelNum", "0"), ("DigitalChannelNum", "1"), ("SoftwareVersion", svc.firmware),
              ("DSPVersion", "V7.3 build 220112"), ("Activated", "true")]
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields)
    return f'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>{body}</ProbeMatch>'.encode()


def dhip_reply(svc: DiscoveryService, ip: str, mac: str) -> bytes:
    """A ``client.notifyDevInfo`` in DHIP framing, with the deviceInfo keys Dahua devices send."""
    info: dict[str, Any] = {
        "AlarmInputChannels": 0, "AlarmOutputChannels": 0, "DeviceClass": svc.device_class or "IPC",
        "DeviceType": svc.model, "HttpPort": 80,
        "IPv4Address": {"DefaultGateway": "0.0.0.0", "DhcpEnable": False, "IPAddress": ip,
                        "SubnetMask": "255.0.0.0"},
        "MachineName": svc.serial, "Manufacturer": "Private", "Port": 37777, "RemoteVideoInputChannels": 0,
        "SerialNo": svc.serial, "Vendor": svc.vendor or "Dahua", "Version": svc.firmware,
        "VideoInputChannels": 1, "VideoOutputChannels": 0,
    }
    body = json.dumps({"mac": mac, "method": "client.notifyDevInfo", "params": {"deviceInfo": info}},
                      separators=(", ", " : ")).encode()
    return dhip.frame(body + b"\n")


def wsd_reply(svc: DiscoveryService, ip: str, mac: str, relates_to: str) -> bytes:
    """A ProbeMatch with the onvif:// scopes (name, hardware) the device announces."""
    scopes = " ".join([
        "onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
        f"onvif://www.onvif.org/hardware/{svc.model}", f"onvif://www.onvif.org/name/{svc.name}",
        f"onvif://www.onvif.org/MAC/{mac}"])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        f"<env:Header><wsadis:RelatesTo>{escape(relates_to)}</wsadis:RelatesTo>"
        "<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action>"
        "</env:Header><env:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<wsadis:EndpointReference><wsadis:Address>urn:uuid:{escape(svc.serial)}</wsadis:Address>"
        "</wsadis:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:Scopes>{escape(scopes)}</d:Scopes>"
        f"<d:XAddrs>http://{ip}/onvif/device_service</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"
    ).encode()


def answer(protocol: str, svc: DiscoveryService, ip: str, mac: str, request: bytes) -> bytes | None:
    """The reply to one request datagram, or None when the protocol's device would stay silent."""
    if protocol == "sadp":
        if b"<Types>inquiry</Types>" not in request or not request.lstrip().startswith(b"<?xml"):
            return None
        uuid = request.split(b"<Uuid>", 1)[1].split(b"</Uuid>", 1)[0] if b"<Uuid>" in request else b""
        return sadp_reply(svc, ip, mac, uuid[:64].decode("ascii", "replace"))
    if protocol == "dhip":
        if not dhip.is_dhip(request) or b"DHDiscover.search" not in request:
            return None
        return dhip_reply(svc, ip, mac)
    if protocol == "wsdiscovery":
        if b"Probe" not in request or b"Envelope" not in request:
            return None
        message = request.split(b"MessageID>", 1)[1].split(b"<", 1)[0] if b"MessageID>" in request else b""
        return wsd_reply(svc, ip, mac, message[:80].decode("ascii", "replace"))
    return None


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, protocol: str, svc: DiscoveryService, ip: str, mac: str) -> None:
        self.protocol, self.svc, self.ip, self.mac = protocol, svc, ip, mac
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # a datagram transport (selector transports do not subclass it)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(self.protocol, self.svc, self.ip, self.mac, data[:MAX_REQUEST])
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def start(sock: socket.socket, protocol: str, svc: DiscoveryService, ip: str, mac: str | None) -> DatagramService:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Responder(protocol, svc, ip, mac or "00:00:00:00:00:00"), sock=sock)
    return DatagramService(transport)


# The protocol module of each discovery service (ports and decoders live there).
MODULES = {"sadp": sadp, "dhip": dhip, "wsdiscovery": wsdiscovery}
