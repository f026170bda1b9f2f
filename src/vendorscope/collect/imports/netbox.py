"""A NetBox server's devices → observations, through its REST API, a page at a time.

Reads devices, and the sites, device types, manufacturers and device roles
they refer to. Per device: NetBox's manufacturer (``netbox.manufacturer``, a
label the registry normalises), model and platform, its role (a
``netbox.role`` label, and ``asset.role`` where the name says which role:
"Core Router" is core), its site (``asset.site``) and the device's and the
site's tags (``asset.tag``: a site tagged ``military`` makes the asset's
site tags say so). Name, serial, asset tag and primary IP are the keys.

The network edge (``read_netbox``, ``pages``) is separate from the pure mapping
(``device_observations``) so the mapping can be tested on recorded records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vendorscope.collect.imports.common import Collector, ImportFailure, clean, ip_or_none, observation
from vendorscope.collect.imports.table import ColumnSpec, default_columns, role_of
from vendorscope.model import AssetKeys, Observation

TIMEOUT_S = 30.0
# Devices asked for per request. NetBox caps it at MAX_PAGE_SIZE (1000 by default); asking for a
# fixed size, rather than pynetbox's "everything left" after the first page, keeps one page in memory
# even on a NetBox configured without a cap.
PAGE_SIZE = 500
DEVICES = "dcim/devices"
ENDPOINTS = {
    "sites": "dcim/sites",
    "device_types": "dcim/device-types",
    "manufacturers": "dcim/manufacturers",
    "roles": "dcim/device-roles",
}
# The fields of the side objects device_observations reads; the rest of each record is dropped.
REF_FIELDS = ("id", "name", "display", "slug", "model", "part_number", "manufacturer", "region", "tags")
V2_TOKEN_PREFIX = "nbt_"


class RecordError(ValueError):
    """A device record that cannot be used."""


@dataclass
class NetboxRefs:
    """The objects devices point to, by id."""

    sites: dict[int, dict[str, Any]] = field(default_factory=dict)
    device_types: dict[int, dict[str, Any]] = field(default_factory=dict)
    manufacturers: dict[int, dict[str, Any]] = field(default_factory=dict)
    roles: dict[int, dict[str, Any]] = field(default_factory=dict)


def _name(obj: Any, *keys: str) -> str | None:
    """The first present text among ``keys`` of a nested object (or the object if it is text)."""
    if isinstance(obj, str):
        return clean(obj, 256)
    if not isinstance(obj, dict):
        return None
    for key in keys:
        value = obj.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return clean(value, 256)
    return None


def _ref(obj: Any, table: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A nested object completed with the full object of the same id, when fetched."""
    if not isinstance(obj, dict):
        return {}
    ident = obj.get("id")
    full = table.get(ident) if isinstance(ident, int) else None
    return {**(full or {}), **{k: v for k, v in obj.items() if v is not None}}


def _tags(obj: Any) -> list[str]:
    tags = obj.get("tags") if isinstance(obj, dict) else None
    out = []
    for tag in tags if isinstance(tags, list) else []:
        name = _name(tag, "name", "slug", "display")
        if name:
            out.append(name[:100])
    return out


def device_observations(
    device: Any,
    refs: NetboxRefs,
    *,
    source: str,
    server: str,
    seen_at: datetime | None,
    spec: ColumnSpec | None = None,
) -> list[Observation]:
    """What one NetBox device record states; raises RecordError for a record that is not a device."""
    if not isinstance(device, dict) or not isinstance(device.get("id"), int):
        raise RecordError("not a device record (no numeric id)")
    spec = spec or default_columns()
    device_id = device["id"]
    device_type = _ref(device.get("device_type"), refs.device_types)
    manufacturer = _ref(device_type.get("manufacturer"), refs.manufacturers)
    role = _ref(device.get("role") or device.get("device_role"), refs.roles)
    site = _ref(device.get("site"), refs.sites)
    primary = device.get("primary_ip4") or device.get("primary_ip") or device.get("primary_ip6")
    hostname = _name(device, "name")
    keys = {
        "hostname": hostname,
        "serial": _name(device, "serial"),
        "asset_tag": _name(device, "asset_tag"),
        "ip": ip_or_none(_name(primary, "address")),
    }
    if not any(keys.values()):
        keys["asset_tag"] = f"{server}/dcim/devices/{device_id}"
    asset_keys = AssetKeys(**{k: v for k, v in keys.items() if v})
    base = {"element": f"device {device_id}", "netbox_id": device_id, "server": server}
    out: list[Observation] = []

    def emit(kind: str, value: str | None, **context: Any) -> None:
        if value:
            out.append(observation(kind, value, source=source, seen_at=seen_at, keys=asset_keys, **base, **context))

    emit("netbox.manufacturer", _name(manufacturer, "name", "display", "slug"),
         slug=_name(manufacturer, "slug"))
    emit("netbox.model", _name(device_type, "model", "display"),
         part_number=_name(device_type, "part_number"), slug=_name(device_type, "slug"))
    platform = device.get("platform")
    emit("netbox.platform", _name(platform, "name", "display"))
    role_name = _name(role, "name", "display", "slug")
    emit("netbox.role", role_name, slug=_name(role, "slug"))
    if role_name:
        mapped = role_of(role_name, spec) or role_of(_name(role, "slug") or "", spec)
        if mapped is not None:
            emit("asset.role", mapped.value, stated=role_name)
    emit("asset.site", _name(site, "name", "display", "slug"), slug=_name(site, "slug"),
         region=_name(site.get("region"), "name"))
    for tag in dict.fromkeys(_tags(device) + _tags(site)):
        emit("asset.tag", tag)
    return out


