"""RTSP (RFC 2326): OPTIONS, DESCRIBE behind the camera's authentication, errors for the rest.

The Server header and the WWW-Authenticate challenge are what identify a
camera's firmware; devices that send no Server header send none here either.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass
from email.utils import formatdate

from vendorscope.lab.profiles import RtspService
from vendorscope.lab.streams import Handler, StreamService, read_line, send, serve

PUBLIC = "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER"
MAX_HEADERS = 64


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    uri: str
    version: str
    headers: dict[str, str]


def parse_head(lines: list[bytes]) -> Request | None:
    """A request from its head lines, or None when it is not an RTSP request."""
    if not lines:
        return None
    parts = lines[0].decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        return None
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(parts[0].upper(), parts[1], parts[2], headers)


def respond(service: RtspService, request: Request | None, nonce: str) -> bytes:
    """The response to one request (a 400 for anything that is not RTSP)."""
    if request is None:
        return _message("400 Bad Request", None, service, {})
    cseq = request.headers.get("cseq", "0")
    if request.method == "OPTIONS":
        return _message("200 OK", cseq, service, {"Public": PUBLIC})
    if request.method == "DESCRIBE":
        if service.realm is not None:  # no credentials are ever right
            return _message("401 Unauthorized", cseq, service, {"WWW-Authenticate": service.realm.format(nonce=nonce)})
        sdp = (
            "\r\n".join(service.sdp.strip().splitlines()) + "\r\n" if service.sdp is not None else
            "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=Media Presentation\r\nt=0 0\r\n"
            "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
        )
        return _message(
            "200 OK",
            cseq,
            service,
            {"Content-Base": request.uri.rstrip("/") + "/", "Content-Type": "application/sdp"},
            sdp,
        )
    if request.method in ("SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
        return _message("454 Session Not Found", cseq, service, {})
    return _message("501 Not Implemented", cseq, service, {})


def _message(status: str, cseq: str | None, service: RtspService, headers: dict[str, str], body: str = "") -> bytes:
    lines = [f"RTSP/1.0 {status}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    if service.server is not None:
        lines.append(f"Server: {service.server}")
    lines.append(f"Date: {formatdate(usegmt=True)}")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    if body:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


def handler(service: RtspService) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head: list[bytes] = []
            while True:
                line = await read_line(reader)
                if line is None or len(head) > MAX_HEADERS:
                    return
                if line:
                    head.append(line)
                elif head:  # a blank line ends the head; blank lines before it are keep-alives
                    break
            request = parse_head(head)
            if request is not None and (length := request.headers.get("content-length", "0")).isdigit():
                await reader.readexactly(min(int(length), 65536))
            await send(writer, respond(service, request, secrets.token_hex(16)))
            if request is None:
                return

    return handle


async def start(sock: socket.socket, service: RtspService) -> StreamService:
    return await serve(handler(service), sock)
