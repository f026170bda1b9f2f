"""Internet-scan data (JSON lines, optionally gzip) → observations.

Three shapes are recognised line by line, so files can even be mixed:

- Shodan banners (``shodan download`` / the streaming API): one service per
  line with ``ip_str``, ``port``, ``data`` (the raw banner), ``product``,
  ``cpe``/``cpe23``, ``http``, ``ssl.cert``, ``snmp``; a Shodan host record
  (``data`` a list of banners) is unrolled.
- Censys host records (search API, BigQuery export, ``result``/``resource``
  wrappers): ``ip`` and ``services[]`` with ``banner``, ``software[]``,
  ``http.response``, ``tls.certificates.leaf_data``, ``ssh.endpoint_id``,
  ``snmp.oid_system``.
- ZGrab2 results: ``ip`` and ``data.<module>.result`` for the ssh, http,
  tls, banner, ftp, telnet and smtp modules.

Every observation is keyed by IP only: scan data's hostnames come from
reverse DNS and certificates and would merge unrelated hosts; they are kept
in the context instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import msgspec

from vendorscope.collect.imports.common import (
    Collector,
    clean,
    found,
    ip_or_none,
    mac_or_none,
    observation,
    parse_time,
)
from vendorscope.evidence import greeting, tls
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence.record import Evidence
from vendorscope.model import AssetKeys, Observation

MAX_LINE = 32 << 20
_DN_ORDER = ("C", "ST", "L", "O", "OU", "CN")
_GREETING_PORTS = {"ssh": 22, "telnet": 23, "ftp": 21, "smtp": 25}
_decode = msgspec.json.Decoder().decode



class RecordError(ValueError):
    """A record that has the wrong shape (the message names the field)."""


# -- lines ----------------------------------------------------------------------------------


def json_lines(stream: IO[bytes], file: str, collector: Collector) -> Iterator[tuple[int, Any]]:
    """(line number, decoded JSON) per non-empty line; broken and oversized lines are bad records."""
    lineno = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while True:
                more = stream.readline(MAX_LINE)
                if not more or more.endswith(b"\n"):
                    break
            collector.bad(file, f"line {lineno}", f"longer than {MAX_LINE >> 20} MB")
            continue
        if not raw.strip():
            continue
        try:
            yield lineno, _decode(raw)
        except msgspec.DecodeError as exc:
            collector.bad(file, f"line {lineno}", f"not JSON ({exc})")


def read_scandata(
    stream: IO[bytes], file: str, source: str, collector: Collector, now: datetime
) -> Iterator[Observation]:
    """Observations from a JSON-lines scan export; records of unknown shape are bad records."""
    for lineno, record in json_lines(stream, file, collector):
        try:
            found = record_observations(record, source=source, file=file, line=lineno, now=now)
        except RecordError as exc:
            collector.bad(file, f"line {lineno}", str(exc))
            continue
        collector.good()
        yield from found


def record_observations(record: Any, *, source: str, file: str, line: int, now: datetime) -> list[Observation]:
    """The observations of one record, whichever scanner made it; raises RecordError."""
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    for wrapper in ("result", "resource", "host"):
        inner = record.get(wrapper)
        if isinstance(inner, dict) and ("services" in inner or "ip" in inner):
            record = inner
            break
    if "_shodan" in record or "ip_str" in record:
        banners = record.get("data")
        if isinstance(banners, list):  # a Shodan host record
            out: list[Observation] = []
            for banner in banners:
                if isinstance(banner, dict):
                    merged = {"ip_str": record.get("ip_str"), **banner}
                    out.extend(_build(shodan_evidence(merged), merged, source, file, line, now, "shodan"))
            return out
        return _build(shodan_evidence(record), record, source, file, line, now, "shodan")
    if isinstance(record.get("services"), list):
        return _build(censys_evidence(record), record, source, file, line, now, "censys")
    if isinstance(record.get("data"), dict):
        return _build(zgrab_evidence(record), record, source, file, line, now, "zgrab2")
    raise RecordError("not a Shodan banner, Censys host or ZGrab2 result (no ip_str/_shodan, services or data)")


def _build(
    parsed: tuple[str | None, datetime | None, dict[str, Any], list[Evidence]],
    record: dict[str, Any], source: str, file: str, line: int, now: datetime, scanner: str,
) -> list[Observation]:
    ip_text, seen_at, extra, evidence = parsed
    ip = ip_or_none(ip_text)
    if ip is None:
        raise RecordError(f"no usable IP address ({str(ip_text)[:60]!r})" if ip_text else "no IP address")
    mac = extra.pop("mac", None)
    keys = AssetKeys(ip=ip, mac=mac)
    out: list[Observation] = []
    seen: set[tuple[str, str]] = set()
    if mac:
        evidence = [*found("mac", mac), *evidence]
    for ev in evidence:
        if (ev.kind, ev.value) in seen:
            continue
        seen.add((ev.kind, ev.value))
        out.append(observation(ev.kind, ev.value, source=source, seen_at=seen_at or now, keys=keys, file=file,
                               line=line, scanner=scanner, **{**extra, **(ev.context or {})}))
    return out


# -- shared pieces ----------------------------------------------------------------------------


def _text(value: Any, limit: int = 1024) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, (str, int, float)):
        return None
    return clean(value, limit)


def _get(data: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def head_evidence(head: str, where: dict[str, Any]) -> list[Evidence]:
    """Server and WWW-Authenticate of an HTTP or RTSP response head (as Shodan's ``data`` holds it)."""
    if not head.startswith(("HTTP/", "RTSP/")):
        return []
    protocol = "rtsp" if head.startswith("RTSP/") else "http"
    data = head.encode("utf-8", "replace")
    end = http_evidence.header_end(data)
    return _with(http_evidence.response_evidence(data[:end] if end > 0 else data, protocol), where)


def header_evidence(headers: Any, where: dict[str, Any], protocol: str = "http") -> list[Evidence]:
    """Server and WWW-Authenticate from a headers object ({name: [values]} or {name: value})."""
    if not isinstance(headers, dict):
        return []
    pairs = [(str(name).replace("_", "-"), str(value)) for name, values in headers.items()
             for value in (values if isinstance(values, list) else [values]) if isinstance(value, (str, int, float))]
    return _with(http_evidence.response_headers_evidence(pairs, protocol), where)


def _with(found_here: list[Evidence], where: dict[str, Any]) -> list[Evidence]:
    """Evidence with the record's place added to its context."""
    return [ev._replace(context={**where, **(ev.context or {})}) for ev in found_here]


def banner_evidence(banner: str | None, port: int | None, service: str, where: dict[str, Any]) -> list[Evidence]:
    """A raw banner: an HTTP/RTSP head gives headers, a greeting gives its kind of banner."""
    if not banner:
        return []
    if banner.startswith(("HTTP/", "RTSP/")):
        return head_evidence(banner, where)
    try:  # scanners carry raw bytes as code points U+0000..U+00FF (Telnet IAC is "\xff")
        data = banner.encode("latin-1")
    except UnicodeEncodeError:
        data = banner.encode("utf-8", "replace")
    guess_port = port if port is not None else _GREETING_PORTS.get(service, 0)
    classified = greeting.classify(guess_port, data, service or None)
    # Scanners keep banners of every service there is: only greetings of a known protocol are evidence.
    if classified is None or classified.kind == "tcp.banner":
        return []
    return [classified._replace(context=where)]


def dn_from_fields(fields: Any) -> str | None:
    """A subject/issuer object ({"C": "CN", "O": "Huawei"} or Censys' long names) in RFC 4514 spelling."""
    if not isinstance(fields, dict):
        return None
    flat: dict[str, str] = {}
    for name, value in fields.items():
        text = _text(value, 256)
        if text:
            flat[tls.DN_SHORT_NAMES.get(str(name), str(name))] = text
    pairs = [(k, flat.pop(k)) for k in _DN_ORDER if k in flat]
    pairs.extend(flat.items())
    return tls.dn_from_pairs(pairs) or None


def dn_text(value: Any) -> str | None:
    """A distinguished name a scanner wrote as text, in RFC 4514 spelling."""
    text = _text(value, 1024)
    return (tls.canonical_dn(text) or None) if text else None


def html_title(body: Any) -> str | None:
    if not isinstance(body, str):
        return None
    return http_evidence.title(body[: http_evidence.TITLE_SCAN].encode("utf-8", "replace"), "utf-8")


def body_found(body: Any, path: Any, where: dict[str, Any], status: Any = None) -> list[Evidence]:
    """``http.body`` of a body a scanner already decoded to text (ZGrab2 ``body``, Censys ``body``, Shodan ``html``)."""
    if not isinstance(body, str) or not body:
        return []
    found_body = http_evidence.body_evidence(
        body[: http_evidence.BODY_CAP].encode("utf-8", "replace"), [("content-type", "text/plain; charset=utf-8")],
        path if isinstance(path, str) else None, status if isinstance(status, int) else None, chunked_done=True)
    if found_body is None:
        return []
    context = {**where, **(found_body.context or {})}
    context.pop("content_type", None)  # ours, not the device's
    return [found_body._replace(context=context)]


def _title(value: Any) -> str | None:
    """A title the scanner already extracted, unescaped and capped as every source does."""
    text = _text(value, 4096)
    return http_evidence.title_text(text) if text else None


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and 0 <= value <= 65535 else None


# -- Shodan ---------------------------------------------------------------------------------------


def shodan_evidence(rec: dict[str, Any]) -> tuple[str | None, datetime | None, dict[str, Any], list[Evidence]]:
    port = _port(rec.get("port"))
    module = str(_get(rec, "_shodan", "module") or "")
    service = module.split("-")[0] if module else ""
    where: dict[str, Any] = {"port": port, "transport": rec.get("transport"), "module": module or None}
    out: list[Evidence] = []
    product = _text(rec.get("product"), 256)
    if product:
        out.extend(found("scan.product_vendor", product, {**where, "version": _text(rec.get("version"), 128),
                                                      "devicetype": _text(rec.get("devicetype"), 64)}))
    for field in ("cpe23", "cpe"):
        values = rec.get(field)
        for cpe in values if isinstance(values, list) else [values]:
            if isinstance(cpe, str) and cpe.startswith("cpe:"):
                out.extend(found("cpe", clean(cpe, 512), where))
    data = rec.get("data")
    if isinstance(data, str):
        out.extend(banner_evidence(data, port, service, where))
    http = rec.get("http")
    if isinstance(http, dict):
        kind = "rtsp.server" if service == "rtsp" else "http.server"
        if (server := _text(http.get("server"))) is not None:
            out.extend(found(kind, server, where))
        if (title := _title(http.get("title"))) is not None:
            out.extend(found("http.title", title, where))
        out.extend(body_found(http.get("html"), http.get("location"), where, http.get("status")))
    cert = _get(rec, "ssl", "cert")
    if isinstance(cert, dict):
        out.extend(_certificate(dn_from_fields(cert.get("subject")), dn_from_fields(cert.get("issuer")), cert,
                                {**where, "sha1": _get(cert, "fingerprint", "sha1")}))
    snmp = rec.get("snmp")
    if isinstance(snmp, dict):
        out.extend(found("snmp.sysdescr", _text(snmp.get("description")), where))
        out.extend(found("snmp.sysname", _text(snmp.get("name"), 255), where))
        out.extend(found("snmp.sysobjectid", _text(snmp.get("objectid") or snmp.get("object_id"), 255), where))
    extra: dict[str, Any] = {}
    hostnames = rec.get("hostnames")
    if isinstance(hostnames, list) and hostnames:
        extra["hostnames"] = [h for h in hostnames[:5] if isinstance(h, str)]
    mac = rec.get("mac")
    if isinstance(mac, dict) and mac:
        extra["mac"] = mac_or_none(next(iter(mac)))
    elif isinstance(mac, str):
        extra["mac"] = mac_or_none(mac)
    return rec.get("ip_str") or rec.get("ipv6"), parse_time(rec.get("timestamp")), extra, out


# -- Censys ---------------------------------------------------------------------------------------


def censys_evidence(rec: dict[str, Any]) -> tuple[str | None, datetime | None, dict[str, Any], list[Evidence]]:
    out: list[Evidence] = []
    for service in rec["services"]:
        if not isinstance(service, dict):
            raise RecordError("services[] holds something other than objects")
        out.extend(censys_service(service))
    os_ = rec.get("operating_system")
    if isinstance(os_, dict):
        out.extend(_software([os_], {"from": "operating_system"}))
    extra: dict[str, Any] = {}
    names = _get(rec, "dns", "reverse_dns", "names") or _get(rec, "dns", "names")
    if isinstance(names, list) and names:
        extra["hostnames"] = [n for n in names[:5] if isinstance(n, str)]
    when = parse_time(rec.get("last_updated_at") or rec.get("observed_at"))
    return rec.get("ip"), when, extra, out


def _software(items: Any, where: dict[str, Any]) -> list[Evidence]:
    out: list[Evidence] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        vendor = _text(item.get("vendor"), 256)
        if vendor:
            out.extend(found("scan.product_vendor", vendor, {**where, "product": _text(item.get("product"), 256),
                                                         "version": _text(item.get("version"), 128)}))
        cpe = item.get("uniform_resource_identifier") or item.get("cpe")
        if isinstance(cpe, str) and cpe.startswith("cpe:"):
            out.extend(found("cpe", clean(cpe, 512), where))
    return out


def censys_service(service: dict[str, Any]) -> list[Evidence]:
    port = _port(service.get("port"))
    name = str(service.get("service_name") or service.get("protocol") or "").lower()
    where: dict[str, Any] = {"port": port, "transport": service.get("transport_protocol"), "service": name or None}
    out = _software(service.get("software"), where)
    raw_ssh = _get(service, "ssh", "endpoint_id", "raw")
    if isinstance(raw_ssh, str):
        out.extend(banner_evidence(raw_ssh, port, "ssh", where))
    banner = service.get("banner")
    if isinstance(banner, str) and not (raw_ssh and banner.startswith("SSH-")):
        out.extend(banner_evidence(banner, port, name, where))
    response = _get(service, "http", "response")
    if isinstance(response, dict):
        out.extend(header_evidence(response.get("headers"), where, "rtsp" if name == "rtsp" else "http"))
        if (title := _title(response.get("html_title"))) is not None:
            out.extend(found("http.title", title, where))
        out.extend(body_found(response.get("body"), _get(service, "http", "request", "uri"), where,
                              response.get("status_code")))
    leaf = _get(service, "tls", "certificates", "leaf_data") or _get(service, "cert", "parsed")
    if isinstance(leaf, dict):
        subject = dn_text(leaf.get("subject_dn")) or dn_from_fields(leaf.get("subject"))
        issuer = dn_text(leaf.get("issuer_dn")) or dn_from_fields(leaf.get("issuer"))
        out.extend(_certificate(subject, issuer, leaf, {**where, "sha256": _text(leaf.get("fingerprint"), 128)}))
    system = _get(service, "snmp", "oid_system")
    if isinstance(system, dict):
        out.extend(found("snmp.sysdescr", _text(system.get("desc")), where))
        out.extend(found("snmp.sysname", _text(system.get("name"), 255), where))
        out.extend(found("snmp.sysobjectid", _text(system.get("object_id"), 255), where))
    return out


# -- ZGrab2 ---------------------------------------------------------------------------------------


def zgrab_evidence(rec: dict[str, Any]) -> tuple[str | None, datetime | None, dict[str, Any], list[Evidence]]:
    out: list[Evidence] = []
    when: datetime | None = None
    for module_name, module in rec["data"].items():
        if not isinstance(module, dict):
            raise RecordError(f"data.{str(module_name)[:40]} is not an object")
        if module.get("status") not in (None, "success") and not module.get("result"):
            continue
        when = when or parse_time(module.get("timestamp"))
        protocol = str(module.get("protocol") or module_name).lower()
        result = module.get("result")
        if isinstance(result, dict):
            out.extend(zgrab_result(protocol, result, {"module": str(module_name)[:64]}))
    return rec.get("ip"), when, ({"domain": rec["domain"]} if isinstance(rec.get("domain"), str) else {}), out


def _zgrab_cert(handshake: Any, where: dict[str, Any]) -> list[Evidence]:
    parsed = _get(handshake, "server_certificates", "certificate", "parsed")
    if not isinstance(parsed, dict):
        return []
    subject = dn_text(parsed.get("subject_dn")) or dn_from_fields(parsed.get("subject"))
    issuer = dn_text(parsed.get("issuer_dn")) or dn_from_fields(parsed.get("issuer"))
    return _certificate(subject, issuer, parsed, {**where, "sha256": _text(parsed.get("fingerprint_sha256"), 128)})


def _certificate(subject: str | None, issuer: str | None, cert: dict[str, Any],
                 where: dict[str, Any]) -> list[Evidence]:
    """A certificate's evidence from a scanner's fields (Shodan, Censys and ZGrab2 spell them alike)."""
    serial = cert.get("serial") or cert.get("serial_number")
    if isinstance(serial, int):
        serial = format(serial, "x")
    validity = cert.get("validity")
    validity = validity if isinstance(validity, dict) else {}
    start = validity.get("start") or validity.get("not_before")
    end = validity.get("end") or validity.get("not_after")
    names = _get(cert, "extensions", "subject_alt_name", "dns_names") or cert.get("names") or []
    return tls.certificate_evidence(
        subject, issuer, serial=_text(serial, 128), not_before=_text(start, 64), not_after=_text(end, 64),
        san=[n for n in names if isinstance(n, str)] if isinstance(names, list) else [], extra=where)


def zgrab_result(protocol: str, result: dict[str, Any], where: dict[str, Any]) -> list[Evidence]:
    out: list[Evidence] = []
    if protocol == "ssh":
        raw = _get(result, "server_id", "raw")
        if isinstance(raw, str):
            out.extend(banner_evidence(raw, 22, "ssh", where))
    elif protocol == "http":
        response = result.get("response")
        if isinstance(response, dict):
            out.extend(header_evidence(response.get("headers"), where))
            if (title := html_title(response.get("body"))) is not None:
                out.extend(found("http.title", title, where))
            out.extend(body_found(response.get("body"), _get(response, "request", "url", "path"), where,
                                  response.get("status_code")))
            out.extend(_zgrab_cert(_get(response, "request", "tls_log", "handshake_log"), where))
    elif protocol == "tls":
        out.extend(_zgrab_cert(result.get("handshake_log"), where))
    elif isinstance(result.get("banner"), str):
        out.extend(banner_evidence(result["banner"], None, protocol, where))
    return out
