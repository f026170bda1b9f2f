"""The records that flow through the pipeline: collect → identify → resolve → judge.

Plain frozen dataclasses with slots: cheap to make by the million, easy to
serialise with :func:`dataclasses.asdict` or the helpers below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
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
    # Names the maker of a part inside the device (a chip, an SDK), not of the device.
    component: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "vendor": self.vendor,
            "vendor_name": self.vendor_name,
            "group": self.group,
            "product": self.product,
            "version": self.version,
            "device_type": self.device_type,
            "confidence": self.confidence,
            "rule": self.rule,
            "component": self.component,  # True: names a chip or SDK inside the device, not the device
        }
        return out


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


@dataclass(frozen=True, slots=True)
class Annotation:
    """What a person said about an asset (role, site, tags): it overrides what the collectors saw."""

    asset_id: str
    role: Role | None = None
    site: str | None = None
    tags: frozenset[str] = frozenset()
    removed_tags: frozenset[str] = frozenset()


class Status(StrEnum):
    prohibited = "prohibited"  # covered and present where the rule already bites
    must_remove = "must_remove"  # covered, a removal deadline lies ahead
    overdue = "overdue"  # covered, removal deadline passed
    restricted = "restricted"  # covered, use allowed under conditions
    advisory = "advisory"  # a recommendation, not binding
    review = "review"  # may be covered; needs a person to decide
    clear = "clear"  # not covered


# Statuses under which a requirement applies to an asset: what "covered" means in the
# headline, the burn-down history and the diff alike.
COVERED_STATUSES: frozenset[Status] = frozenset(
    {Status.prohibited, Status.must_remove, Status.overdue, Status.restricted, Status.advisory}
)


def observation_id(obs: Observation) -> str:
    """A stable id for a piece of evidence: what was seen, by which source, on which device.

    Every sighting of it (frame 7, frame 9, ...) shares the id, so a full and a
    condensed read of the inventory name it alike in every output.
    """
    text = "\x1e".join((obs.source, obs.kind, obs.value, *(f"{k}={v}" for k, v in obs.keys.as_dict().items())))
    return "obs:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceLink:
    """One link of a finding's evidence chain: a datum, where it was seen, the rule that read it, what it said.

    Made from an attribution; every output (CLI, JSON, HTML, CycloneDX) writes
    these fields and nothing else about the evidence.
    """

    observation_id: str | None  # None when a rule fired without a stored observation
    kind: str | None
    value: str | None  # verbatim: hostile input, escaped by whoever displays it
    source: str | None  # pcap:lab.pcap, probe, import:nmap:scan.xml
    context: Mapping[str, Any]  # what finds it again: file, frame, port, probe id, row
    seen_at: datetime | None
    rule: str
    confidence: float
    vendor: str
    vendor_name: str
    group: str
    product: str | None = None
    version: str | None = None
    device_type: str | None = None

    @classmethod
    def of(cls, attribution: Attribution) -> EvidenceLink:
        obs = attribution.observation
        return cls(
            observation_id=observation_id(obs) if obs is not None else None,
            kind=obs.kind if obs is not None else None,
            value=obs.value if obs is not None else None,
            source=(obs.source or None) if obs is not None else None,
            context=dict(obs.context) if obs is not None else {},
            seen_at=obs.seen_at if obs is not None else None,
            rule=attribution.rule,
            confidence=attribution.confidence,
            vendor=attribution.vendor,
            vendor_name=attribution.vendor_name,
            group=attribution.group,
            product=attribution.product,
            version=attribution.version,
            device_type=attribution.device_type,
        )

    def text(self, limit: int = 80) -> str:
        """One line: ``ssh.banner 'SSH-2.0-HUAWEI-1.5' → ssh.huawei.vrp (0.95)``."""
        if self.kind is None or self.value is None:
            return f"{self.rule} ({self.confidence:.2g})"
        value = self.value if len(self.value) <= limit else self.value[: limit - 3] + "..."
        return f"{self.kind} {value!r} → {self.rule} ({self.confidence:.2g})"


def distinct_links(attributions: Iterable[Attribution]) -> Iterator[EvidenceLink]:
    """Evidence links in the attributions' order, one per piece of evidence and rule (first sighting kept)."""
    seen: set[tuple[str | None, str, float]] = set()
    for a in attributions:
        link = EvidenceLink.of(a)
        key = (link.observation_id, link.rule, link.confidence)
        if link.observation_id is None or key not in seen:
            seen.add(key)
            yield link


@dataclass(frozen=True, slots=True)
class Finding:
    """What one policy requirement says about one asset, as of a date.

    ``reasons`` are the judge's sentences, in order (who, the requirement, the
    deadline, the source, the notes); ``evidence`` is the chain of observations
    that named the maker, and ``conflicts`` what a label and a fingerprint
    disagree on.
    """

    asset_id: str
    policy: str
    requirement: str
    status: Status
    as_of: date
    deadline: date | None
    severity: str
    reasons: tuple[str, ...]
    evidence: tuple[EvidenceLink, ...] = ()
    conflicts: tuple[str, ...] = ()
    force: str | None = None  # the requirement's legal force: law, regulation, order, ..., proposal

    def __post_init__(self) -> None:
        if isinstance(self.reasons, str):  # one sentence given as a plain string
            object.__setattr__(self, "reasons", (self.reasons,))

    @property
    def reason(self) -> str:
        """The reasons as one line."""
        return "; ".join(self.reasons)

    @property
    def evidence_lines(self) -> tuple[str, ...]:
        """The evidence chain, one line per link, then the conflicts."""
        return (*(link.text() for link in self.evidence), *(f"conflict: {c}" for c in self.conflicts))

    @property
    def days_left(self) -> int | None:
        return None if self.deadline is None else (self.deadline - self.as_of).days
