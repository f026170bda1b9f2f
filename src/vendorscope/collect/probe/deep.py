"""Read-only vendor endpoints asked after the generic HTTP probe: the answers that name a device.

For a target the scope allows, on a port that answered HTTP, one request to
each endpoint of :data:`ENDPOINTS`, over the probe's keep-alive connection
(every request is a step of the gate: scope-checked, bounded, timed out and in
the audit log; :meth:`Gate.pace` spends one token of the scope's rate per
request). Each answer's body becomes ``http.body`` with the path in its
context, so the rules of ``http-body.toml`` read it like any other body.

What is asked, and why each is a read:

- Hikvision ``GET /ISAPI/System/deviceInfo``: device info; unauthenticated it
  answers 401 with a ``userCheck`` body or the ISAPI namespace, which already
  identifies the maker.
- Dahua ``GET /cgi-bin/magicBox.cgi?action=getDeviceType`` and
  ``…getSystemInfo``: ``key=value`` device type and system info.
- Huawei HiLink ``GET /api/device/information`` and
  ``/api/device/basic_information``: device name, hardware version.
- ONVIF ``POST /onvif/device_service`` with ``GetSystemDateAndTime`` (the
  generic probe already asks ``GetDeviceInformation``): SOAP carries every
  ONVIF call in a POST body, queries included; ``Get*`` operations of the
  device service change nothing on the device (ONVIF Core Specification,
  device management section: GetSystemDateAndTime is the one call a device
  must answer without credentials, for clock sync before authentication).
- Redfish ``GET /redfish/v1/`` and ``/redfish/v1/Systems``: the service root
  is unauthenticated by the standard (DMTF DSP0266) and names the vendor in
  its ``Oem`` section.
- TR-064 ``GET /tr64desc.xml``: the CPE's UPnP-style description.

Never sent: credentials of any kind (no Authorization header, no login call,
no default password), a method that writes (PUT, DELETE, PATCH; the one POST
is the ONVIF query above), or a request to another host or port than the one
the scope already allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from vendorscope.collect.probe.gate import ProbeFailed

if TYPE_CHECKING:
    from vendorscope.collect.probe.http import HttpClient, HttpResponse, HttpResult


class Endpoint(NamedTuple):
    vendor: str  # whose API this is (documentation and the audit's probe name)
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None


ONVIF_GET_SYSTEM_DATE_AND_TIME = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    b"<s:Body><tds:GetSystemDateAndTime/></s:Body></s:Envelope>"
)
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("hikvision", "GET", "/ISAPI/System/deviceInfo"),
    Endpoint("dahua", "GET", "/cgi-bin/magicBox.cgi?action=getDeviceType"),
    Endpoint("dahua", "GET", "/cgi-bin/magicBox.cgi?action=getSystemInfo"),
    Endpoint("huawei", "GET", "/api/device/information"),
    Endpoint("huawei", "GET", "/api/device/basic_information"),
    Endpoint("onvif", "POST", "/onvif/device_service", ONVIF_GET_SYSTEM_DATE_AND_TIME,
             'application/soap+xml; charset=utf-8; '
             'action="http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime"'),
    Endpoint("redfish", "GET", "/redfish/v1/"),
    Endpoint("redfish", "GET", "/redfish/v1/Systems"),
    Endpoint("tr-064", "GET", "/tr64desc.xml"),
)
READ_METHODS = frozenset({"GET", "POST"})  # POST only for the SOAP query (see the module docstring)
BODY_CAP = 64 * 1024


def is_read_only(endpoint: Endpoint) -> bool:
    """GETs, and the ONVIF Get* query; nothing else is ever sent."""
    if endpoint.method == "GET":
        return not endpoint.body
    return endpoint.method == "POST" and endpoint.path == "/onvif/device_service" and b"<tds:Get" in endpoint.body


async def probe_deep(client: HttpClient, result: HttpResult, page: HttpResponse, is_tls: bool) -> None:
    """Ask every endpoint once on this port; record each non-empty answer's body. Stops when the host stalls."""
    from vendorscope.collect.probe.http import body_observations

    for endpoint in ENDPOINTS:
        if not is_read_only(endpoint):  # pragma: no cover - ENDPOINTS is fixed data, checked by a test too
            continue
        await client.gate.pace()
        headers = (("Content-Type", endpoint.content_type),) if endpoint.content_type else ()
        try:
            response, step = await client.request(endpoint.method, endpoint.path, body=endpoint.body,
                                                  headers=headers, cap=BODY_CAP)
        except ProbeFailed as exc:
            if exc.outcome == "timeout":
                raise
            continue
        result.observations.extend(body_observations(client.gate, step, response, endpoint.path, is_tls))
