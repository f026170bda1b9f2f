"""The vendor registry: who is who, who owns whom, and since when.

Loaded from ``data/vendors.toml`` (see docs/data-formats.md). Pure data access;
no matching logic beyond normalised name lookup.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

RELATIONS = ("subsidiary", "brand", "affiliate", "division")


class RegistryError(ValueError):
    """The vendor registry data is inconsistent."""


@dataclass(frozen=True, slots=True)
class Affiliation:
    """That ``child`` belongs to ``parent`` (as ``relation``) between two dates."""

    parent: str
    relation: str
    since: date | None = None
    until: date | None = None  # exclusive: the day it left
    source: str | None = None

    def active(self, on: date) -> bool:
        return (self.since is None or self.since <= on) and (self.until is None or on < self.until)


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    name: str
    legal_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    ieee_names: tuple[str, ...] = ()
    country: str | None = None  # ISO 3166 alpha-2 of the headquarters
    produced_in: tuple[str, ...] = ()  # where its equipment is produced, when a source says so
    production_source: str | None = None
    high_risk: bool = False
    categories: tuple[str, ...] = ()
    affiliations: tuple[Affiliation, ...] = ()
    notes: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.legal_names, *self.aliases, *self.ieee_names)


# Legal-form words dropped before comparing names: "Huawei Technologies Co., Ltd."
# and "HUAWEI TECHNOLOGIES CO.,LTD" are the same company.
_LEGAL_FORMS = frozenset(
    (
        "co ltd inc corp corporation company limited llc plc gmbh ag sa sas spa bv nv ab oy as "
        "kg kk pte pvt pty srl sarl holding holdings group incorporated the"
    ).split()
)
_CJK_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "集团")
_NON_WORD = re.compile(r"[^\w]+")


def normalise_name(text: str) -> str:
    """Fold case, width, punctuation and legal forms: a key for name lookup."""
    text = unicodedata.normalize("NFKC", text).casefold()
    for form in _CJK_FORMS:
        text = text.replace(form, " ")
    words = [w for w in _NON_WORD.split(text) if w and w not in _LEGAL_FORMS]
    return " ".join(words)


@dataclass
class Registry:
    vendors: dict[str, Vendor]
    enterprise_numbers: dict[int, tuple[str, str]] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for vendor in self.vendors.values():
            for aff in vendor.affiliations:
                if aff.parent not in self.vendors:
                    raise RegistryError(f"vendor {vendor.id!r}: unknown parent {aff.parent!r}")
                if aff.relation not in RELATIONS:
                    raise RegistryError(f"vendor {vendor.id!r}: unknown relation {aff.relation!r}")
        for vendor in self.vendors.values():
            for name in vendor.all_names:
                key = normalise_name(name)
                if key:
                    self._by_name.setdefault(key, vendor.id)
            self._by_name.setdefault(normalise_name(vendor.id), vendor.id)

    def __getitem__(self, vendor_id: str) -> Vendor:
        return self.vendors[vendor_id]

    def __contains__(self, vendor_id: object) -> bool:
        return vendor_id in self.vendors

    def parent_of(self, vendor_id: str, on: date | None = None) -> Affiliation | None:
        on = on or date.today()
        for aff in self.vendors[vendor_id].affiliations:
            if aff.active(on):
                return aff
        return None

    def group_of(self, vendor_id: str, on: date | None = None) -> str:
        """The ultimate parent on a date (the vendor itself when it has none)."""
        seen = {vendor_id}
        current = vendor_id
        while (aff := self.parent_of(current, on)) is not None:
            if aff.parent in seen:
                raise RegistryError(f"ownership cycle through {aff.parent!r}")
            seen.add(aff.parent)
            current = aff.parent
        return current

    def members_of(self, vendor_id: str) -> list[tuple[Vendor, Affiliation]]:
        """Vendors that ever belonged directly to ``vendor_id``, with their dates."""
        return [
            (v, aff)
            for v in self.vendors.values()
            for aff in v.affiliations
            if aff.parent == vendor_id
        ]

    def find_by_name(self, text: str) -> str | None:
        """Vendor id for a free-text company name, or None.

        Exact match on the normalised name first; then the longest registry
        name that the text starts with ("Cisco Systems Inc" → cisco).
        """
        key = normalise_name(text)
        if not key:
            return None
        if key in self._by_name:
            return self._by_name[key]
        words = key.split()
        for n in range(len(words) - 1, 0, -1):
            hit = self._by_name.get(" ".join(words[:n]))
            if hit is not None:
                return hit
        return None

    def vendor_for_enterprise(self, number: int) -> str | None:
        entry = self.enterprise_numbers.get(number)
        return entry[0] if entry else None

    def enterprise_numbers_of(self, vendor_id: str) -> list[int]:
        return sorted(n for n, (v, _) in self.enterprise_numbers.items() if v == vendor_id)


def _date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise RegistryError(f"{where}: bad date {value!r}") from exc


def _countries(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(c, str) and len(c) == 2 and c.isalpha() and c.isupper() for c in value
    ):
        raise RegistryError(f"{where}: produced_in: expected ISO 3166 alpha-2 codes such as [\"CN\"], got {value!r}")
    return tuple(value)


def parse_vendor(entry: dict[str, Any]) -> Vendor:
    vid = entry.get("id")
    if not isinstance(vid, str) or not vid:
        raise RegistryError(f"vendor without id: {entry!r:.80}")
    affiliations = tuple(
        Affiliation(
            parent=a["parent"],
            relation=a.get("relation", "subsidiary"),
            since=_date(a.get("since"), vid),
            until=_date(a.get("until"), vid),
            source=a.get("source"),
        )
        for a in entry.get("affiliation", [])
    )
    return Vendor(
        id=vid,
        name=entry.get("name", vid),
        legal_names=tuple(entry.get("legal_names", ())),
        aliases=tuple(entry.get("aliases", ())),
        ieee_names=tuple(entry.get("ieee_names", ())),
        country=entry.get("country"),
        produced_in=_countries(entry.get("produced_in", ()), vid),
        production_source=entry.get("production_source"),
        high_risk=bool(entry.get("high_risk", False)),
        categories=tuple(entry.get("categories", ())),
        affiliations=affiliations,
        notes=entry.get("notes"),
        sources=tuple(entry.get("sources", ())),
    )


def parse_enterprise_numbers(text: str, known: set[str] | None = None) -> dict[int, tuple[str, str]]:
    """Parse ``enterprise-numbers.tsv``: number, vendor id, IANA organisation name."""
    out: dict[int, tuple[str, str]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].strip().isdigit():
            raise RegistryError(f"enterprise-numbers.tsv line {lineno}: expected NUMBER<TAB>VENDOR<TAB>NAME")
        vendor = parts[1].strip()
        if known is not None and vendor not in known:
            raise RegistryError(f"enterprise-numbers.tsv line {lineno}: unknown vendor {vendor!r}")
        out[int(parts[0])] = (vendor, parts[2].strip())
    return out


def load_registry(path: Path | None = None, enterprise_path: Path | None = None) -> Registry:
    data_dir = resources.files("vendorscope.identify") / "data"
    raw = Path(path).read_bytes() if path else (data_dir / "vendors.toml").read_bytes()
    doc = tomllib.loads(raw.decode("utf-8"))
    vendors: dict[str, Vendor] = {}
    for entry in doc.get("vendor", []):
        vendor = parse_vendor(entry)
        if vendor.id in vendors:
            raise RegistryError(f"duplicate vendor id {vendor.id!r}")
        vendors[vendor.id] = vendor
    pen_text = (
        Path(enterprise_path).read_text("utf-8")
        if enterprise_path
        else (data_dir / "enterprise-numbers.tsv").read_text("utf-8")
    )
    return Registry(vendors, parse_enterprise_numbers(pen_text, set(vendors)))


@cache
def default_registry() -> Registry:
    from vendorscope.identify.cache import cache_key, cached_pickle

    data_dir = resources.files("vendorscope.identify") / "data"
    texts = [(data_dir / name).read_bytes() for name in ("vendors.toml", "enterprise-numbers.tsv")]
    # Parsing the TOML is a large part of every command's start-up; the result depends only on the files.
    return cached_pickle("registry", cache_key([*texts, "registry-v1"]), load_registry)