# -- the edge -------------------------------------------------------------------------------------


class _HttpStatus(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _NotNetbox(Exception):
    """The answer is not a NetBox list page (JSON with a ``results`` list)."""


def _session(token: str | None, verify: bool) -> Any:
    import requests

    session = requests.Session()
    session.verify = verify
    session.headers["Accept"] = "application/json"
    if token:
        # NetBox 4.5's v2 tokens (nbt_<id>.<secret>) are bearer tokens; the older ones say "Token".
        scheme = "Bearer" if token.startswith(V2_TOKEN_PREFIX) and "." in token else "Token"
        session.headers["Authorization"] = f"{scheme} {token}"
    return session


def next_page(link: Any, server: str) -> str | None:
    """NetBox's ``next`` link, asked of ``server`` itself: its path and query only, never another host.

    The token goes with every request, so a link naming another host (a hostile
    answer, or a NetBox behind a proxy that does not know its public name) must
    not take it there.
    """
    if not isinstance(link, str) or not link.strip():
        return None
    parts = urlsplit(link.strip())
    if not parts.path.startswith("/"):
        return None
    base = urlsplit(server)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


def _page(session: Any, url: str, timeout: float) -> dict[str, Any]:
    import msgspec

    response = session.get(url, timeout=timeout)
    if response.status_code != 200:
        raise _HttpStatus(response.status_code, clean(response.text, 200) or "")
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        raise _NotNetbox from None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise _NotNetbox
    return body


def pages(session: Any, server: str, path: str, timeout: float, page_size: int = PAGE_SIZE,
          ) -> Iterator[list[Any]]:
    """The records of one list endpoint, a page at a time, following NetBox's ``next`` links.

    Only the page being read is in memory. Stops at an empty page or a link
    already followed (a server sending us round in circles).
    """
    url: str | None = f"{server}/api/{path}/?limit={page_size}"
    followed: set[str] = set()
    while url is not None and url not in followed:
        followed.add(url)
        body = _page(session, url, timeout)
        results = body["results"]
        if not results:
            return
        yield results
        url = next_page(body.get("next"), server)


def _describe(exc: Exception, url: str) -> str:
    import requests

    if isinstance(exc, _HttpStatus):
        if exc.status in (401, 403):
            return f"NetBox at {url} refused the token (HTTP {exc.status}): check --token or VENDORSCOPE_NETBOX_TOKEN"
        if exc.status == 404:
            return f"{url} has no NetBox API here (HTTP 404): give the server's base URL, e.g. https://netbox.example"
        return f"NetBox at {url} answered HTTP {exc.status}: {exc}"
    if isinstance(exc, _NotNetbox):
        return f"{url} did not answer with NetBox's JSON (is it a NetBox server?)"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS to {url} failed ({exc.__class__.__name__}); --no-verify-tls accepts a self-signed certificate"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"cannot reach NetBox at {url}: {exc.__class__.__name__}"
    return f"NetBox at {url}: {exc.__class__.__name__}: {exc}"


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What devices need of a site, type, manufacturer or role (kept for the whole import)."""
    return {k: record[k] for k in REF_FIELDS if k in record}


def _ref_table(session: Any, server: str, path: str, timeout: float) -> dict[int, dict[str, Any]]:
    return {r["id"]: _slim(r) for page in pages(session, server, path, timeout)
            for r in page if isinstance(r, dict) and isinstance(r.get("id"), int)}


def read_netbox(
    url: str,
    token: str | None,
    source: str,
    collector: Collector,
    now: datetime,
    *,
    verify: bool = True,
    timeout: float = TIMEOUT_S,
) -> Iterator[Observation]:
    """Observations for every device of the NetBox at ``url``, a page of devices at a time (memory does not
    grow with the number of devices); raises ImportFailure when the devices cannot be read."""
    import requests

    errors = (_HttpStatus, _NotNetbox, requests.exceptions.RequestException, ValueError)
    server = url.rstrip("/")
    session = _session(token, verify)
    refs = NetboxRefs()
    try:
        device_pages = pages(session, server, DEVICES, timeout)
        first = next(device_pages, [])  # fails early (token, address) before the side endpoints are read
    except errors as exc:
        raise ImportFailure(_describe(exc, server)) from None
    for name, path in ENDPOINTS.items():
        try:
            setattr(refs, name, _ref_table(session, server, path, timeout))
        except errors as exc:
            collector.bad(server, f"api/{path}/", _describe(exc, server))
    spec = default_columns()
    try:
        for page in chain((first,), device_pages):
            for device in page:
                yield from _one(device, refs, source, server, now, spec, collector)
    except errors as exc:
        raise ImportFailure(_describe(exc, server)) from None


def _one(device: Any, refs: NetboxRefs, source: str, server: str, now: datetime,
         spec: ColumnSpec, collector: Collector) -> list[Observation]:
    try:
        found = device_observations(device, refs, source=source, server=server, seen_at=now, spec=spec)
    except RecordError as exc:
        where = device.get("id", "?") if isinstance(device, dict) else "?"
        collector.bad(server, f"device {clean(where, 40)}", str(exc))
        return []
    collector.good()
    return found
