"""HTTP and HTTPS: Server header, WWW-Authenticate, page title, favicon hash,
ONVIF GetDeviceInformation and UPnP device descriptions.

A small HTTP/1.1 client over raw asyncio streams rather than a library: the
peer is hostile input, and every byte read must be capped and every wait
bounded (heads at 64 KiB, bodies at 256 KiB, XML at 64 KiB, the scope's
timeout on each request). Requests share one keep-alive connection per port.
The same reader parses RTSP answers (see :mod:`rtsp`).

Favicon hash: the Shodan convention, MurmurHash3 (x86, 32-bit, seed 0, signed)
of the base64 encoding of the icon with a newline every 76 characters
(``mmh3.hash(base64.encodebytes(icon))``), as a decimal string. That is the
number fingerprint collections and internet-scan data publish
(``http.favicon.hash``), so rules can use it as is. The SHA-256 of the raw
bytes goes into the observation's context for exact matching.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from vendorscope.collect.probe import deep
from vendorscope.collect.probe.gate import Gate, Malformed, ProbeFailed, Session, Step
from vendorscope.collect.probe.scope import ScopeViolation
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence import onvif, upnp
from vendorscope.evidence.http import favicon_hash, murmur3_32, realm_of
from vendorscope.model import Observation

__all__ = ["favicon_hash", "murmur3_32", "realm_of"]  # re-exported: the probe's tests and callers use them here

HEAD_CAP = 64 * 1024
BODY_CAP = 256 * 1024
XML_CAP = 64 * 1024
FAVICON_CAP = 128 * 1024
MAX_HEADERS = 100
MAX_VALUE = 2048  # characters kept of a header value
MAX_REDIRECTS = 2
USER_AGENT = "vendorscope-probe/0.1 (authorised inventory scan)"
ONVIF_GET_DEVICE_INFORMATION = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    b"<s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"
)
_STATUS_LINE = re.compile(rb"^(HTTP|RTSP)/(\d)\.(\d) +(\d{3})(?: +(.*))?$")
_REALM = re.compile(r'realm\s*=\s*(?:"([^"]*)"|([^\s,]+))', re.I)
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
_META_REFRESH = re.compile(rb"""<meta[^>]{0,200}http-equiv\s*=\s*["']?refresh[^>]{0,300}>""", re.I)
_REFRESH_URL = re.compile(rb"""url\s*=\s*['"]?([^'">\s]{1,300})""", re.I)
_ICON_LINK = re.compile(rb"""<link[^>]{0,300}rel\s*=\s*["']?(?:shortcut )?icon["']?[^>]{0,300}>""", re.I)
_HREF = re.compile(rb"""href\s*=\s*["']?([^"'>\s]{1,300})""", re.I)
_SPACE = re.compile(r"\s+")


# -- responses ------------------------------------------------------------------


@dataclass(slots=True)
class HttpResponse:
    protocol: str  # HTTP or RTSP
    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    truncated: bool = False
    reusable: bool = False
    head_complete: bool = True

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


class NotHttp(Malformed):
    """The peer answered in something other than HTTP/RTSP; ``data`` is what it sent."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data[:64]


def parse_head(head: bytes) -> tuple[str, str, int, str, tuple[tuple[str, str], ...]]:
    """Status line and headers of an HTTP or RTSP answer; raises NotHttp."""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    m = _STATUS_LINE.match(lines[0].strip(b"\r"))
    if m is None:
        raise NotHttp(f"not an HTTP/RTSP status line: {lines[0][:40]!r}", head)
    protocol, major, minor, status, reason = m.groups()
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        if not raw.strip():
            continue
        if raw[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, (value + " " + _text(raw.strip()))[:MAX_VALUE])
            continue
        name_b, sep, value_b = raw.partition(b":")
        if not sep or not name_b.strip() or len(headers) >= MAX_HEADERS:
            continue
        headers.append((_text(name_b.strip())[:100], _text(value_b.strip())[:MAX_VALUE]))
    return (
        protocol.decode(),
        f"{major.decode()}.{minor.decode()}",
        int(status),
        _text(reason or b"")[:200],
        tuple(headers),
    )


def _text(data: bytes) -> str:
    """Header bytes as text (ISO-8859-1 is what HTTP says; UTF-8 when it decodes), controls dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


