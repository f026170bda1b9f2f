"""The lab's device profiles, loaded from devices.toml.

A profile is what one kind of device says on the wire; the runner gives each
profile one or more loopback addresses. Loading validates everything up
front so a typo in the data fails at load time with the file and device named,
not as a half-started lab.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from vendorscope.lab.tls import parse_dn

FAULTS = ("blackhole", "reset", "garbage", "malformed")
ROLES = ("core", "ran", "transport", "management", "cctv", "radio", "enterprise", "cpe", "unknown")

# Standard port of each service; `Lab(ports="auto")` moves them up by 10000 when
# privileged ports cannot be bound.
STANDARD_PORTS: dict[str, int] = {
    "ftp": 21,
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "http": 80,
    "https": 443,
    "rtsp": 554,
    "snmp": 161,
    "sadp": 37020,
    "dhip": 37810,
    "wsdiscovery": 3702,
}
DISCOVERY_SERVICES = frozenset({"sadp", "dhip", "wsdiscovery"})
UDP_SERVICES = frozenset({"snmp"}) | DISCOVERY_SERVICES
SERVICES = tuple(STANDARD_PORTS)


class ProfileError(ValueError):
    """devices.toml (or a file it names) is wrong."""


@dataclass(frozen=True, slots=True)
class SshService:
    port: int
    version: str = "OpenSSH_8.4"
    protocol: str = "2.0"  # "1.99" for servers that still offer SSHv1 compatibility


@dataclass(frozen=True, slots=True)
class TelnetService:
    port: int
    banner: str = ""
    login_prompt: str = "login: "
    password_prompt: str = "Password: "
    failure: str = "\r\nLogin incorrect\r\n"


@dataclass(frozen=True, slots=True)
class FtpService:
    port: int
    banner: str = "FTP server ready."
    syst: str = "UNIX Type: L8"


@dataclass(frozen=True, slots=True)
class SmtpService:
    port: int
    banner: str = "localhost ESMTP"
    ehlo: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OnvifInfo:
    manufacturer: str
    model: str
    firmware: str = ""
    serial: str = ""
    hardware_id: str = ""


@dataclass(frozen=True, slots=True)
class UpnpInfo:
    manufacturer: str
    model: str
    model_number: str = ""
    friendly_name: str = ""
    serial: str = ""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A fixed answer to one vendor endpoint (path with its query), as a real device gave it."""

    path: str
    body: str
    source: str  # where this answer was seen (an issue thread, vendor API documentation)
    status: int = 200
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class HttpService:
    port: int
    tls: bool = False
    server: str | None = None
    title: str = ""
    realm: str | None = None
    protected: tuple[str, ...] = ()
    unauthorized_title: str = "401 Unauthorized"
    cert_subject: str | None = None
    cert_issuer: str | None = None
    onvif: OnvifInfo | None = None
    upnp: UpnpInfo | None = None
    answers: tuple[HttpAnswer, ...] = ()  # vendor endpoints the deep probe asks (collect/probe/deep.py)


@dataclass(frozen=True, slots=True)
class RtspService:
    port: int
    server: str | None = None
    realm: str | None = None
    sdp: str | None = None  # the session description DESCRIBE answers with (when no realm)
    sdp_source: str = ""  # where a description like it was seen


@dataclass(frozen=True, slots=True)
class SnmpService:
    port: int
    data: str | None = None  # file name in data/snmp/; None for fault devices
    v2c: bool = True
    v3: bool = True


@dataclass(frozen=True, slots=True)
class DiscoveryService:
    """What a device says in a vendor discovery reply (SADP, DHIP, WS-Discovery)."""

    port: int
    model: str
    serial: str
    firmware: str = ""
    vendor: str = ""  # DHIP Vendor
    name: str = ""  # WS-Discovery onvif://www.onvif.org/name/ scope (URL-encoded as devices send it)
    device_class: str = ""  # SADP DeviceType number, DHIP DeviceClass
    source: str = ""  # where a reply of this shape was seen


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    hostname: str
    role: str
    product: str = ""
    vendor: str | None = None
    group: str | None = None
    mac: str | None = None  # OUI, "aa:bb:cc"
    label: str | None = None
    fault: str | None = None
    ssh: SshService | None = None
    telnet: TelnetService | None = None
    ftp: FtpService | None = None
    smtp: SmtpService | None = None
    http: HttpService | None = None
    https: HttpService | None = None
    rtsp: RtspService | None = None
    snmp: SnmpService | None = None
    sadp: DiscoveryService | None = None
    dhip: DiscoveryService | None = None
    wsdiscovery: DiscoveryService | None = None

    @property
    def conflict(self) -> bool:
        """The device's own label names another maker than its firmware."""
        return self.label is not None and self.label != self.vendor

    def services(self) -> dict[str, int]:
        """Service name → standard port, in a stable order."""
        return {name: svc.port for name in SERVICES if (svc := getattr(self, name)) is not None}


def data_path(*parts: str) -> Path:
    """A file shipped in the lab package (devices.toml, data/snmp/...)."""
    return Path(str(resources.files("vendorscope.lab").joinpath(*parts)))


