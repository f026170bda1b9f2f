"""Policy packs: what each jurisdiction's instrument requires, as data.

One YAML file per legal instrument in ``judge/packs/`` (schema and example:
docs/policy-packs.md). Loading validates every key, refuses unknown ones, and
insists that every date carries a source the pack declares; an error names the
file and the key. ``judge/defaults.yaml`` holds what the judge applies to every
pack (severity-raising site tags, purpose tags, related vendors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
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
# ISO 3166-1 exceptionally reserved codes people type for a jurisdiction.
JURISDICTION_ALIASES: Mapping[str, str] = {"UK": "GB"}

_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class PackError(ValueError):
    """A policy pack or the judge defaults are malformed; the message names file and key."""


@dataclass(frozen=True, slots=True)
class Source:
    """A document a pack cites."""

    id: str
    title: str
    url: str
    published: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD; None when the source shows no date

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
class CoveredCompany:
    """A company (with the relations that count) or a home country that an instrument names."""

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

    @property
    def key(self) -> str:
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
    companies: frozenset[str] = frozenset()  # non-empty: only these covered companies
    audience: str | None = None  # an id in the pack's audiences
    note: str | None = None

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

    def cite(self, source_ids: Iterable[str]) -> str:
        return "; ".join(self.sources[s].cite() for s in source_ids)

    def dated_facts(self) -> Iterator[tuple[str, Deadline]]:
        """Every date in the pack with the key it sits under."""
        yield "effective", self.effective
        for i, cover in enumerate(self.covers):
            if cover.since:
                yield f"covers[{i}].since", cover.since
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
        return PackError(f"{self.file}: {key or '(top level)'}: {problem}")

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


def _parse_source(f: _Fields, source_id: str) -> Source:
    published: str | None = None
    if f.has("published"):
        value = f.raw("published")
        published = value.isoformat() if isinstance(value, date) else str(value)
        if not _PUBLISHED.match(published):
            raise f.error("published", f"expected YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}")
    url = f.text("url")
    if not url.startswith(("https://", "http://")):
        raise f.error("url", f"expected an http(s) URL, got {url!r}")
    return Source(id=source_id, title=f.text("title"), url=url, published=published)


def _sources(top: _Fields) -> dict[str, Source]:
    raw = top.raw("sources")
    if not isinstance(raw, dict) or not raw:
        raise top.error("sources", "expected a mapping of source id to {title, url, published}")
    out: dict[str, Source] = {}
    for source_id, body in raw.items():
        if not isinstance(source_id, str) or not _ID.match(source_id):
            raise top.error(f"sources.{source_id}", "source ids are lowercase letters, digits, '.', '-'")
        f = _Fields(body, top.file, top.key(f"sources.{source_id}"), ("title", "url", "published"))
        out[source_id] = _parse_source(f, source_id)
    return out


def _relations(f: _Fields, name: str) -> frozenset[str]:
    return frozenset(RELATION_WORDS[w] for w in f.words(name, RELATION_WORDS))


_COVER_KEYS = (
    "company", "country", "name", "include", "review", "scope", "source", "since", "purpose", "note",
)


def _cover(f: _Fields, sources: Mapping[str, Source]) -> CoveredCompany:
    if f.has("company") == f.has("country"):
        raise f.error("company", "give either company (a vendor id) or country (ISO code), not both")
    country = f.optional_text("country")
    if country is not None and not _COUNTRY.match(country):
        raise f.error("country", f"expected an ISO 3166 alpha-2 code such as CN, got {country!r}")
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
    )


_REQUIREMENT_KEYS = (
    "id", "text", "source", "severity", "subject", "status", "deadline", "before", "after", "effective",
    "roles", "role_unknown", "networks", "network_unknown", "site_tags", "companies", "audience", "note",
)


def _requirement(
    f: _Fields, sources: Mapping[str, Source], audiences: Mapping[str, str], companies: set[str]
) -> Requirement:
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
    )


def _milestone(f: _Fields, sources: Mapping[str, Source]) -> Milestone:
    dated = _Fields(f.data, f.file, f.path, (*_DATED_KEYS, "what"))
    return Milestone(when=_dated(dated, sources), what=dated.text("what"))


_PACK_KEYS = (
    "id", "title", "short", "jurisdiction", "authority", "instrument", "url", "binding", "applies_to",
    "effective", "sources", "covers", "requirements", "milestones", "audiences", "notes",
    "severity_raising_tags",
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
    company_ids = {c.company for c in covers if c.company}
    requirements = tuple(
        _requirement(f, sources, audiences, company_ids)
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
    )


def _read_yaml(text: str, file: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(top level)"
        raise PackError(f"{file}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc


def read_pack(path: Path | Traversable, label: str | None = None) -> PolicyPack:
    """Load and validate one pack file."""
    file = label or str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PackError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    return parse_pack(_read_yaml(text, file), file)


def _bundled_dir() -> Traversable:
    return resources.files("vendorscope.judge") / "packs"


@cache
def bundled_packs() -> tuple[PolicyPack, ...]:
    """The packs shipped with vendorscope, sorted by id (loaded once)."""
    files = sorted((p for p in _bundled_dir().iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    return tuple(read_pack(p, f"judge/packs/{p.name}") for p in files)


def _files(extra: Iterable[Path]) -> Iterator[Path]:
    for path in extra:
        path = Path(path)
        if path.is_dir():
            yield from sorted(path.glob("*.yaml"))
        else:
            yield path


def load_packs(extra: Iterable[Path] = ()) -> list[PolicyPack]:
    """The bundled packs plus packs from ``extra`` files or directories; ids must be unique."""
    packs = list(bundled_packs())
    seen = {p.id: p.file for p in packs}
    for path in _files(extra):
        pack = read_pack(path)
        if pack.id in seen:
            raise PackError(f"{pack.file}: id: {pack.id!r} is already defined in {seen[pack.id]}")
        seen[pack.id] = pack.file
        packs.append(pack)
    return sorted(packs, key=lambda p: p.id)


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
