"""nmap XML (``-oX``) → observations, streamed in constant memory.

The file is cut into ``<host>`` elements at the byte level and each one is
parsed on its own with defusedxml, so a multi-GB scan needs no more memory
than its largest host, and a broken host (unclosed tag, an entity reference,
garbage) is one bad record: the hosts before and after it still land. An
entity declared in the DTD is reported and never expanded: a host that uses
one fails to parse ("undefined entity").

Per host: IP, MAC and nmap's MAC vendor, hostnames; per open port: the
product nmap's service detection names, CPEs, and the output of the scripts
that carry evidence (banner, snmp-sysdescr, ssh-hostkey, ssl-cert,
http-server-header, http-title, rtsp-methods, fingerprint-strings); OS
matches and their CPEs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from vendorscope.collect.imports.common import (
    Collector,
    clean,
    found,
    ip_or_none,
    mac_or_none,
    observation,
    utc_from_epoch,
)
from vendorscope.evidence import greeting, tls
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence.record import DecodeError, Evidence
from vendorscope.evidence.snmp import display_string
from vendorscope.model import AssetKeys, Observation

CHUNK = 1 << 20
MAX_HOST_BYTES = 64 << 20  # a host element larger than this is refused, not buffered
MAX_PROLOG = 1 << 20
_HOST_OPEN = re.compile(rb"<host[\s>]")
_HOST_CLOSE = b"</host>"
_NMAPRUN = re.compile(rb"<nmaprun\b[^>]*>")
_START_ATTR = re.compile(rb'\bstart="(\d+)"')
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_NMAP_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
_FP_NULL = re.compile(r'%r\(NULL,[0-9A-Fa-f]+,"((?:[^"\\]|\\.)*)"\)')
_FP_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)")
_FP_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "0": "\0"}
_UPTIME_LINE = re.compile(r"\n\s*System uptime:.*$", re.S)
# OpenSSL one-line order; other attributes follow in nmap's order.
_DN_ORDER = (
    ("countryName", "C"),
    ("stateOrProvinceName", "ST"),
    ("localityName", "L"),
    ("organizationName", "O"),
    ("organizationalUnitName", "OU"),
    ("commonName", "CN"),
)
_DN_SHORT = dict(_DN_ORDER) | {"emailAddress": "emailAddress", "serialNumber": "serialNumber"}
OPEN_STATES = frozenset({"open"})


# -- cutting the stream into hosts -------------------------------------------------------


class _Prolog:
    """What the part of the file before the first host says about it."""

    def __init__(self) -> None:
        self.data = b""
        self.done = False
        self.scan_start: datetime | None = None
        self.is_nmap = False

    def feed(self, data: bytes) -> None:
        if not self.done and len(self.data) < MAX_PROLOG:
            self.data += data[: MAX_PROLOG - len(self.data)]

    def finish(self, file: str, collector: Collector) -> None:
        if self.done:
            return
        self.done = True
        m = _NMAPRUN.search(self.data)
        self.is_nmap = m is not None
        if m is not None:
            start = _START_ATTR.search(m.group(0))
            self.scan_start = utc_from_epoch(start.group(1).decode()) if start else None
        decl = _ENTITY_DECL.search(self.data)
        if decl is not None:
            line = self.data.count(b"\n", 0, decl.start()) + 1
            collector.bad(file, f"line {line}", "the DTD declares entities; they are never expanded "
                          "(hosts that use them are refused)")
        self.data = b""


def host_fragments(
    stream: IO[bytes], file: str, collector: Collector, prolog: _Prolog | None = None
) -> Iterator[tuple[int, bytes]]:
    """Each ``<host>…</host>`` element's bytes with the line it starts on.

    A host that never closes (another host starts first, or the file ends)
    or that is larger than ``MAX_HOST_BYTES`` is a bad record.
    """
    prolog = prolog or _Prolog()
    buf = b""
    pos = 0  # where the unconsumed part of buf starts
    line = 1  # line number at buf[pos]
    in_host = False  # buf[pos:] starts with "<host"
    scanned = 0  # offset from pos already searched for the end of the host
    eof = False

    def drop(n: int) -> None:
        """Consume n bytes from pos."""
        nonlocal pos, line, scanned
        line += buf.count(b"\n", pos, pos + n)
        pos += n
        scanned = 0

    def check_prolog(upto: int) -> bool:
        """Feed the prolog; False when the file turned out not to be nmap XML."""
        prolog.feed(buf[pos : pos + upto])
        prolog.finish(file, collector)
        if not prolog.is_nmap:
            collector.bad(file, "", "not nmap XML output (no <nmaprun> element)")
        return prolog.is_nmap

    while True:
        if not eof:
            data = stream.read(CHUNK)
            eof = not data
            buf = buf[pos:] + data  # compact once per read, not once per host
            pos = 0
        while True:
            size = len(buf) - pos
            if not in_host:
                m = _HOST_OPEN.search(buf, pos)
                if m is None:
                    cut = size if eof else max(0, size - 6)  # keep a tag cut at the boundary
                    if not prolog.done:
                        prolog.feed(buf[pos : pos + cut])
                    drop(cut)
                    break
                if not prolog.done and not check_prolog(m.start() - pos):
                    return
                drop(m.start() - pos)
                in_host = True
                size = len(buf) - pos
            start = pos + max(5, scanned - len(_HOST_CLOSE))
            end = buf.find(_HOST_CLOSE, start)
            again = _HOST_OPEN.search(buf, start, end if end >= 0 else len(buf))
            if again is not None:
                collector.bad(file, f"<host> at line {line}", "element not closed before the next <host>")
                drop(again.start() - pos)
                continue
            if end >= 0:
                stop = end + len(_HOST_CLOSE)
                fragment, start_line = buf[pos:stop], line
                drop(stop - pos)
                in_host = False
                yield start_line, fragment
                continue
            scanned = size
            if size > MAX_HOST_BYTES:
                collector.bad(file, f"<host> at line {line}", f"element larger than {MAX_HOST_BYTES >> 20} MB")
                drop(size - 6)  # go on at the next <host>
                in_host = False
                continue
            if eof:
                collector.bad(file, f"<host> at line {line}", "file ends inside the element (scan interrupted?)")
                return
            break
        if eof:
            if not prolog.done:
                check_prolog(len(buf) - pos)
            return


def read_nmap(
    stream: IO[bytes], file: str, source: str, collector: Collector, now: datetime
) -> Iterator[Observation]:
    """Observations from an nmap XML stream; bad hosts go to ``collector``."""
    prolog = _Prolog()
    for line, fragment in host_fragments(stream, file, collector, prolog):
        try:
            host = fromstring(fragment)
        except ParseError as exc:
            row, _col = getattr(exc, "position", (1, 0))
            reason = str(exc).split(":", 1)[0]
            collector.bad(file, f"<host> at line {line + row - 1}", f"malformed XML: {reason}")
            continue
        except DefusedXmlException as exc:
            collector.bad(file, f"<host> at line {line}", f"refused XML construct: {exc}")
            continue
        except ValueError as exc:  # e.g. bytes that are not UTF-8
            collector.bad(file, f"<host> at line {line}", f"unreadable element: {exc}")
            continue
        collector.good()
        yield from host_observations(host, source=source, file=file, line=line,
                                     default_time=prolog.scan_start or now)


# -- one host ---------------------------------------------------------------------------


def host_observations(
    host: Element, *, source: str, file: str, line: int, default_time: datetime | None
) -> list[Observation]:
    """Everything one ``<host>`` element says (nothing for hosts that are not up)."""
    status = host.find("status")
    if status is not None and status.get("state") not in (None, "up"):
        return []
    ip = mac = mac_vendor = None
    for address in host.iterfind("address"):
        kind = address.get("addrtype")
        if kind in ("ipv4", "ipv6") and ip is None:
            ip = ip_or_none(address.get("addr"))
        elif kind == "mac" and mac is None:
            mac = mac_or_none(address.get("addr"))
            mac_vendor = clean(address.get("vendor"), 256)
    hostname = next(
        (name for h in host.iterfind("hostnames/hostname") if (name := clean(h.get("name"), 255))), None
    )
    seen_at = utc_from_epoch(host.get("endtime")) or utc_from_epoch(host.get("starttime")) or default_time
    keys = AssetKeys(mac=mac, ip=ip, hostname=hostname)
    out: list[Observation] = []
    seen: set[tuple[str, str]] = set()

    def emit(kind: str, value: str | None, **context: Any) -> None:
        if not value or (kind, value) in seen:
            return
        seen.add((kind, value))
        out.append(observation(kind, value, source=source, seen_at=seen_at, keys=keys,
                               file=file, line=line, element="host", **context))

    if mac:
        emit("mac", mac)
        emit("nmap.mac_vendor", mac_vendor)
    for port in host.iterfind("ports/port"):
        state = port.find("state")
        if state is None or state.get("state") not in OPEN_STATES:
            continue
        for ev in port_evidence(port):
            emit(ev.kind, ev.value, **(ev.context or {}))
    for script in host.iterfind("hostscript/script"):
        for ev in script_evidence(script, service="", port=None):
            emit(ev.kind, ev.value, **(ev.context or {}))
    for ev in os_evidence(host):
        emit(ev.kind, ev.value, **(ev.context or {}))
    return out




def port_evidence(port: Element) -> list[Evidence]:
    """Evidence of one open port: service product, CPEs, scripts, the NULL-probe greeting."""
    number = _int(port.get("portid"))
    protocol = port.get("protocol") or "tcp"
    service = port.find("service")
    name = (service.get("name") if service is not None else None) or ""
    where: dict[str, Any] = {"port": number, "protocol": protocol, "service": name or None}
    out: list[Evidence] = []
    if service is not None:
        product = clean(service.get("product"), 256)
        if product and service.get("method") == "probed":
            out.extend(found("scan.product_vendor", product, {
                **where, "product": product, "version": clean(service.get("version"), 128),
                "extrainfo": clean(service.get("extrainfo"), 256), "devicetype": service.get("devicetype"),
                "scanner": "nmap",
            }))
        if name == "snmp" and (sysname := clean(service.get("hostname"), 255)):
            out.extend(found("snmp.sysname", sysname, where))
        for cpe in service.iterfind("cpe"):
            out.extend(found("cpe", clean(cpe.text, 512), where))
    banner_seen = False
    for script in port.iterfind("script"):
        from_script = script_evidence(script, service=name, port=number)
        banner_seen = banner_seen or any(ev.kind.endswith(".banner") for ev in from_script)
        out.extend(ev._replace(context={**where, **(ev.context or {})}) for ev in from_script)
    if service is not None and not banner_seen and number is not None:
        response = null_probe_response(service.get("servicefp") or "")
        classified = greeting.classify(number, response, name or None) if response else None
        if classified is not None:
            out.append(classified._replace(context={**where, "from": "servicefp"}))
    return out


def script_evidence(script: Element, *, service: str, port: int | None) -> list[Evidence]:
    """Evidence in the output of one NSE script (unknown scripts give none)."""
    sid = script.get("id") or ""
    output = script.get("output") or ""
    ctx: dict[str, Any] = {"script": sid}
    if sid == "snmp-sysdescr":
        return found("snmp.sysdescr", display_string(_UPTIME_LINE.sub("", output).encode("utf-8", "replace")), ctx)
    if sid == "ssh-hostkey":
        keys: list[Evidence] = []
        for table in script.iterfind("table"):
            fields = _elems(table)
            if fields.get("fingerprint"):
                keys.extend(found("ssh.hostkey", f"{fields.get('type', '?')} {fields['fingerprint']}",
                             {**ctx, "bits": _int(fields.get("bits"))}))
        return keys
    if sid == "ssl-cert":
        fields = _elems(script)
        extra = {**ctx, "sha1": fields.get("sha1")}
        der = pem_certificate(fields.get("pem"))
        if der is not None:  # the certificate itself: read as a probe or a capture reads it
            try:
                return tls.parse_certificate(der).evidence(extra)
            except DecodeError:
                pass  # fall back to the fields nmap printed
        subject, issuer = script.find("table[@key='subject']"), script.find("table[@key='issuer']")
        validity = script.find("table[@key='validity']")
        dates = _elems(validity) if validity is not None else {}
        return tls.certificate_evidence(
            distinguished_name(subject) if subject is not None else None,
            distinguished_name(issuer) if issuer is not None else None,
            serial=clean(fields.get("serial"), 128), not_before=clean(dates.get("notBefore"), 64),
            not_after=clean(dates.get("notAfter"), 64), san=subject_alt_names(script), extra=extra)
    if sid == "http-server-header":
        kind = "rtsp.server" if service.startswith("rtsp") else "http.server"
        values = [e.text for e in script.iterfind("elem") if e.text] or output.splitlines()
        return [ev for v in values for ev in found(kind, clean(v, 1024), ctx)]
    if sid == "http-title":
        title = _elems(script).get("title")
        return found("http.title", http_evidence.title_text(title), ctx) if title else []
    if sid == "rtsp-methods":
        return [*found("rtsp.methods", clean(output, 512), ctx)]
    if sid == "banner":
        data = unescape_banner(output)
        classified = greeting.classify(port or 0, data, service or None) if data else None
        return [classified._replace(context=ctx)] if classified is not None else []
    if sid == "fingerprint-strings":
        return fingerprint_headers(script, ctx)
    return []


def os_evidence(host: Element) -> list[Evidence]:
    """nmap's best OS match, and the CPEs of its classes."""
    best = host.find("os/osmatch")
    if best is None:
        return []
    context = {"accuracy": _int(best.get("accuracy")), "from": "os"}
    out: list[Evidence] = [*found("nmap.os", clean(best.get("name"), 256), context)]
    for osclass in best.iterfind("osclass"):
        for cpe in osclass.iterfind("cpe"):
            out.extend(found("cpe", clean(cpe.text, 512), {**context, "os_vendor": osclass.get("vendor"),
                                                       "device_type": osclass.get("type")}))
    return out