def load_profiles(path: Path | None = None) -> list[Profile]:
    """Read and validate the profiles; the bundled devices.toml by default."""
    path = path or data_path("devices.toml")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    raw = doc.get("device")
    if not isinstance(raw, list) or not raw:
        raise ProfileError(f"{path}: no [[device]] tables")
    profiles = [_profile(entry, path, snmp_dir=path.parent / "data" / "snmp") for entry in raw]
    names = [p.name for p in profiles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProfileError(f"{path}: duplicate device names {duplicates}")
    return profiles


def _profile(entry: Any, path: Path, snmp_dir: Path) -> Profile:
    if not isinstance(entry, dict):
        raise ProfileError(f"{path}: [[device]] must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{path}: a [[device]] has no name")
    where = f"{path}: device {name!r}"
    table = dict(entry)

    def text(key: str, default: str | None = None) -> str | None:
        value = table.pop(key, default)
        if value is not None and not isinstance(value, str):
            raise ProfileError(f"{where}: {key} must be a string")
        return value

    name = text("name") or name
    hostname = text("hostname", name) or name
    role = text("role", "unknown") or "unknown"
    if role not in ROLES:
        raise ProfileError(f"{where}: unknown role {role!r} (one of {', '.join(ROLES)})")
    fault = text("fault")
    if fault is not None and fault not in FAULTS:
        raise ProfileError(f"{where}: unknown fault {fault!r} (one of {', '.join(FAULTS)})")
    mac = text("mac")
    if mac is not None and not _is_oui(mac):
        raise ProfileError(f"{where}: mac must be an OUI like '00:e0:fc', not {mac!r}")
    services: dict[str, Any] = {}
    for service in SERVICES:
        if service in table:
            services[service] = _service(service, table.pop(service), where, snmp_dir, fault)
    if not services:
        raise ProfileError(f"{where}: no services")
    profile = Profile(
        name=name,
        hostname=hostname,
        role=role,
        product=text("product", "") or "",
        vendor=text("vendor"),
        group=text("group"),
        mac=mac,
        label=text("label"),
        fault=fault,
        **services,
    )
    if table:
        raise ProfileError(f"{where}: unknown keys {sorted(table)}")
    if profile.vendor is not None and profile.group is None:
        raise ProfileError(f"{where}: a vendor needs its group")
    return profile


def _service(service: str, raw: Any, where: str, snmp_dir: Path, fault: str | None) -> Any:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: [{service}] must be a table")
    options = dict(raw)
    port = options.pop("port", STANDARD_PORTS[service])
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ProfileError(f"{where}: {service}.port must be a port number")
    try:
        if service == "ssh":
            svc: Any = SshService(port=port, **options)
            if svc.protocol not in ("2.0", "1.99"):
                raise ProfileError(f"{where}: ssh.protocol must be '2.0' or '1.99'")
            if not svc.version.isascii() or not svc.version.isprintable() or len(svc.version) > 240:
                raise ProfileError(f"{where}: ssh.version must be printable ASCII, at most 240 characters")
        elif service == "telnet":
            svc = TelnetService(port=port, **options)
        elif service == "ftp":
            svc = FtpService(port=port, **options)
        elif service == "smtp":
            svc = SmtpService(port=port, ehlo=tuple(options.pop("ehlo", ())), **options)
        elif service in ("http", "https"):
            onvif = options.pop("onvif", None)
            upnp = options.pop("upnp", None)
            answers = options.pop("answers", [])
            if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
                raise ProfileError(f"{where}: {service}.answers must be [[device.{service}.answers]] tables")
            svc = HttpService(
                port=port,
                tls=service == "https",
                protected=tuple(options.pop("protected", ())),
                onvif=OnvifInfo(**onvif) if onvif is not None else None,
                upnp=UpnpInfo(**upnp) if upnp is not None else None,
                answers=tuple(HttpAnswer(**a) for a in answers),
                **options,
            )
            for answer in svc.answers:
                _check_types(answer, f"{where}: [{service}] answer {answer.path!r}")
                if not answer.source.strip():
                    raise ProfileError(f"{where}: {service} answer {answer.path!r} cites no source")
            if svc.protected and svc.realm is None:
                raise ProfileError(f"{where}: {service}.protected needs a realm")
            for dn in (svc.cert_subject, svc.cert_issuer):
                if dn is not None:
                    parse_dn(dn)
        elif service == "rtsp":
            svc = RtspService(port=port, **options)
            if svc.sdp is not None and (not svc.sdp_source.strip() or svc.realm is not None):
                raise ProfileError(f"{where}: rtsp.sdp needs an sdp_source and no realm (a challenge hides it)")
        elif service in DISCOVERY_SERVICES:
            svc = DiscoveryService(port=port, **options)
            if not svc.source:
                raise ProfileError(f"{where}: {service}.source must say where a reply like this was seen")
        else:
            svc = SnmpService(port=port, **options)
            if fault is None:
                if svc.data is None:
                    raise ProfileError(f"{where}: snmp.data names no .snmprec file")
                if not (snmp_dir / svc.data).is_file():
                    raise ProfileError(f"{where}: {snmp_dir / svc.data} does not exist")
        _check_types(svc, f"{where}: [{service}]")
    except (TypeError, ValueError) as exc:  # unknown keys in a service table, a bad name
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"{where}: [{service}]: {exc}") from exc
    return svc


_CHECKS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "bool": (bool,),
    "tuple[str, ...]": (tuple,),
}


def _check_types(record: Any, where: str) -> None:
    """TOML values of the wrong type (a number where text belongs) fail here, not mid-serve."""
    for f in fields(record):
        value = getattr(record, f.name)
        allowed = _CHECKS.get(str(f.type))
        if allowed is not None and not isinstance(value, allowed):
            raise ProfileError(f"{where}: {f.name} must be {f.type}, not {type(value).__name__}")
        if str(f.type) == "tuple[str, ...]" and not all(isinstance(v, str) for v in value):
            raise ProfileError(f"{where}: {f.name} must be a list of strings")
    for nested in ("onvif", "upnp"):
        if getattr(record, nested, None) is not None:
            _check_types(getattr(record, nested), f"{where} {nested}")


def _is_oui(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 3 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)
