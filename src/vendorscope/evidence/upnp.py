"""UPnP: SSDP discovery (SERVER, USN and LOCATION of announcements and search answers, the
USER-AGENT of searches) and device descriptions (manufacturer, model).

Weak signals (hint kinds): the ST/NT a device announces (``ssdp.st``: vendor device types such as
``urn:schemas-…:device:…``) and the ``X-User-Agent`` some stacks add to answers (``ssdp.user_agent``)."""

from __future__ import annotations

from vendorscope.evidence import xml
from vendorscope.evidence.http import http_headers
from vendorscope.evidence.record import DecodeError, Evidence

PORTS = frozenset({1900})  # SSDP, UDP
DESCRIPTION_PATHS = ("/rootDesc.xml", "/description.xml")
_WANTED = frozenset({"manufacturer", "modelName", "modelNumber", "friendlyName", "serialNumber",
                     "modelDescription", "manufacturerURL"})


def parse_description(data: bytes) -> dict[str, str]:
    """The root device's manufacturer, modelName, modelNumber, friendlyName, serialNumber."""
    root = xml.root(data)
    if root is None:
        return {}
    device = next((el for el in root.iter() if xml.local(el.tag) == "device"), None)
    if device is None:
        return {}
    out: dict[str, str] = {}
    for el in device:  # direct children only: embedded devices are other functions of the same box
        name = xml.local(el.tag)
        if name in _WANTED and el.text and el.text.strip():
            out[name] = xml.field_text(el.text)
    return out


def description_evidence(info: dict[str, str]) -> list[Evidence]:
    """upnp.manufacturer and upnp.model (model name and number) of a device description."""
    serial = info.get("serialNumber")
    extra = {"friendly_name": info.get("friendlyName"), "model_number": info.get("modelNumber"),
             "description": info.get("modelDescription"), "serial": serial}
    out = []
    if info.get("manufacturer"):
        out.append(Evidence("upnp.manufacturer", info["manufacturer"], serial=serial,
                            context={"model": info.get("modelName"), **extra}))
    model = " ".join(v for v in (info.get("modelName"), info.get("modelNumber")) if v)
    if model:
        out.append(Evidence("upnp.model", model, serial=serial,
                            context={"manufacturer": info.get("manufacturer"), **extra}))
    return out


def decode_ssdp(payload: bytes) -> list[Evidence]:
    if not payload.startswith((b"NOTIFY ", b"HTTP/1.", b"M-SEARCH ")):
        raise DecodeError("not an SSDP message")
    start, headers = http_headers(payload)
    facts: list[Evidence] = []
    if start.startswith("M-SEARCH"):
        facts.extend(Evidence("http.user_agent", v) for v in headers.get("user-agent", ()) if v)
        return facts
    if start.startswith("NOTIFY") and "ssdp:byebye" in headers.get("nts", [""])[0]:
        return facts
    facts.extend(Evidence("upnp.server", v) for v in headers.get("server", ()) if v)
    facts.extend(Evidence("ssdp.usn", v) for v in headers.get("usn", ()) if v)
    facts.extend(Evidence("ssdp.location", v) for v in headers.get("location", ()) if v)
    facts.extend(Evidence("ssdp.st", v) for name in ("st", "nt") for v in headers.get(name, ())
                 if v and v not in ("upnp:rootdevice", "ssdp:all") and not v.startswith("uuid:"))
    facts.extend(Evidence("ssdp.user_agent", v) for v in headers.get("x-user-agent", ()) if v)
    return facts
