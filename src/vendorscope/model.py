"""The records that flow through the pipeline: collect → identify → resolve → judge.

Plain frozen dataclasses with slots: cheap to make by the million, easy to
serialise with :func:`dataclasses.asdict` or the helpers below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from vendorscope.evidence.kinds import EVIDENCE_KINDS as EVIDENCE_KINDS
from vendorscope.evidence.kinds import LABEL_KINDS as LABEL_KINDS


# The registry of evidence kinds lives in evidence/kinds.toml; re-exported here for
# the code that reads them with the rest of the pipeline's records.
@dataclass(frozen=True, slots=True)
class AssetKeys:
    """Identifiers that tie an observation to a device. Any may be missing."""

    mac: str | None = None
    ip: str | None = None
    hostname: str | None = None
    serial: str | None = None
    asset_tag: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k in KEY_NAMES if (v := getattr(self, k)) is not None}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AssetKeys:
        return cls(**{k: str(data[k]) for k in KEY_NAMES if data.get(k) not in (None, "")})


KEY_NAMES: tuple[str, ...] = ("mac", "ip", "hostname", "serial", "asset_tag")


@dataclass(frozen=True, slots=True)
class Observation:
    """One piece of evidence: a banner, a MAC, a manufacturer cell.

    ``source`` names where it came from (``pcap:lab.pcap``, ``probe``,
    ``import:nmap:scan.xml``); ``context`` carries what lets a person find it
    again (frame number, port, row, probe id).
    """

    kind: str
    value: str
    source: str = ""
    seen_at: datetime | None = None
    keys: AssetKeys = field(default_factory=AssetKeys)
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attribution:
    """What one observation says about who made the device."""

    vendor: str
    vendor_name: str
    group: str
    confidence: float
    rule: str
    product: str | None = None
    version: str | None = None
    device_type: str | None = None
    observation: Observation | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "vendor_name": self.vendor_name,
            "group": self.group,
            "product": self.product,
            "version": self.version,
            "device_type": self.device_type,
            "confidence": self.confidence,
            "rule": self.rule,
        }


class Role(StrEnum):
    core = "core"
    ran = "ran"
    transport = "transport"
    management = "management"
    cctv = "cctv"
    radio = "radio"
    enterprise = "enterprise"
    cpe = "cpe"
    unknown = "unknown"


@dataclass(frozen=True, slots=True)
class Conflict:
    """A label and a technical fingerprint that name different vendor groups."""

    label_vendor: str
    label_kind: str
    fingerprint_vendor: str
    fingerprint_kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The reconciled answer for an asset: one vendor, or none."""

    vendor: str | None
    vendor_name: str | None
    group: str | None
    confidence: float
    product: str | None = None
    version: str | None = None
    device_type: str | None = None


@dataclass(slots=True)
class Asset:
    """One device, merged from every observation that describes it."""

    id: str
    keys: dict[str, set[str]]
    observations: list[Observation]
    attributions: list[Attribution]
    verdict: Verdict
    conflicts: list[Conflict] = field(default_factory=list)
    role: Role = Role.unknown
    site: str | None = None
    site_tags: frozenset[str] = frozenset()
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class Status(StrEnum):
    prohibited = "prohibited"  # covered and present where the rule already bites
    must_remove = "must_remove"  # covered, a removal deadline lies ahead
    overdue = "overdue"  # covered, removal deadline passed
    restricted = "restricted"  # covered, use allowed under conditions
    advisory = "advisory"  # a recommendation, not binding
    review = "review"  # may be covered; needs a person to decide
    clear = "clear"  # not covered


@dataclass(frozen=True, slots=True)
class Finding:
    """What one policy requirement says about one asset, as of a date."""

    asset_id: str
    policy: str
    requirement: str
    status: Status
    as_of: date
    deadline: date | None
    severity: str
    reason: str
    evidence: tuple[str, ...] = ()

    @property
    def days_left(self) -> int | None:
        return None if self.deadline is None else (self.deadline - self.as_of).days
