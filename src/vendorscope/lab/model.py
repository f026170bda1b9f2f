"""What the lab is made of, without the servers: cheap to import for the CLI.

LabDevice is the lab's answer key: where each emulated device listens and what
the tool should conclude about it (vendor, group, role, conflict, fault).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

STATE_FILE = "lab.json"
SCOPE_FILE = "scope.toml"

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
DEFAULT_BASE = "127.77.0.0/16"
PORT_MODES = ("auto", "standard", "high")


class LabError(RuntimeError):
    """The lab cannot start as asked (address taken, bad base, ...)."""


@dataclass(frozen=True, slots=True)
class LabDevice:
    """One emulated device: where it listens and what the tool should conclude about it."""

    name: str
    ip: str
    vendor: str | None
    group: str | None
    role: str
    services: dict[str, int]
    conflict: bool = False
    fault: str | None = None
    hostname: str = ""
    profile: str = ""
    product: str = ""
    mac: str | None = None
    label: str | None = None
    udp_services: tuple[str, ...] = field(default=())

    def tcp_ports(self) -> list[int]:
        return sorted(p for s, p in self.services.items() if s not in self.udp_services)

    def udp_ports(self) -> list[int]:
        return sorted(p for s, p in self.services.items() if s in self.udp_services)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["udp_services"] = list(self.udp_services)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabDevice:
        values = dict(data)
        values["services"] = {str(k): int(v) for k, v in values.get("services", {}).items()}
        values["udp_services"] = tuple(values.get("udp_services", ()))
        return cls(**values)


def parse_base(base: str) -> ipaddress.IPv4Network:
    """The lab's network; only loopback is allowed (the lab must never touch a real network)."""
    try:
        network = ipaddress.ip_network(base, strict=False)
    except ValueError as exc:
        raise LabError(f"base {base!r} is not a network: {exc}") from None
    if not isinstance(network, ipaddress.IPv4Network) or not network.subnet_of(LOOPBACK):
        raise LabError(f"base {base} is outside 127.0.0.0/8: the lab only uses loopback addresses")
    return network


def plan_addresses(network: ipaddress.IPv4Network, count: int) -> list[str]:
    """The first `count` host addresses of `network`."""
    if count < 1:
        raise LabError("a lab needs at least one device")
    hosts = network.hosts() if network.prefixlen < 31 else iter(network)
    addresses = []
    for address in hosts:
        addresses.append(str(address))
        if len(addresses) == count:
            return addresses
    raise LabError(f"{network} has room for {len(addresses)} devices, not {count}")


def covering_network(addresses: list[str], within: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """The smallest single network holding every address (so a scope lists no idle space)."""
    first = int(ipaddress.IPv4Address(min(addresses, key=lambda a: int(ipaddress.IPv4Address(a)))))
    last = int(ipaddress.IPv4Address(max(addresses, key=lambda a: int(ipaddress.IPv4Address(a)))))
    prefix = 32
    while prefix > within.prefixlen and (first >> (32 - prefix)) != (last >> (32 - prefix)):
        prefix -= 1
    return ipaddress.ip_network(f"{ipaddress.IPv4Address(first)}/{prefix}", strict=False)  # type: ignore[return-value]
