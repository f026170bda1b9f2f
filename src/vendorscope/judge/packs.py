"""Policy packs: what each jurisdiction's instrument requires, as data.

One YAML file per legal instrument in ``judge/packs/`` (schema and example:
docs/policy-packs.md). Loading validates every key, refuses unknown ones, and
insists that every date carries a source the pack declares; an error names the
file and the key. ``judge/defaults.yaml`` holds what the judge applies to every
pack (severity-raising site tags, purpose tags, related vendors).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from vendorscope.model import Role, Status

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
# The words packs use in `include`/`review`, and the registry relation each means.
RELATION_WORDS: Mapping[str, str] = {
    "subsidiaries": "subsidiary",
    "affiliates": "affiliate",
    "brands": "brand",
    "divisions": "division",
}
# Asset tags that say which network an asset serves (asset.tag observations).
NETWORK_TAGS: tuple[str, ...] = ("2g", "3g", "4g", "5g", "full-fibre")
SUBJECTS: tuple[str, ...] = ("installed", "procurement")
WHEN_UNKNOWN: tuple[str, ...] = ("apply", "review", "skip")
PRECISIONS: tuple[str, ...] = ("day", "month", "year")
# How strong a requirement is, strongest first. A proposal is never judged as law.
FORCES: tuple[str, ...] = ("law", "regulation", "order", "licence condition", "policy", "guidance", "proposal")
# A pack whose facts were last checked longer ago than this is flagged as stale.
STALE_AFTER_DAYS = 180
# Asset tags that carry an exemption annotation: `exempt:<exemption id>`.
EXEMPT_TAG_PREFIX = "exempt:"
# A file in a user packs directory that holds vendor-level exemptions, not a pack.
EXEMPTIONS_FILE = "exemptions.yaml"
# Directories of user packs, separated like PATH.
PACKS_ENV = "VENDORSCOPE_PACKS"
# ISO 3166-1 exceptionally reserved codes people type for a jurisdiction.
JURISDICTION_ALIASES: Mapping[str, str] = {"UK": "GB"}

_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class PackError(ValueError):
    """A policy pack or the judge defaults are malformed; the message names file, key and line."""

    def __init__(self, message: str, file: str = "", key: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.file, self.key, self.problem = file, key, problem


@dataclass(frozen=True, slots=True)
class Source:
    """A document a pack cites."""

    id: str
    title: str
    url: str
    published: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD; None when the source shows no date
    retrieved: str | None = None  # when the pack's authors last read it (same forms)

    def cite(self) -> str:
        return f"{self.title} ({self.published})" if self.published else self.title


@dataclass(frozen=True, slots=True)
class DatedFact:
    """A date and where it comes from. ``wording`` quotes the instrument ("by the end of 2027")."""

    date: date
    source: str
    wording: str | None = None
    precision: str = "day"  # day | month | year: how much of the date the source gives
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RelativeDeadline:
    """A deadline counted from the day a company was listed (``covers[].since``)."""

    days_after_listing: int
    source: str
    note: str | None = None

    def on(self, listed: date) -> date:
        return listed + timedelta(days=self.days_after_listing)


Deadline = DatedFact | RelativeDeadline


@dataclass(frozen=True, slots=True)
class Purpose:
    """A coverage that depends on what the equipment is used for."""

    text: str
    source: str
    tags: frozenset[str] = frozenset()  # empty: the judge defaults' purpose_tags


@dataclass(frozen=True, slots=True)
class Exemption:
    """An exemption a user declares: on a device (tag ``exempt:ID``) or a vendor (exemptions.yaml)."""

    id: str
    text: str
    source: str
    until: DatedFact | None = None  # the exemption ends on this day (exclusive)

    def active(self, on: date) -> bool:
        return self.until is None or on < self.until.date


@dataclass(frozen=True, slots=True)
class CoveredCompany:
    """What an instrument names: a company (with the relations that count), a home country,
    or a class of equipment (device types × where it was produced), whoever made it."""

    name: str
    scope: str
    source: str
    company: str | None = None  # a registry vendor id ...
    country: str | None = None  # ... or an ISO country code of the vendor group's headquarters
    include: frozenset[str] = frozenset()  # registry relations that are covered
    review: frozenset[str] = frozenset()  # registry relations that need a person to decide
    since: DatedFact | None = None  # listed from this day (e.g. added to the FCC Covered List)
    purpose: Purpose | None = None
    note: str | None = None
    equipment_class: str | None = None  # ... or a class id, with device_types and produced_*
    device_types: frozenset[str] = frozenset()
    produced_in: frozenset[str] = frozenset()  # covered when produced in one of these countries
    produced_outside: frozenset[str] = frozenset()  # covered when produced anywhere but these
    roles: frozenset[Role] = frozenset()  # a class: only equipment in these roles (unknown → review)
    exemptions: tuple[Exemption, ...] = ()
    exempt_vendors: Mapping[str, str] = field(default_factory=dict)  # vendor id -> exemption id

    @property
    def key(self) -> str:
        if self.equipment_class:
            return f"class:{self.equipment_class}"
        return self.company or f"country:{self.country}"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One obligation of an instrument and how it turns into a status for an asset."""

    id: str
    text: str
    sources: tuple[str, ...]
    severity: str
    subject: str = "installed"  # installed: judged on assets present; procurement: shown, not judged
    status: Status | None = None  # the status when there is no deadline
    deadline: Deadline | None = None
    before: Status = Status.must_remove  # up to and including the deadline day
    after: Status = Status.overdue  # from the day after the deadline
    effective: DatedFact | None = None  # in force from (default: the pack's effective date)
    roles: frozenset[Role] = frozenset()  # empty: every role
    role_unknown: str = "review"
    networks: frozenset[str] = frozenset()  # empty: every network
    network_unknown: str = "apply"
    site_tags: frozenset[str] = frozenset()  # non-empty: only assets at sites with one of these tags
    companies: frozenset[str] = frozenset()  # non-empty: only these covered companies or classes
    audience: str | None = None  # an id in the pack's audiences
    note: str | None = None
    force: str = "law"  # one of FORCES
    expected: str | None = None  # a proposal's expected date, as text (never a date it is judged by)

    @property
    def judged(self) -> bool:
        return self.subject == "installed"