# -- nmap's text encodings -------------------------------------------------------------


def distinguished_name(table: Element) -> str:
    """An nmap ssl-cert subject/issuer table in RFC 4514 spelling (``CN=x,O=Huawei,C=CN``)."""
    fields = _elems(table)
    pairs = [(short, fields.pop(long)) for long, short in _DN_ORDER if fields.get(long)]
    pairs.extend((_DN_SHORT.get(k, k), v) for k, v in fields.items() if v)
    return tls.dn_from_pairs(pairs)


def pem_certificate(pem: str | None) -> bytes | None:
    """The DER bytes of the PEM certificate nmap's ssl-cert prints, or None."""
    if not pem or "-----BEGIN CERTIFICATE-----" not in pem:
        return None
    body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def subject_alt_names(script: Element) -> list[str]:
    """DNS names and IP addresses of the ssl-cert script's Subject Alternative Name extension."""
    for ext in script.iterfind("table[@key='extensions']/table"):
        fields = _elems(ext)
        if fields.get("name") == "X509v3 Subject Alternative Name" and fields.get("value"):
            names = [part.strip() for part in fields["value"].split(",")]
            return [n.split(":", 1)[1].strip() for n in names if n.startswith(("DNS:", "IP Address:"))]
    return []


def unescape_banner(output: str) -> bytes:
    """The bytes behind the banner script's output (``\\xNN`` escapes, wrapped lines, ``...``)."""
    text = output.replace("\n", "")
    if text.endswith("..."):
        text = text[:-3]
    raw = bytearray()
    pos = 0
    for m in _NMAP_ESCAPE.finditer(text):
        raw += text[pos : m.start()].encode("utf-8", "replace")
        raw.append(int(m.group(1), 16))
        pos = m.end()
    raw += text[pos:].encode("utf-8", "replace")
    return bytes(raw)


