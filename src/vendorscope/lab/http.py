"""HTTP and HTTPS with aiohttp: Server header, page title, 401 realm, favicon, ONVIF, UPnP, vendor endpoints.

What a probe reads from a device's web server: the Server header (or its
absence), the <title> of the front page, the WWW-Authenticate challenge of
protected paths, /favicon.ico, ONVIF GetDeviceInformation at
/onvif/device_service, a UPnP device description at /rootDesc.xml, and the
profile's fixed answers to vendor endpoints (ISAPI, magicBox, HiLink, Redfish),
each copied from a cited real answer.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import socket
import ssl
import struct
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from aiohttp import web

from vendorscope.lab.profiles import HttpService, OnvifInfo, UpnpInfo

ONVIF_PATH = "/onvif/device_service"
UPNP_PATH = "/rootDesc.xml"
SOAP_TYPE = "application/soap+xml"
MAX_SOAP_BYTES = 65536
_INDEX_PATHS = ("/", "/index.html", "/index.htm")


def favicon(seed: str) -> bytes:
    """A 16×16 ICO in a colour of its own: each profile's icon hashes differently."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    width = height = 16
    pixels = bytes([blue, green, red, 255]) * (width * height)
    mask = b"\x00" * (4 * height)  # 1-bit AND mask, rows padded to 32 bits
    bitmap = struct.pack("<IiiHHIIiiII", 40, width, height * 2, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    image = bitmap + pixels + mask
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", width, height, 0, 0, 1, 32, len(image), 6 + 16)
    return header + entry + image


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="/favicon.ico"></head>'
        f"<body>{body}</body></html>\n"
    )


def is_protected(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a path lies under one of the protected prefixes ("/" protects everything)."""
    return any(path.startswith(prefix) for prefix in prefixes)


def soap_operation(body: bytes) -> str | None:
    """Local name of the first element in the SOAP Body, or None when it is not SOAP."""
    try:
        root = SafeET.fromstring(body)
    except Exception:  # defusedxml raises several kinds; all mean "not a request we answer"
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Body":
            for child in element:
                return str(child.tag).rsplit("}", 1)[-1]
    return None


def _envelope(inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
        'xmlns:tt="http://www.onvif.org/ver10/schema" '
        'xmlns:ter="http://www.onvif.org/ver10/error">'
        f"<env:Body>{inner}</env:Body></env:Envelope>\n"
    )


def onvif_response(info: OnvifInfo, operation: str | None, now: datetime) -> tuple[int, str]:
    """Status and SOAP body for one ONVIF device-service request."""
    if operation == "GetDeviceInformation":
        return 200, _envelope(
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(info.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(info.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(info.firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(info.serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(info.hardware_id)}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )
    if operation == "GetSystemDateAndTime":
        return 200, _envelope(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
            "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )
    if operation == "GetScopes":
        scopes = [
            "onvif://www.onvif.org/type/video_encoder",
            f"onvif://www.onvif.org/hardware/{info.model}",
            f"onvif://www.onvif.org/name/{info.manufacturer}",
        ]
        items = "".join(
            f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(s)}</tt:ScopeItem></tds:Scopes>"
            for s in scopes
        )
        return 200, _envelope(f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>")
    return 400, _envelope(
        "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:ActionNotSupported"
        '</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Action not supported'
        "</env:Text></env:Reason></env:Fault>"
    )


def upnp_description(info: UpnpInfo, hostname: str) -> str:
    udn = uuid.uuid5(uuid.NAMESPACE_DNS, f"{hostname}.{info.serial}")
    return (
        '<?xml version="1.0"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        "<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>"
        f"<friendlyName>{escape(info.friendly_name or info.model)}</friendlyName>"
        f"<manufacturer>{escape(info.manufacturer)}</manufacturer>"
        f"<modelDescription>{escape(info.model)}</modelDescription>"
        f"<modelName>{escape(info.model)}</modelName>"
        f"<modelNumber>{escape(info.model_number)}</modelNumber>"
        f"<serialNumber>{escape(info.serial)}</serialNumber>"
        f"<UDN>uuid:{udn}</UDN>"
        "</device></root>\n"
    )


def build_app(service: HttpService, seed: str, hostname: str) -> web.Application:
    """The web application one device serves on one port."""
    icon = favicon(seed)

    answers = {a.path: a for a in service.answers}

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        answer = answers.get(request.path_qs)
        if answer is not None and request.method == "GET":
            headers = {"Content-Type": answer.content_type}
            if answer.status == 401 and service.realm is not None:
                headers["WWW-Authenticate"] = service.realm.format(nonce=secrets.token_hex(16))
            return web.Response(status=answer.status, text=answer.body, headers=headers)
        if path == "/favicon.ico":
            return web.Response(body=icon, content_type="image/x-icon")
        if service.onvif is not None and path == ONVIF_PATH:
            body = await request.content.read(MAX_SOAP_BYTES)
            status, text = onvif_response(service.onvif, soap_operation(body), datetime.now(UTC))
            return web.Response(status=status, text=text, content_type=SOAP_TYPE, charset="utf-8")
        if service.upnp is not None and path == UPNP_PATH:
            return web.Response(text=upnp_description(service.upnp, hostname), content_type="text/xml")
        if service.realm is not None and is_protected(path, service.protected):
            challenge = service.realm.format(nonce=secrets.token_hex(16))
            return web.Response(
                status=401,
                text=page(service.unauthorized_title, "<h2>Access Error: 401 -- Unauthorized</h2>"),
                content_type="text/html",
                headers={"WWW-Authenticate": challenge},
            )
        if path in _INDEX_PATHS:
            return web.Response(
                text=page(service.title, f"<h1>{html.escape(service.title)}</h1>"), content_type="text/html"
            )
        return web.Response(status=404, text=page("404 Not Found", "<h2>Not Found</h2>"), content_type="text/html")

    async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
        # aiohttp adds its own Server header; devices send theirs, or none at all.
        if service.server is None:
            response.headers.popall("Server", None)
        else:
            response.headers["Server"] = service.server

    app = web.Application(client_max_size=MAX_SOAP_BYTES)
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_response_prepare.append(set_server_header)
    return app


class HttpServer:
    """One aiohttp site on a pre-bound socket."""

    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner

    async def close(self) -> None:
        await self._runner.cleanup()


async def start(
    sock: socket.socket,
    service: HttpService,
    seed: str,
    hostname: str,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpServer:
    runner = web.AppRunner(
        build_app(service, seed, hostname), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=ssl_context).start()
    return HttpServer(runner)