class _Buffered:
    """Reads from a stream with a leftover buffer, a byte cap and one deadline."""

    def __init__(self, reader: asyncio.StreamReader, deadline: float) -> None:
        self.reader = reader
        self.deadline = deadline
        self.buf = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        """Read more; False at EOF. Raises TimeoutError past the deadline."""
        if self.eof:
            return False
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        chunk = await asyncio.wait_for(self.reader.read(65536), remaining)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def take(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


async def read_response(
    reader: asyncio.StreamReader,
    *,
    deadline: float,
    body_cap: int = BODY_CAP,
    method: str = "GET",
) -> HttpResponse:
    """One HTTP or RTSP answer, read until ``deadline`` (a loop time).

    What arrived by the deadline is kept: a head cut short still yields its
    headers, a body cut short is marked ``truncated``. Raises NotHttp when the
    answer is not HTTP/RTSP, TimeoutError when nothing usable came."""
    stream = _Buffered(reader, deadline)
    for _ in range(5):  # skip interim 1xx answers
        response = await _read_one(stream, body_cap, method)
        if not 100 <= response.status < 200 or response.protocol != "HTTP":
            return response
    return response


async def _read_one(stream: _Buffered, body_cap: int, method: str) -> HttpResponse:
    head, complete = await _read_head(stream)
    protocol, version, status, reason, headers = parse_head(head)
    response = HttpResponse(protocol, version, status, reason, headers)
    if not complete:
        response.truncated, response.head_complete = True, False
        return response
    try:
        await _read_body(stream, response, body_cap, method)
    except TimeoutError:
        response.truncated, response.reusable = True, False
        response.body = response.body or stream.take(body_cap)
    return response


async def _read_head(stream: _Buffered) -> tuple[bytes, bool]:
    while True:
        for sep in (b"\r\n\r\n", b"\n\n"):
            index = stream.buf.find(sep)
            if index >= 0:
                head = stream.take(index)
                stream.take(len(sep))
                return head, True
        if len(stream.buf) >= HEAD_CAP:
            if stream.buf.startswith((b"HTTP/", b"RTSP/")):
                return stream.take(HEAD_CAP), False  # monstrous head: keep what fits
            raise NotHttp("no HTTP head within 64 KiB", bytes(stream.buf[:64]))
        try:
            more = await stream.fill()
        except TimeoutError:
            if stream.buf.startswith((b"HTTP/", b"RTSP/")) and b"\n" in stream.buf:
                return stream.take(len(stream.buf)), False
            if stream.buf:
                raise NotHttp("incomplete answer that is not HTTP", bytes(stream.buf)) from None
            raise
        if not more:
            if not stream.buf:
                raise asyncio.IncompleteReadError(b"", None)
            if stream.buf.startswith((b"HTTP/", b"RTSP/")):
                return stream.take(len(stream.buf)), False
            raise NotHttp("closed after an answer that is not HTTP", bytes(stream.buf))


async def _read_body(stream: _Buffered, response: HttpResponse, cap: int, method: str) -> None:
    connection = (response.header("Connection") or "").lower()
    keep_alive = "close" not in connection and (response.version == "1.1" or "keep-alive" in connection)
    if method == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200:
        response.reusable = keep_alive
        return
    length_text = response.header("Content-Length")
    encoding = (response.header("Transfer-Encoding") or "").lower()
    if "chunked" in encoding and response.protocol == "HTTP":
        await _read_chunked(stream, response, cap)
        response.reusable = keep_alive and not response.truncated
        return
    if length_text is not None or response.protocol == "RTSP":
        # RTSP has a body only with Content-Length.
        try:
            length = int((length_text or "0").strip())
        except ValueError:
            length = -1
        if length >= 0:
            want = min(length, cap)
            while len(stream.buf) < want and await stream.fill():
                pass
            response.body = stream.take(want)
            response.truncated = len(response.body) < length
            response.reusable = keep_alive and not response.truncated and not stream.buf
            return
    # Delimited by the close of the connection.
    while len(stream.buf) < cap and await stream.fill():
        pass
    response.truncated = len(stream.buf) > cap or not stream.eof
    response.body = stream.take(cap)
    response.reusable = False


async def _read_chunked(stream: _Buffered, response: HttpResponse, cap: int) -> None:
    body = bytearray()
    while len(body) < cap:
        while b"\n" not in stream.buf:
            if len(stream.buf) > 1024 or not await stream.fill():
                response.truncated = True
                response.body = bytes(body)
                return
        line = stream.take(stream.buf.index(b"\n") + 1)
        try:
            size = int(line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            response.truncated = True
            break
        if size == 0:
            response.body = bytes(body)
            # Trailers end with an empty line; don't wait for them beyond what arrived.
            return
        want = min(size, cap - len(body))
        while len(stream.buf) < want + 2 and await stream.fill():
            pass
        body += stream.take(want)
        if want < size:
            response.truncated = True
            break
        stream.take(2)
    response.body = bytes(body[:cap])
    response.truncated = True


def build_request(
    method: str,
    host: str,
    port: int,
    path: str,
    *,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    tls: bool = False,
) -> bytes:
    default_port = 443 if tls else 80
    host_header = host if ":" not in host else f"[{host}]"
    if port != default_port:
        host_header += f":{port}"
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: keep-alive",
    ]
    lines.extend(f"{k}: {v}" for k, v in headers)
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace") + body


# -- what a page says -----------------------------------------------------------


def _charset(response: HttpResponse, body: bytes) -> str:
    for source in ((response.header("Content-Type") or "").encode("latin-1", "replace"), body[:2048]):
        m = _CHARSET.search(source)
        if m:
            name = m.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"


def decode_body(response: HttpResponse, body: bytes) -> str:
    charset = _charset(response, body)
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return body.decode("utf-8", "replace")


def title_of(body: bytes, response: HttpResponse | None = None) -> str | None:
    """The page title (see :func:`vendorscope.evidence.http.title`), in the answer's charset."""
    return http_evidence.title(body, _charset(response, body) if response is not None else None)


def meta_refresh(body: bytes) -> str | None:
    tag = _META_REFRESH.search(body[:16384])
    if tag is None:
        return None
    url = _REFRESH_URL.search(tag.group(0))
    return url.group(1).decode("latin-1") if url else None


def icon_link(body: bytes) -> str | None:
    tag = _ICON_LINK.search(body[:32768])
    if tag is None:
        return None
    href = _HREF.search(tag.group(0))
    return href.group(1).decode("latin-1") if href else None


def same_origin_path(base_path: str, location: str, host: str, port: int, tls: bool) -> str | None:
    """The path to follow for ``location`` if it stays on this host and port, else None."""
    scheme = "https" if tls else "http"
    authority = (f"[{host}]" if ":" in host else host) + f":{port}"
    try:
        absolute = urljoin(f"{scheme}://{authority}{base_path}", location.strip())
        parts = urlsplit(absolute)
        target_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if parts.scheme != scheme or (parts.hostname or "").lower() != host.lower() or target_port != port:
        return None
    path = parts.path or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def looks_like_http(data: bytes) -> bool:
    return data.startswith(b"HTTP/")


def observations_from_raw(gate: Gate, step: Step, data: bytes) -> list[Observation]:
    """Headers of an HTTP answer a server sent before being asked (seen in greetings)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    try:
        _, _, status, _, headers = parse_head(head)
    except Malformed:
        return []
    response = HttpResponse("HTTP", "1.1", status, "", headers)
    return _head_observations(gate, step, response, tls=False)


def body_observations(gate: Gate, step: Step, response: HttpResponse, path: str, tls: bool) -> list[Observation]:
    """``http.body`` of an answer (the reader already removed chunking; the evidence module inflates)."""
    found = http_evidence.body_evidence(response.body, response.headers, path, response.status, chunked_done=True)
    return [] if found is None else [gate.record(step, found, tls=tls or None, truncated=response.truncated or None)]


def _head_observations(gate: Gate, step: Step, response: HttpResponse, tls: bool) -> list[Observation]:
    return [gate.record(step, ev, tls=tls or None, status=response.status)
            for ev in http_evidence.response_headers_evidence(response.headers)]


# -- the client ---------------------------------------------------------------------


class HttpClient:
    """Requests to one port over a keep-alive connection, reopened through the gate when closed."""

    def __init__(
        self,
        gate: Gate,
        target: str,
        port: int,
        tls: ssl.SSLContext | None = None,
        adopt: Session | None = None,
    ) -> None:
        self.gate = gate
        self.target = target
        self.port = port
        self.tls = tls
        self.session = adopt
        self.first_session: Session | None = adopt
        self.requests = 0

    async def connect(self) -> Session:
        if self.session is None or self.session.closed:
            self.session = await self.gate.open(self.target, self.port, tls=self.tls)
            if self.first_session is None:
                self.first_session = self.session
        return self.session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        cap: int = BODY_CAP,
    ) -> tuple[HttpResponse, Step]:
        """Send one request; retries once on a connection the peer dropped. Raises ProbeFailed."""
        for attempt in (0, 1):
            session = await self.connect()
            try:
                return await self._exchange(session, method, path, body, headers, cap)
            except ProbeFailed as exc:
                await self.close()
                if exc.outcome in ("eof", "reset") and attempt == 0:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        session: Session,
        method: str,
        path: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        cap: int,
    ) -> tuple[HttpResponse, Step]:
        timeout = self.gate.scope.timeout
        async with session.exchange(f"http.{method.lower()} {path}", timeout=timeout) as step:
            session.writer.write(
                build_request(
                    method, self.target, self.port, path, body=body, headers=headers, tls=self.tls is not None
                )
            )
            # Stop reading a little before the step's timeout, keeping what arrived.
            deadline = asyncio.get_running_loop().time() + timeout * 0.9
            response = await read_response(session.reader, deadline=deadline, body_cap=cap, method=method)
            step.outcome = f"{response.protocol.lower()} {response.status}"
            if response.truncated:
                step.detail = "truncated"
        self.requests += 1
        if not response.reusable:
            await self.close()
        return response, step

    async def close(self) -> None:
        if self.session is not None:
            await self.session.aclose()
            self.session = None


@dataclass(slots=True)
class HttpResult:
    observations: list[Observation] = field(default_factory=list)
    opened: bool = False  # a connection (and TLS handshake, for HTTPS) succeeded
    refused: bool = False  # the port is closed or unreachable: nothing more to try
    answered: bool = False  # at least one HTTP answer
    looks_tls: bool = False  # the peer seems to want TLS
    looks_rtsp: bool = False  # the peer answered in RTSP


async def probe_http(
    gate: Gate,
    target: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    adopt: Session | None = None,
    report_open: bool = False,
) -> HttpResult:
    """GET / (following same-origin redirects), the favicon, ONVIF and UPnP descriptions."""
    client = HttpClient(gate, target, port, tls, adopt)
    result = HttpResult()
    is_tls = tls is not None
    try:
        first = await _first_page(client, result, is_tls, report_open)
        if first is None:
            return result
        response, step, path = first
        result.answered = True
        out = result.observations
        if response.protocol == "RTSP":
            result.looks_rtsp = True  # the RTSP probe asks it properly
            return result
        if response.status == 400 and re.search(rb"https|ssl|tls", response.body[:4096], re.I):
            result.looks_tls = not is_tls
        if not response.head_complete:
            return result  # a head that never ends: the host is not worth more requests
        title = title_of(response.body, response)
        if title:
            out.append(gate.observe(step, "http.title", title, tls=is_tls or None, status=response.status))
        out.extend(body_observations(gate, step, response, path, is_tls))
        extras = (_favicon, _onvif, _upnp, *((deep.probe_deep,) if gate.scope.deep else ()))
        for extra in extras:
            try:
                await extra(client, result, response, is_tls)
            except ProbeFailed as exc:
                if exc.outcome == "timeout":
                    break  # the host stalls: what was learned so far is the answer
    except ProbeFailed:
        pass  # audited; what was learned so far is the answer
    except ScopeViolation:
        pass  # audited by the gate; cannot happen for a checked target
    finally:
        await client.close()
    return result


async def _first_page(
    client: HttpClient, result: HttpResult, is_tls: bool, report_open: bool
) -> tuple[HttpResponse, Step, str] | None:
    gate = client.gate
    path = "/"
    try:
        await client.connect()
    except ProbeFailed as exc:
        result.refused = exc.connected is None
        if exc.connected is not None and report_open:
            result.observations.append(
                gate.observe(exc.connected, "tcp.open", str(client.port), ended=exc.outcome)
            )
        return None
    result.opened = True
    assert client.first_session is not None
    opened = client.first_session.opened_by
    if report_open:
        result.observations.append(gate.observe(opened, "tcp.open", str(client.port)))
    if is_tls:
        from vendorscope.collect.probe.tls import certificate_observations

        result.observations.extend(
            certificate_observations(gate, opened, client.first_session.peer_certificate())
        )
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response, step = await client.request("GET", path)
        except ProbeFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, NotHttp):
                result.looks_tls = not is_tls and cause.data[:1] in (b"\x15", b"\x16")
            elif exc.outcome in ("eof", "reset") and not is_tls and client.requests == 0:
                result.looks_tls = True  # TLS servers often just hang up on plain text
            if exc.outcome == "timeout" or client.requests == 0:
                return None
            break
        result.observations.extend(_head_observations(gate, step, response, is_tls))
        location = response.header("Location") if 300 <= response.status < 400 else None
        location = location or meta_refresh(response.body)
        follow = same_origin_path(path, location, client.target, client.port, is_tls) if location else None
        if follow is None or follow == path:
            return response, step, path
        path = follow
    return response, step, path


async def _favicon(client: HttpClient, result: HttpResult, page: HttpResponse, is_tls: bool) -> None:
    link = icon_link(page.body)
    path = same_origin_path("/", link, client.target, client.port, is_tls) if link else None
    response, step = await client.request("GET", path or "/favicon.ico", cap=FAVICON_CAP)
    content_type = (response.header("Content-Type") or "").lower()
    if response.status != 200 or not response.body or response.truncated or "text/html" in content_type:
        return
    result.observations.append(
        client.gate.observe(
            step,
            "http.favicon_hash",
            favicon_hash(response.body),
            sha256=hashlib.sha256(response.body).hexdigest(),
            size=len(response.body),
            tls=is_tls or None,
        )
    )


async def _onvif(client: HttpClient, result: HttpResult, page: HttpResponse, is_tls: bool) -> None:
    response, step = await client.request(
        "POST",
        onvif.PATH,
        body=ONVIF_GET_DEVICE_INFORMATION,
        headers=(
            (
                "Content-Type",
                "application/soap+xml; charset=utf-8; "
                'action="http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"',
            ),
        ),
        cap=XML_CAP,
    )
    info = onvif.parse_device_information(response.body) if response.status == 200 else {}
    if not info:
        return
    result.observations.extend(client.gate.record(step, ev, tls=is_tls or None)
                               for ev in onvif.device_information_evidence(info))


async def _upnp(client: HttpClient, result: HttpResult, page: HttpResponse, is_tls: bool) -> None:
    for path in upnp.DESCRIPTION_PATHS:
        response, step = await client.request("GET", path, cap=XML_CAP)
        info = upnp.parse_description(response.body) if response.status == 200 else {}
        if not info:
            continue
        result.observations.extend(client.gate.record(step, ev, tls=is_tls or None)
                                   for ev in upnp.description_evidence(info))
        return