@dataclass(frozen=True, slots=True)
class Milestone:
    when: DatedFact
    what: str


@dataclass(frozen=True, slots=True)
class PolicyPack:
    id: str
    title: str
    short: str
    jurisdiction: str
    authority: str
    instrument: str
    url: str
    binding: bool
    applies_to: str
    effective: DatedFact
    sources: Mapping[str, Source]
    covers: tuple[CoveredCompany, ...]
    requirements: tuple[Requirement, ...]
    milestones: tuple[Milestone, ...] = ()
    audiences: Mapping[str, str] | None = None
    notes: tuple[str, ...] = ()
    severity_raising_tags: frozenset[str] | None = None  # None: the judge defaults
    file: str = ""
    force: str = "law"  # the requirements' force unless one says otherwise
    reviewed: date | None = None  # the day its facts were last checked against its sources
    replaces: str | None = None  # the bundled pack file a user pack replaces

    def review_age(self, today: date) -> int | None:
        """Days since the pack was reviewed (None: never)."""
        return None if self.reviewed is None else (today - self.reviewed).days

    def stale(self, today: date) -> bool:
        age = self.review_age(today)
        return age is None or age > STALE_AFTER_DAYS

    def freshness(self, today: date) -> str:
        """'reviewed 2026-12-04' or a warning that the rules may be out of date."""
        age = self.review_age(today)
        if age is None:
            return "never reviewed: its dates may be out of date"
        if age > STALE_AFTER_DAYS:
            return f"last reviewed {self.reviewed} ({age} days ago): its dates may be out of date"
        return f"reviewed {self.reviewed}"

    def cite(self, source_ids: Iterable[str]) -> str:
        return "; ".join(self.sources[s].cite() for s in source_ids)

    def dated_facts(self) -> Iterator[tuple[str, Deadline]]:
        """Every date in the pack with the key it sits under."""
        yield "effective", self.effective
        for i, cover in enumerate(self.covers):
            if cover.since:
                yield f"covers[{i}].since", cover.since
            for j, exemption in enumerate(cover.exemptions):
                if exemption.until:
                    yield f"covers[{i}].exemptions[{j}].until", exemption.until
        for i, req in enumerate(self.requirements):
            if req.effective:
                yield f"requirements[{i}].effective", req.effective
            if req.deadline:
                yield f"requirements[{i}].deadline", req.deadline
        for i, milestone in enumerate(self.milestones):
            yield f"milestones[{i}]", milestone.when

    def matches_jurisdiction(self, code: str) -> bool:
        code = code.strip().upper()
        return JURISDICTION_ALIASES.get(code, code) == self.jurisdiction


