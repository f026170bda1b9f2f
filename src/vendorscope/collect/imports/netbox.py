"""A NetBox server's devices → observations, through its REST API (pynetbox).

Reads devices, and the sites, device types, manufacturers and device roles
they refer to. Per device: NetBox's manufacturer (``netbox.manufacturer``, a
label the registry normalises), model and platform, its role (a
``netbox.role`` label, and ``asset.role`` where the name says which role:
"Core Router" is core), its site (``asset.site``) and the device's and the
site's tags (``asset.tag``: a site tagged ``military`` makes the asset's
site tags say so). Name, serial, asset tag and primary IP are the keys.

The network edge (``fetch``) is separate from the pure mapping
(``device_observations``) so the mapping can be tested on recorded records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vendorscope.collect.imports.common import Collector, ImportFailure, clean, ip_or_none, observation
from vendorscope.collect.imports.table import ColumnSpec, default_columns, role_of
from vendorscope.model import AssetKeys, Observation

TIMEOUT_S = 30.0
ENDPOINTS = {
    "sites": ("dcim", "sites"),
    "device_types": ("dcim", "device_types"),
    "manufacturers": ("dcim", "manufacturers"),
    "roles": ("dcim", "device_roles"),
}


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


def _api(url: str, token: str | None, verify: bool, timeout: float) -> Any:
    import pynetbox
    import requests

    class _Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    api = pynetbox.api(url, token=token)
    session = _Session()
    session.verify = verify
    api.http_session = session
    return api


def _describe(exc: Exception, url: str) -> str:
    import pynetbox
    import requests

    if isinstance(exc, pynetbox.RequestError):
        status = getattr(exc.req, "status_code", "?")
        if status in (401, 403):
            return f"NetBox at {url} refused the token (HTTP {status}): check --token or VENDORSCOPE_NETBOX_TOKEN"
        if status == 404:
            return f"{url} has no NetBox API here (HTTP 404): give the server's base URL, e.g. https://netbox.example"
        return f"NetBox at {url} answered HTTP {status}: {str(exc.error)[:200]}"
    if isinstance(exc, pynetbox.ContentError):
        return f"{url} did not answer with NetBox's JSON (is it a NetBox server?)"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS to {url} failed ({exc.__class__.__name__}); --no-verify-tls accepts a self-signed certificate"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"cannot reach NetBox at {url}: {exc.__class__.__name__}"
    return f"NetBox at {url}: {exc.__class__.__name__}: {exc}"


def _records(endpoint: Any) -> Iterable[dict[str, Any]]:
    for record in endpoint.all():
        yield dict(record)


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
    """Observations for every device of the NetBox at ``url``; raises ImportFailure when it cannot be read."""
    import pynetbox
    import requests

    errors = (pynetbox.RequestError, pynetbox.ContentError, requests.exceptions.RequestException, ValueError)
    server = url.rstrip("/")
    api = _api(server, token, verify, timeout)
    refs = NetboxRefs()
    try:
        iter_devices = iter(_records(api.dcim.devices))
        first = next(iter_devices, None)
    except errors as exc:
        raise ImportFailure(_describe(exc, server)) from None
    for name, (app, endpoint) in ENDPOINTS.items():
        try:
            table = {r["id"]: r for r in _records(getattr(getattr(api, app), endpoint)) if isinstance(r.get("id"), int)}
        except errors as exc:
            collector.bad(server, f"api/{app}/{endpoint.replace('_', '-')}/", _describe(exc, server))
            continue
        setattr(refs, name, table)
    spec = default_columns()
    try:
        if first is not None:
            yield from _one(first, refs, source, server, now, spec, collector)
        for device in iter_devices:
            yield from _one(device, refs, source, server, now, spec, collector)
    except errors as exc:
        raise ImportFailure(_describe(exc, server)) from None


def _one(device: dict[str, Any], refs: NetboxRefs, source: str, server: str, now: datetime,
         spec: ColumnSpec, collector: Collector) -> list[Observation]:
    try:
        found = device_observations(device, refs, source=source, server=server, seen_at=now, spec=spec)
    except RecordError as exc:
        collector.bad(server, f"device {device.get('id', '?')}", str(exc))
        return []
    collector.good()
    return found