def null_probe_response(servicefp: str) -> bytes | None:
    """What the service sent unprompted, from a service fingerprint's ``r(NULL,…)`` entry."""
    m = _FP_NULL.search(servicefp)
    if m is None:
        return None

    def one(esc: re.Match[str]) -> str:
        code = esc.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        return _FP_SIMPLE.get(code, code)

    return _FP_ESCAPE.sub(one, m.group(1)[:4096]).encode("latin-1", "replace")


def fingerprint_headers(script: Element, ctx: dict[str, Any]) -> list[Evidence]:
    """Server and WWW-Authenticate headers in the answers a fingerprint-strings script shows."""
    out: list[Evidence] = []
    for elem in script.iterfind("elem"):
        lines = [line.strip() for line in (elem.text or "").splitlines() if line.strip()]
        if not lines or not lines[0].startswith(("HTTP/", "RTSP/")):
            continue
        protocol = "rtsp" if lines[0].startswith("RTSP/") else "http"
        pairs = [(name, value) for name, sep, value in (line.partition(":") for line in lines[1:]) if sep]
        out.extend(ev._replace(context={**ctx, "probe": elem.get("key"), **(ev.context or {})})
                   for ev in http_evidence.response_headers_evidence(pairs, protocol))
    return out


def _elems(table: Element) -> dict[str, str]:
    return {e.get("key") or "": (e.text or "").strip() for e in table.iterfind("elem")}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