@dataclass(frozen=True, slots=True)
class RelatedVendor:
    """A vendor that is not (or not only) a covered member but needs a person to look."""

    vendor: str
    of: str
    when: str  # always | not-member
    status: Status
    reason: str
    source: Source


@dataclass(frozen=True, slots=True)
class JudgeDefaults:
    severity_raising_tags: frozenset[str]
    purpose_tags: frozenset[str]
    role_by_device_type: Mapping[str, Role]
    related_vendors: tuple[RelatedVendor, ...] = ()


# ----------------------------------------------------------------- reading YAML


class _Fields:
    """One YAML mapping being read. Unknown keys are errors; errors name file and key."""

    def __init__(self, data: Any, file: str, path: str, known: Iterable[str]) -> None:
        self.file, self.path = file, path
        if not isinstance(data, dict):
            raise self._error(path, f"expected a mapping, got {_kind(data)}")
        known = frozenset(known)
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise self._error(self.key(unknown[0]), f"unknown key (allowed: {', '.join(sorted(known))})")
        self.data: dict[str, Any] = data

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _error(self, key: str, problem: str) -> PackError:
        return PackError(f"{self.file}: {key or '(top level)'}: {problem}", self.file, key, problem)

    def error(self, name: str, problem: str) -> PackError:
        return self._error(self.key(name), problem)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        if not self.has(name):
            raise self.error(name, "missing")
        return self.data[name]

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"expected text, got {_kind(value)}")
        return " ".join(value.split())

    def optional_text(self, name: str) -> str | None:
        return self.text(name) if self.has(name) else None

    def ident(self, name: str) -> str:
        value = self.text(name)
        if not _ID.match(value):
            raise self.error(name, f"{value!r} is not an id (lowercase letters, digits, '.', '-')")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, name: str, allowed: Iterable[str], default: str) -> str:
        if not self.has(name):
            return default
        value = self.text(name)
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.error(name, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def status(self, name: str, default: Status | None = None) -> Status | None:
        if not self.has(name):
            return default
        value = self.text(name)
        if value not in Status.__members__:
            raise self.error(name, f"{value!r} is not a status ({', '.join(Status.__members__)})")
        return Status(value)

    def words(self, name: str, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
        if not self.has(name):
            return ()
        value = self.data[name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(name, f"expected a list of words, got {_kind(value)}")
        if allowed is not None:
            allowed = tuple(allowed)
            for v in value:
                if v not in allowed:
                    raise self.error(name, f"{v!r} is not one of {', '.join(allowed)}")
        return tuple(v.strip() for v in value)

    def day(self, name: str) -> date:
        value = self.raw(name)
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.error(name, f"expected a date YYYY-MM-DD, got {value!r}")

    def sub(self, name: str, known: Iterable[str]) -> _Fields:
        return _Fields(self.raw(name), self.file, self.key(name), known)

    def items(self, name: str, known: Iterable[str], required: bool = False) -> list[_Fields]:
        if not self.has(name):
            if required:
                raise self.error(name, "missing")
            return []
        value = self.data[name]
        if not isinstance(value, list) or (required and not value):
            raise self.error(name, f"expected a non-empty list, got {_kind(value)}")
        return [_Fields(v, self.file, f"{self.key(name)}[{i}]", known) for i, v in enumerate(value)]


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (quote it if you meant text)"
    return type(value).__name__ if not isinstance(value, (str, int, float)) else repr(value)


# ----------------------------------------------------------------- pack parts


def _source_ref(f: _Fields, name: str, sources: Mapping[str, Source]) -> str:
    ref = f.text(name)
    if ref not in sources:
        raise f.error(name, f"unknown source {ref!r} (declare it under sources)")
    return ref


def _source_refs(f: _Fields, name: str, sources: Mapping[str, Source]) -> tuple[str, ...]:
    refs = f.words(name)
    if not refs:
        raise f.error(name, "missing: every requirement cites a source")
    for ref in refs:
        if ref not in sources:
            raise f.error(name, f"unknown source {ref!r} (declare it under sources)")
    return refs


_DATED_KEYS = ("date", "source", "wording", "precision", "note")


def _dated(f: _Fields, sources: Mapping[str, Source]) -> DatedFact:
    if not f.has("source"):
        raise f.error("source", "missing: every date must carry a source")
    return DatedFact(
        date=f.day("date"),
        source=_source_ref(f, "source", sources),
        wording=f.optional_text("wording"),
        precision=f.choice("precision", PRECISIONS, "day"),
        note=f.optional_text("note"),
    )


def _deadline(f: _Fields, sources: Mapping[str, Source]) -> Deadline:
    if f.has("days_after_listing"):
        relative = _Fields(f.data, f.file, f.path, ("days_after_listing", "source", "note"))
        days = relative.raw("days_after_listing")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise relative.error("days_after_listing", f"expected a whole number of days, got {days!r}")
        if not relative.has("source"):
            raise relative.error("source", "missing: every date must carry a source")
        source = _source_ref(relative, "source", sources)
        return RelativeDeadline(days, source, relative.optional_text("note"))
    return _dated(_Fields(f.data, f.file, f.path, _DATED_KEYS), sources)


def _partial_date(f: _Fields, name: str) -> str | None:
    if not f.has(name):
        return None
    value = f.raw(name)
    text = value.isoformat() if isinstance(value, date) else str(value)
    if not _PUBLISHED.match(text):
        raise f.error(name, f"expected YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}")
    return text


def _parse_source(f: _Fields, source_id: str) -> Source:
    published = _partial_date(f, "published")
    url = f.text("url")
    if not url.startswith(("https://", "http://")):
        raise f.error("url", f"expected an http(s) URL, got {url!r}")
    return Source(id=source_id, title=f.text("title"), url=url, published=published,
                  retrieved=_partial_date(f, "retrieved"))


def _sources(top: _Fields) -> dict[str, Source]:
    raw = top.raw("sources")
    if not isinstance(raw, dict) or not raw:
        raise top.error("sources", "expected a mapping of source id to {title, url, published}")
    out: dict[str, Source] = {}
    for source_id, body in raw.items():
        if not isinstance(source_id, str) or not _ID.match(source_id):
            raise top.error(f"sources.{source_id}", "source ids are lowercase letters, digits, '.', '-'")
        f = _Fields(body, top.file, top.key(f"sources.{source_id}"), ("title", "url", "published", "retrieved"))
        out[source_id] = _parse_source(f, source_id)
    return out


def _relations(f: _Fields, name: str) -> frozenset[str]:
    return frozenset(RELATION_WORDS[w] for w in f.words(name, RELATION_WORDS))


_COVER_KEYS = (
    "company", "country", "class", "name", "include", "review", "scope", "source", "since", "purpose", "note",
    "device_types", "produced_in", "produced_outside", "exemptions", "roles",
)


def _countries(f: _Fields, name: str) -> frozenset[str]:
    codes = f.words(name)
    for code in codes:
        if not _COUNTRY.match(code):
            raise f.error(name, f"expected ISO 3166 alpha-2 codes such as US, got {code!r}")
    return frozenset(codes)


def _exemption(f: _Fields, sources: Mapping[str, Source]) -> Exemption:
    return Exemption(
        id=f.ident("id"),
        text=f.text("text"),
        source=_source_ref(f, "source", sources),
        until=_dated(f.sub("until", _DATED_KEYS), sources) if f.has("until") else None,
    )


def _cover(f: _Fields, sources: Mapping[str, Source]) -> CoveredCompany:
    if sum(f.has(k) for k in ("company", "country", "class")) != 1:
        raise f.error("company", "give either company (a vendor id), country (ISO code) or class (equipment), "
                      "exactly one")
    country = f.optional_text("country")
    if country is not None and not _COUNTRY.match(country):
        raise f.error("country", f"expected an ISO 3166 alpha-2 code such as CN, got {country!r}")
    device_types = frozenset(f.words("device_types"))
    produced_in, produced_outside = _countries(f, "produced_in"), _countries(f, "produced_outside")
    if f.has("class"):
        if not device_types:
            raise f.error("device_types", "missing: a class of equipment names its device types")
        if produced_in and produced_outside:
            raise f.error("produced_outside", "a class gives produced_in or produced_outside, not both")
    elif device_types or produced_in or produced_outside or f.has("roles"):
        key = "device_types" if device_types else "produced_in" if produced_in else \
            "produced_outside" if produced_outside else "roles"
        raise f.error(key, "only a class (not a company or country) is defined by device types and origin")
    purpose = None
    if f.has("purpose"):
        p = f.sub("purpose", ("text", "source", "tags"))
        purpose = Purpose(p.text("text"), _source_ref(p, "source", sources), frozenset(p.words("tags")))
    include, review = _relations(f, "include"), _relations(f, "review")
    if include & review:
        raise f.error("review", f"{', '.join(sorted(include & review))} is both included and for review")
    return CoveredCompany(
        company=f.ident("company") if f.has("company") else None,
        country=country,
        name=f.text("name"),
        scope=f.text("scope"),
        source=_source_ref(f, "source", sources),
        include=include,
        review=review,
        since=_dated(f.sub("since", _DATED_KEYS), sources) if f.has("since") else None,
        purpose=purpose,
        note=f.optional_text("note"),
        equipment_class=f.ident("class") if f.has("class") else None,
        device_types=device_types,
        produced_in=produced_in,
        produced_outside=produced_outside,
        roles=frozenset(Role(r) for r in f.words("roles", Role.__members__)),
        exemptions=tuple(_exemption(e, sources) for e in f.items("exemptions", ("id", "text", "source", "until"))),
    )


_REQUIREMENT_KEYS = (
    "id", "text", "source", "severity", "subject", "status", "deadline", "before", "after", "effective",
    "roles", "role_unknown", "networks", "network_unknown", "site_tags", "companies", "audience", "note",
    "force", "expected",
)
# Statuses a proposal may never yield: it is not law yet.
_LAW_ONLY = (Status.prohibited, Status.must_remove, Status.overdue, Status.restricted)


def _requirement(
    f: _Fields, sources: Mapping[str, Source], audiences: Mapping[str, str], companies: set[str], force: str
) -> Requirement:
    force = f.choice("force", FORCES, force)
    if force == "proposal":
        if f.has("deadline"):
            raise f.error("deadline", "a proposal is not law: give its expected date as text under expected")
        if f.status("status") in _LAW_ONLY:
            raise f.error("status", "a proposal is not law: its status is advisory")
    elif f.has("expected"):
        raise f.error("expected", "only a proposal has an expected date as text; give a deadline instead")
    status = f.status("status")
    deadline = _deadline(f.sub("deadline", (*_DATED_KEYS, "days_after_listing")), sources) \
        if f.has("deadline") else None
    if (status is None) == (deadline is None):
        raise f.error("status", "give either status (fixed) or deadline (with before/after), not both")
    if deadline is None and (f.has("before") or f.has("after")):
        raise f.error("before" if f.has("before") else "after", "before/after need a deadline")
    if status in (Status.must_remove, Status.overdue):
        raise f.error("status", f"{status.value} needs a deadline: give deadline (and before/after) instead")
    audience = f.optional_text("audience")
    if audience is not None and audience not in audiences:
        raise f.error("audience", f"unknown audience {audience!r} (declare it under audiences)")
    named = frozenset(f.words("companies"))
    if named - companies:
        raise f.error("companies", f"{sorted(named - companies)[0]!r} is not among the covered companies")
    return Requirement(
        id=f.ident("id"),
        text=f.text("text"),
        sources=_source_refs(f, "source", sources),
        severity=f.choice("severity", SEVERITIES, "medium"),
        subject=f.choice("subject", SUBJECTS, "installed"),
        status=status,
        deadline=deadline,
        before=f.status("before", Status.must_remove) or Status.must_remove,
        after=f.status("after", Status.overdue) or Status.overdue,
        effective=_dated(f.sub("effective", _DATED_KEYS), sources) if f.has("effective") else None,
        roles=frozenset(Role(r) for r in f.words("roles", Role.__members__)),
        role_unknown=f.choice("role_unknown", WHEN_UNKNOWN, "review"),
        networks=frozenset(f.words("networks", NETWORK_TAGS)),
        network_unknown=f.choice("network_unknown", WHEN_UNKNOWN, "apply"),
        site_tags=frozenset(t.lower() for t in f.words("site_tags")),
        companies=named,
        audience=audience,
        note=f.optional_text("note"),
        force=force,
        expected=f.optional_text("expected"),
    )


def _milestone(f: _Fields, sources: Mapping[str, Source]) -> Milestone:
    dated = _Fields(f.data, f.file, f.path, (*_DATED_KEYS, "what"))
    return Milestone(when=_dated(dated, sources), what=dated.text("what"))


_PACK_KEYS = (
    "id", "title", "short", "jurisdiction", "authority", "instrument", "url", "binding", "applies_to",
    "effective", "sources", "covers", "requirements", "milestones", "audiences", "notes",
    "severity_raising_tags", "force", "reviewed",
)


def parse_pack(data: Any, file: str) -> PolicyPack:
    """Validate one pack's YAML data; ``file`` names it in errors."""
    top = _Fields(data, file, "", _PACK_KEYS)
    pack_id = top.ident("id")
    stem = Path(file).stem
    if file.endswith((".yaml", ".yml")) and stem != pack_id:
        raise top.error("id", f"{pack_id!r} must match the file name ({stem}.yaml)")
    jurisdiction = top.text("jurisdiction")
    if not (_COUNTRY.match(jurisdiction)):
        raise top.error("jurisdiction", f"expected an ISO 3166 alpha-2 code or EU, got {jurisdiction!r}")
    url = top.text("url")
    if not url.startswith(("https://", "http://")):
        raise top.error("url", f"expected an http(s) URL, got {url!r}")
    sources = _sources(top)
    audiences: dict[str, str] = {}
    if top.has("audiences"):
        raw = top.raw("audiences")
        if not isinstance(raw, dict):
            raise top.error("audiences", "expected a mapping of audience id to description")
        aud = _Fields(raw, file, "audiences", [str(k) for k in raw])
        audiences = {str(k): aud.text(str(k)) for k in raw}
    covers = tuple(
        _cover(f, sources) for f in top.items("covers", _COVER_KEYS, required=True)
    )
    keys = [c.key for c in covers]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise top.error(f"covers[{i}]", f"{key} is listed twice")
    company_ids = {name for c in covers if (name := c.company or c.equipment_class)}
    force = top.choice("force", FORCES, "") or None
    if force is None:
        raise top.error("force", f"missing: the legal force of the pack's requirements ({', '.join(FORCES)})")
    requirements = tuple(
        _requirement(f, sources, audiences, company_ids, force)
        for f in top.items("requirements", _REQUIREMENT_KEYS, required=True)
    )
    ids = [r.id for r in requirements]
    for i, rid in enumerate(ids):
        if rid in ids[:i]:
            raise top.error(f"requirements[{i}].id", f"{rid!r} is used twice")
    notes: tuple[str, ...] = ()
    if top.has("notes"):
        raw_notes = top.raw("notes")
        if not isinstance(raw_notes, list) or not all(isinstance(n, str) for n in raw_notes):
            raise top.error("notes", "expected a list of text")
        notes = tuple(" ".join(n.split()) for n in raw_notes)
    return PolicyPack(
        id=pack_id,
        title=top.text("title"),
        short=top.optional_text("short") or pack_id,
        jurisdiction=jurisdiction,
        authority=top.text("authority"),
        instrument=top.text("instrument"),
        url=url,
        binding=top.flag("binding"),
        applies_to=top.text("applies_to"),
        effective=_dated(top.sub("effective", _DATED_KEYS), sources),
        sources=sources,
        covers=covers,
        requirements=requirements,
        milestones=tuple(_milestone(f, sources) for f in top.items("milestones", (*_DATED_KEYS, "what"))),
        audiences=audiences,
        notes=notes,
        severity_raising_tags=frozenset(t.lower() for t in top.words("severity_raising_tags"))
        if top.has("severity_raising_tags") else None,
        file=file,
        force=force,
        reviewed=top.day("reviewed") if top.has("reviewed") else None,
    )


def _read_yaml(text: str, file: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(top level)"
        raise PackError(f"{file}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    except (ValueError, OverflowError) as exc:  # a timestamp YAML cannot build, e.g. 2026-13-45
        raise PackError(f"{file}: (top level): not valid YAML (bad date or number: {exc})") from exc
    if _cyclic(data):
        raise PackError(f"{file}: (top level): an alias refers to itself (recursive YAML is not allowed)")
    return data


def _cyclic(value: Any, path: frozenset[int] = frozenset()) -> bool:
    """Whether YAML aliases made a structure contain itself (every walk over it would never end)."""
    if not isinstance(value, (dict, list)):
        return False
    if id(value) in path:
        return True
    inner = path | {id(value)}
    children = value.values() if isinstance(value, dict) else value
    return any(_cyclic(child, inner) for child in children)


def key_lines(text: str) -> dict[str, int]:
    """The YAML line (1-based) of every key path in a document: ``requirements[0].deadline`` → 42."""
    lines: dict[str, int] = {}
    seen: set[int] = set()  # an alias node is walked once (a recursive alias would never end)

    def walk(node: yaml.Node, path: str) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{path}.{key.value}" if path else str(key.value)
                lines[name] = key.start_mark.line + 1
                walk(value, name)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, "")
    return lines


def line_of(lines: Mapping[str, int], key: str) -> int | None:
    """The line of ``key``, or of its nearest parent that the document has."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return lines.get("")


def with_line(exc: PackError, lines: Mapping[str, int]) -> PackError:
    """The same error, with the YAML line of its key."""
    line = line_of(lines, exc.key)
    if line is None or not exc.file:
        return exc
    return PackError(f"{exc} (line {line})", exc.file, exc.key, exc.problem)


def read_pack(path: Path | Traversable, label: str | None = None) -> PolicyPack:
    """Load and validate one pack file; an error names the file, the key and its line."""
    file = label or str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PackError(f"{file}: cannot read ({reason or exc})") from exc
    try:
        return parse_pack(_read_yaml(text, file), file)
    except PackError as exc:
        raise with_line(exc, key_lines(text)) from None


def _bundled_dir() -> Traversable:
    return resources.files("vendorscope.judge") / "packs"


@cache
def bundled_packs() -> tuple[PolicyPack, ...]:
    """The packs shipped with vendorscope, sorted by id (loaded once)."""
    files = sorted((p for p in _bundled_dir().iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    return tuple(read_pack(p, f"judge/packs/{p.name}") for p in files)


def user_pack_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The directories in VENDORSCOPE_PACKS (separated like PATH)."""
    value = (os.environ if environ is None else environ).get(PACKS_ENV, "")
    return [Path(p) for p in value.split(os.pathsep) if p.strip()]


def _pack_files(extra: Iterable[Path]) -> Iterator[Path]:
    for path in extra:
        path = Path(path)
        if path.is_dir():
            yield from sorted(p for p in path.glob("*.yaml") if p.name != EXEMPTIONS_FILE)
        elif path.name != EXEMPTIONS_FILE:
            yield path


def _exemption_files(extra: Iterable[Path]) -> Iterator[Path]:
    for path in extra:
        path = Path(path)
        candidate = path / EXEMPTIONS_FILE if path.is_dir() else path
        if candidate.name == EXEMPTIONS_FILE and candidate.is_file():
            yield candidate


def read_vendor_exemptions(path: Path) -> dict[str, set[str]]:
    """exemptions.yaml: ``vendors: {VENDOR_ID: [EXEMPTION_ID, ...]}``; exemption id → vendor ids."""
    file = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{file}: cannot read ({exc})") from exc
    lines = key_lines(text)
    try:
        top = _Fields(_read_yaml(text, file) or {}, file, "", ("vendors",))
        raw = top.raw("vendors")
        if not isinstance(raw, dict):
            raise top.error("vendors", "expected a mapping of vendor id to exemption ids")
        fields = _Fields(raw, file, "vendors", [str(k) for k in raw])
        out: dict[str, set[str]] = {}
        for vendor in raw:
            if not isinstance(vendor, str) or not _ID.match(vendor):
                raise fields.error(str(vendor), "vendor ids are lowercase letters, digits, '.', '-'")
            for exemption in fields.words(vendor):
                out.setdefault(exemption, set()).add(vendor)
        return out
    except PackError as exc:
        raise with_line(exc, lines) from None


def _apply_exemptions(pack: PolicyPack, by_exemption: Mapping[str, set[str]]) -> PolicyPack:
    covers = []
    for cover in pack.covers:
        exempt = dict(cover.exempt_vendors)
        for exemption in cover.exemptions:
            for vendor in by_exemption.get(exemption.id, ()):
                exempt.setdefault(vendor, exemption.id)
        covers.append(replace(cover, exempt_vendors=exempt) if exempt != cover.exempt_vendors else cover)
    return replace(pack, covers=tuple(covers))


def load_packs(extra: Iterable[Path] = (), environ: Mapping[str, str] | None = None) -> list[PolicyPack]:
    """The bundled packs, then user packs from VENDORSCOPE_PACKS and ``extra`` (files or directories).

    A user pack with a bundled pack's id replaces it (a newer copy, or an
    organisation's own reading); two user packs with one id are an error.
    ``exemptions.yaml`` in a user directory declares vendor-level exemptions.
    """
    places = [*user_pack_dirs(environ), *(Path(p) for p in extra)]
    packs = {p.id: p for p in bundled_packs()}
    user: dict[str, str] = {}
    for path in _pack_files(places):
        pack = read_pack(path)
        if pack.id in user:
            raise PackError(f"{pack.file}: id: {pack.id!r} is already defined in {user[pack.id]}",
                            pack.file, "id", "defined twice")
        user[pack.id] = pack.file
        bundled = packs.get(pack.id)
        packs[pack.id] = replace(pack, replaces=bundled.file) if bundled is not None else pack
    by_exemption: dict[str, set[str]] = {}
    for path in _exemption_files(places):
        for exemption, vendors in read_vendor_exemptions(path).items():
            by_exemption.setdefault(exemption, set()).update(vendors)
    chosen = packs.values()
    if by_exemption:
        chosen = [_apply_exemptions(p, by_exemption) for p in chosen]  # type: ignore[assignment]
    return sorted(chosen, key=lambda p: p.id)


def get_pack(pack_id: str, extra: Iterable[Path] = ()) -> PolicyPack:
    """One pack by id; KeyError (listing the known ids) when there is none."""
    packs = load_packs(extra)
    for pack in packs:
        if pack.id == pack_id:
            return pack
    raise KeyError(f"no policy pack {pack_id!r} (known: {', '.join(p.id for p in packs)})")


# ----------------------------------------------------------------- judge defaults


def parse_defaults(data: Any, file: str) -> JudgeDefaults:
    known = ("severity_raising_tags", "purpose_tags", "role_by_device_type", "related_vendors")
    top = _Fields(data, file, "", known)
    roles: dict[str, Role] = {}
    if top.has("role_by_device_type"):
        raw = top.raw("role_by_device_type")
        if not isinstance(raw, dict):
            raise top.error("role_by_device_type", "expected a mapping of device type to role")
        for device_type, role in raw.items():
            if role not in Role.__members__:
                raise top.error(f"role_by_device_type.{device_type}", f"{role!r} is not a role")
            roles[str(device_type)] = Role(role)
    related = []
    for f in top.items("related_vendors", ("vendor", "of", "when", "status", "reason", "source")):
        src = f.sub("source", ("title", "url", "published"))
        related.append(
            RelatedVendor(
                vendor=f.ident("vendor"),
                of=f.ident("of"),
                when=f.choice("when", ("always", "not-member"), "not-member"),
                status=f.status("status", Status.review) or Status.review,
                reason=f.text("reason"),
                source=_parse_source(src, f"{f.text('vendor')}-source"),
            )
        )
    return JudgeDefaults(
        severity_raising_tags=frozenset(t.lower() for t in top.words("severity_raising_tags")),
        purpose_tags=frozenset(t.lower() for t in top.words("purpose_tags")),
        role_by_device_type=roles,
        related_vendors=tuple(related),
    )


def load_defaults(path: Path | None = None) -> JudgeDefaults:
    if path is not None:
        return parse_defaults(_read_yaml(Path(path).read_text("utf-8"), str(path)), str(path))
    bundled = resources.files("vendorscope.judge") / "defaults.yaml"
    label = "judge/defaults.yaml"
    return parse_defaults(_read_yaml(bundled.read_text("utf-8"), label), label)


@cache
def default_judge_defaults() -> JudgeDefaults:
    return load_defaults()


# ----------------------------------------------------------------- validating against the published schema


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One thing wrong in a pack file: where (file, line, field) and what."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '(top level)'}: {self.message}"


@cache
def pack_schema() -> dict[str, Any]:
    """The pack format as JSON Schema (published as docs/policy-pack.schema.json)."""
    text = (resources.files("vendorscope.judge") / "pack.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _plain(value: Any) -> Any:
    """YAML data as JSON sees it: dates become ISO text, keys text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _key_path(parts: Iterable[Any]) -> str:
    key = ""
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_pack_file(path: Path) -> list[PackProblem]:
    """Every schema error in one pack file (file, line, field), then the loader's own checks."""
    import jsonschema  # imported here: only `policies validate` needs it

    file = str(path)
    try:
        text = Path(path).read_text("utf-8")
        data = _read_yaml(text, file)
    except (OSError, UnicodeDecodeError) as exc:
        return [PackProblem(file, None, "", f"cannot read ({getattr(exc, 'strerror', None) or exc})")]
    except PackError as exc:
        return [PackProblem(file, None, "", str(exc).removeprefix(f"{file}: "))]
    lines = key_lines(text)
    validator = jsonschema.Draft202012Validator(pack_schema())
    problems = []
    for error in sorted(validator.iter_errors(_plain(data)), key=lambda e: list(map(str, e.absolute_path))):
        key = _key_path(error.absolute_path)
        problems.append(PackProblem(file, line_of(lines, key), key, _clip(error.message)))
    if problems:
        return problems
    try:
        parse_pack(data, file)
    except PackError as exc:
        return [PackProblem(file, line_of(lines, exc.key), exc.key, exc.problem or str(exc))]
    return []
