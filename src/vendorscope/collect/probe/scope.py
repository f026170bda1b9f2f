"""The scope file: which addresses and ports the user may probe, and how hard.

Nothing is probed that a scope file does not allow, and there is no default
scope. ``Scope.check`` is the one place that decides; the runner calls it when
the targets are expanded (so a bad target fails before any packet is sent) and
again at every connection (defence in depth).

Format (TOML)::

    [scope]
    allow = ["127.77.0.0/16"]
    exclude = []
    ports = [21, 22, 23, 25, 80, 443, 554, 8080, 8443]   # TCP ports to probe
    udp_ports = [161]
    rate = 2000          # max new connections per second overall
    per_host = 4         # concurrent connections per host
    timeout = 2.0        # seconds per probe
    retries = 1
    allow_multicast = []  # segments (inside allow) where discovery may multicast, e.g. ["192.0.2.0/24"]
    [snmp]
    communities = ["public"]
    [[snmp.v3]]
    user = "vsuser"
    auth_protocol = "SHA"
    auth_key = "..."
    priv_protocol = "AES"
    priv_key = "..."
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS: tuple[int, ...] = (21, 22, 23, 25, 80, 443, 554, 8080, 8443)
DEFAULT_UDP_PORTS: tuple[int, ...] = (161,)
# Expanding more addresses than this is almost always a typo (a /8, an IPv6 /64).
MAX_TARGETS = 1 << 20

AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "3DES", "AES", "AES128", "AES192", "AES256")

_SCOPE_KEYS = {
    "allow",
    "exclude",
    "ports",
    "udp_ports",
    "rate",
    "per_host",
    "timeout",
    "retries",
    "banner_wait",
    "allow_multicast",
}
_SNMP_KEYS = {"communities", "v3"}
_V3_KEYS = {"user", "auth_protocol", "auth_key", "priv_protocol", "priv_key"}
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TABLE_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")


class ScopeError(ValueError):
    """The scope file cannot be used; the message names the file and line."""


class ScopeViolation(ValueError):
    """A target or port the scope does not allow. Raised before any packet is sent."""


@dataclass(frozen=True, slots=True)
class SnmpV3User:
    user: str
    auth_protocol: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_key: str | None = field(default=None, repr=False)

    @property
    def level(self) -> str:
        if self.priv_protocol:
            return "authPriv"
        return "authNoPriv" if self.auth_protocol else "noAuthNoPriv"


@dataclass(frozen=True, slots=True)
class SnmpCredentials:
    communities: tuple[str, ...] = ()
    v3: tuple[SnmpV3User, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.communities or self.v3)


@dataclass(frozen=True, slots=True)
class Scope:
    """What may be probed. Build with :func:`load_scope` or :func:`parse_scope`."""

    allow: tuple[IPNetwork, ...]
    exclude: tuple[IPNetwork, ...] = ()
    ports: tuple[int, ...] = DEFAULT_PORTS
    udp_ports: tuple[int, ...] = DEFAULT_UDP_PORTS
    rate: float = 500.0
    per_host: int = 4
    timeout: float = 2.0
    retries: int = 1
    # How long to wait for a server-speaks-first greeting on a port whose
    # protocol we cannot guess from its number; None: min(timeout, 1 s).
    banner_wait: float | None = None
    snmp: SnmpCredentials = field(default_factory=SnmpCredentials)
    source: str = "<scope>"
    # Local segments where discovery probes may ask by multicast (reaching devices nobody named);
    # empty: unicast to named targets only. Each lies inside ``allow``.
    allow_multicast: tuple[IPNetwork, ...] = ()
    deep: bool = True  # ask the read-only vendor endpoints of collect/probe/deep.py (`probe --no-deep`)

    @property
    def greeting_wait(self) -> float:
        return self.banner_wait if self.banner_wait is not None else min(self.timeout, 1.0)

    def allows(self, address: IPAddress) -> bool:
        if any(address in net for net in self.exclude):
            return False
        return any(address in net for net in self.allow)

    def check(self, target: str | IPAddress, port: int | None = None, transport: str = "tcp") -> str:
        """The target as a normalised address string; raises ScopeViolation if not allowed."""
        address = parse_address(target)
        if address is None:
            raise ScopeViolation(
                f"{target!r} is not an IP address; only addresses are checked against the scope"
            )
        if any(address in net for net in self.exclude):
            raise ScopeViolation(f"{address} is excluded by scope {self.source}")
        if not any(address in net for net in self.allow):
            raise ScopeViolation(f"{address} is outside scope {self.source} (allowed: {_nets(self.allow)})")
        if port is not None:
            allowed = self.ports if transport == "tcp" else self.udp_ports
            if port not in allowed:
                raise ScopeViolation(f"{transport} port {port} on {address} is not in scope {self.source}")
        return str(address)

    def check_multicast(self, segment: IPNetwork, port: int) -> None:
        """Raise ScopeViolation unless the scope lists ``segment`` in allow_multicast and ``port`` in udp_ports."""
        if segment not in self.allow_multicast:
            raise ScopeViolation(f"multicast to {segment} is not allowed by scope {self.source} "
                                 f"(allow_multicast: {_nets(self.allow_multicast)})")
        if port not in self.udp_ports:
            raise ScopeViolation(f"udp port {port} is not in scope {self.source}")

    def expand(self, targets: Sequence[str] = (), limit: int = MAX_TARGETS) -> list[str]:
        """Addresses to probe: the named targets (addresses, CIDRs, ranges, host names)
        or, with none named, everything the scope allows. Raises ScopeViolation for a
        target outside the scope, before anything is sent."""
        out: list[str] = []
        seen: set[str] = set()
        for address in self._iter_targets(targets):
            text = str(address)
            if text in seen:
                continue
            seen.add(text)
            out.append(text)
            if len(out) > limit:
                raise ScopeViolation(
                    f"more than {limit} addresses to probe; name narrower TARGETS or a smaller scope"
                )
        return out

    def _iter_targets(self, targets: Sequence[str]) -> Iterator[IPAddress]:
        if not targets:
            for net in self.allow:
                yield from (a for a in _hosts(net) if self.allows(a))
            return
        for target in targets:
            nets, is_cidr = parse_target(target)
            for net in nets:
                if net.num_addresses == 1:
                    self.check(net.network_address)
                    yield net.network_address
                    continue
                if not any(net.subnet_of(a) for a in self.allow if a.version == net.version):  # type: ignore[arg-type]
                    raise ScopeViolation(
                        f"{target} is not entirely inside scope {self.source} (allowed: {_nets(self.allow)})"
                    )
                # Excluded addresses inside an allowed range are skipped: that is what exclude means.
                addresses: Iterator[IPAddress] = _hosts(net) if is_cidr else _all(net)
                yield from (a for a in addresses if self.allows(a))


def _nets(nets: Iterable[IPNetwork]) -> str:
    return ", ".join(str(n) for n in nets) or "nothing"


def _all(net: IPNetwork) -> Iterator[IPAddress]:
    yield from net


def _hosts(net: IPNetwork) -> Iterator[IPAddress]:
    """Usable host addresses: no network or broadcast address in IPv4 ranges wider than /31."""
    if net.num_addresses <= 2 or net.version == 6:
        yield from net
        return
    yield from net.hosts()


def parse_address(text: str | IPAddress) -> IPAddress | None:
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address: IPAddress = text
    else:
        try:
            address = ipaddress.ip_address(str(text).strip().strip("[]"))
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on the wire
    return address


def parse_target(text: str) -> tuple[list[IPNetwork], bool]:
    """One command-line target as networks: an address, a CIDR, a range (a.b.c.d-e or
    a-b) or a host name; and whether it was a CIDR (whose network and broadcast
    addresses are not hosts)."""
    text = text.strip()
    address = parse_address(text)
    if address is not None:
        return [ipaddress.ip_network(address)], False
    if "/" in text:
        if not re.fullmatch(r"[0-9A-Fa-f.:]+/\d{1,3}", text):
            raise ScopeViolation(f"target {text!r} is not an address, CIDR, range or host name")
        try:
            return [ipaddress.ip_network(text, strict=True)], True
        except ValueError as exc:
            raise ScopeViolation(f"target {text!r}: {exc}") from None
    if "-" in text and text[0].isdigit():
        return _parse_range(text), False
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,253}", text):
        raise ScopeViolation(f"target {text!r} is not an address, CIDR, range or host name")
    try:
        # Resolution asks the local resolver, never the target; every address it
        # returns is then checked against the scope like any other.
        infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise ScopeViolation(f"target {text!r}: cannot resolve ({exc.strerror or exc})") from None
    found = {a for info in infos if (a := parse_address(str(info[4][0]))) is not None}
    return [ipaddress.ip_network(a) for a in sorted(found, key=lambda a: (a.version, int(a)))], False


def _parse_range(text: str) -> list[IPNetwork]:
    first_text, _, last_text = text.partition("-")
    first = parse_address(first_text)
    last = parse_address(last_text)
    if first is not None and last is None and last_text.isdigit() and first.version == 4:
        last = parse_address(".".join(str(first).split(".")[:3] + [last_text]))
    if first is None or last is None or first.version != last.version or int(last) < int(first):
        raise ScopeViolation(f"target {text!r} is not a valid address range")
    return list(ipaddress.summarize_address_range(first, last))


# -- the file -----------------------------------------------------------------


def load_scope(path: str | Path) -> Scope:
    """Read and validate a scope file; ScopeError names the file and line."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ScopeError(f"{path}: no such scope file") from None
    except IsADirectoryError:
        raise ScopeError(f"{path}: is a directory, not a scope file") from None
    except UnicodeDecodeError as exc:
        raise ScopeError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ScopeError(f"{path}: {exc.strerror or exc}") from None
    return parse_scope(text, str(path))


def parse_scope(text: str, source: str = "<scope>") -> Scope:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        if m:
            raise ScopeError(f"{source}:{m.group(1)}: {message[: m.start()]} (column {m.group(2)})") from None
        raise ScopeError(f"{source}: {message}") from None
    return _Validator(text, source).scope(data)


class _Validator:
    """Turns parsed TOML into a Scope; errors name the key and, when found, its line."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def fail(self, table: str, key: str | None, message: str, index: int = 0) -> ScopeError:
        line = self.line_of(table, key, index)
        where = f"{self.source}:{line}" if line else self.source
        name = f"{table}.{key}" if key else f"[{table}]"
        return ScopeError(f"{where}: {name}: {message}")

    def line_of(self, table: str, key: str | None, index: int = 0) -> int | None:
        """Best-effort line of ``key`` in ``[table]`` (the index-th ``[[table]]``)."""
        current: str | None = ""
        seen = -1
        key_re = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=") if key else None
        for number, line in enumerate(self.lines, 1):
            header = _TABLE_HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "").replace(" ", "")
                if name == table:
                    seen += 1
                    current = table if seen == index else None
                    if key_re is None and seen == index:
                        return number
                else:
                    current = name
                continue
            if key_re is not None and current == table and key_re.match(line):
                return number
        return None

    def scope(self, data: dict[str, Any]) -> Scope:
        unknown = set(data) - {"scope", "snmp"}
        if unknown:
            name = sorted(unknown)[0]
            raise self.fail(name, None, "unknown table (expected [scope] and [snmp])")
        section = data.get("scope")
        if not isinstance(section, dict):
            raise ScopeError(f"{self.source}: no [scope] table: a scope file must list the allowed ranges")
        self.unknown_keys("scope", section, _SCOPE_KEYS)
        if "allow" not in section:
            raise self.fail("scope", None, "needs 'allow', the list of CIDRs you may probe")
        allow = self.networks("allow", section["allow"])
        if not allow:
            raise self.fail("scope", "allow", "is empty: nothing could be probed")
        exclude = self.networks("exclude", section.get("exclude", []))
        return Scope(
            allow=allow,
            exclude=exclude,
            ports=self.ports("ports", section.get("ports", list(DEFAULT_PORTS))),
            udp_ports=self.ports("udp_ports", section.get("udp_ports", list(DEFAULT_UDP_PORTS))),
            rate=self.number("rate", section.get("rate", 500.0), low=0.1, high=1_000_000),
            per_host=int(self.number("per_host", section.get("per_host", 4), low=1, high=1024, integer=True)),
            timeout=self.number("timeout", section.get("timeout", 2.0), low=0.01, high=600),
            retries=int(self.number("retries", section.get("retries", 1), low=0, high=10, integer=True)),
            banner_wait=(
                self.number("banner_wait", section["banner_wait"], low=0.0, high=600)
                if "banner_wait" in section
                else None
            ),
            snmp=self.snmp(data.get("snmp", {})),
            source=self.source,
            allow_multicast=self.multicast_segments(section.get("allow_multicast", []), allow),
        )

    def multicast_segments(self, value: Any, allow: tuple[IPNetwork, ...]) -> tuple[IPNetwork, ...]:
        segments = self.networks("allow_multicast", value)
        for segment in segments:
            if not any(segment.version == a.version and segment.subnet_of(a) for a in allow):  # type: ignore[arg-type]
                raise self.fail("scope", "allow_multicast", f"{segment} is not inside allow")
        return segments

    def unknown_keys(self, table: str, section: dict[str, Any], known: set[str], index: int = 0) -> None:
        for key in sorted(set(section) - known):
            raise self.fail(table, key, f"unknown key (expected one of: {', '.join(sorted(known))})", index)

    def networks(self, key: str, value: Any) -> tuple[IPNetwork, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("scope", key, 'must be a list of CIDR strings, e.g. ["192.0.2.0/24"]')
        out: list[IPNetwork] = []
        for item in value:
            try:
                out.append(ipaddress.ip_network(item.strip(), strict=True))
            except ValueError as exc:
                hint = ""
                with contextlib.suppress(ValueError):
                    hint = f"; did you mean {ipaddress.ip_network(item.strip(), strict=False)}?"
                raise self.fail("scope", key, f"{item!r} is not a CIDR ({exc}){hint}") from None
        return tuple(out)

    def ports(self, key: str, value: Any) -> tuple[int, ...]:
        if not isinstance(value, list) or not all(type(v) is int for v in value):
            raise self.fail("scope", key, "must be a list of port numbers")
        for port in value:
            if not 1 <= port <= 65535:
                raise self.fail("scope", key, f"{port} is not a port number (1-65535)")
        return tuple(dict.fromkeys(value))

    def number(self, key: str, value: Any, *, low: float, high: float, integer: bool = False) -> float:
        wrong_type = isinstance(value, bool) or not isinstance(value, int if integer else (int, float))
        if wrong_type:
            raise self.fail("scope", key, f"must be {'an integer' if integer else 'a number'}, not {value!r}")
        if not low <= value <= high:
            raise self.fail("scope", key, f"{value} is out of range ({low:g} to {high:g})")
        return float(value)

    def snmp(self, section: Any) -> SnmpCredentials:
        if not isinstance(section, dict):
            raise self.fail("snmp", None, "must be a table")
        self.unknown_keys("snmp", section, _SNMP_KEYS)
        communities = section.get("communities", [])
        if not isinstance(communities, list) or not all(isinstance(c, str) and c for c in communities):
            raise self.fail("snmp", "communities", "must be a list of non-empty strings")
        users = section.get("v3", [])
        if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
            raise self.fail("snmp", "v3", "must be [[snmp.v3]] tables")
        return SnmpCredentials(tuple(communities), tuple(self.v3_user(u, i) for i, u in enumerate(users)))

    def v3_user(self, entry: dict[str, Any], index: int) -> SnmpV3User:
        table = "snmp.v3"
        self.unknown_keys(table, entry, _V3_KEYS, index)
        for key, value in entry.items():
            if not isinstance(value, str):
                raise self.fail(table, key, "must be a string", index)
        user = entry.get("user")
        if not user:
            raise self.fail(table, None, "needs 'user'", index)
        auth = self.protocol(entry, "auth_protocol", AUTH_PROTOCOLS, index)
        priv = self.protocol(entry, "priv_protocol", PRIV_PROTOCOLS, index)
        if priv and not auth:
            raise self.fail(table, "priv_protocol", "privacy needs authentication (set auth_protocol)", index)
        for proto, key in ((auth, "auth_key"), (priv, "priv_key")):
            secret = entry.get(key)
            if proto and not secret:
                raise self.fail(table, key, f"is required with {key.replace('key', 'protocol')}", index)
            if proto and secret and len(secret) < 8:
                raise self.fail(table, key, "must be at least 8 characters (RFC 3414)", index)
        return SnmpV3User(user, auth, entry.get("auth_key"), priv, entry.get("priv_key"))

    def protocol(self, entry: dict[str, Any], key: str, allowed: tuple[str, ...], index: int) -> str | None:
        value = entry.get(key)
        if value is None or value.strip().lower() in ("", "none"):
            return None
        name = value.strip().upper().replace("-", "")
        if name not in allowed:
            raise self.fail("snmp.v3", key, f"{value!r} is not one of {', '.join(allowed)}", index)
        return name
