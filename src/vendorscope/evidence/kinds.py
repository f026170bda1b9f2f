"""The registry of evidence kinds, read from kinds.toml: what each kind is, whether it names the
device or a component, whether it is a label, and the default confidence of its lookup.

Every kind a source emits is listed there; tests check that pcap, probe and the
importers emit nothing else.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

Names = Literal["device", "component"]
Lookup = Literal["mac", "enterprise", "name", "cpe"]
_NAMES = ("device", "component")
_LOOKUPS = ("mac", "enterprise", "name", "cpe")
_FIELDS = frozenset(
    {"name", "title", "names", "label", "lookup", "confidence", "hint", "max_chars", "hint_prefixes", "model"}
)


class KindsError(ValueError):
    """kinds.toml is malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    title: str
    names: Names = "device"
    label: bool = False
    lookup: Lookup | None = None
    confidence: float | None = None
    hint: bool = False  # a weak signal: alone it makes a review, never a verdict (see resolve_hints)
    max_chars: int = 4096  # longest value a source keeps (bodies are longer than banners)
    hint_prefixes: tuple[str, ...] = ()  # values starting so are hints though the kind is not
    model: bool = False  # the value is the box's bare model name (no vendor in it): names the product, never the maker


def parse_kinds(data: dict[str, Any], where: str = "kinds.toml") -> tuple[Kind, ...]:
    """The kinds of a parsed kinds.toml, checked; raises KindsError naming the bad entry."""
    out: list[Kind] = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("kind", [])):
        place = f"{where}: kind #{i + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise KindsError(f"{place}: needs a name")
        name = entry["name"]
        if name in seen:
            raise KindsError(f"{place}: {name} listed twice")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise KindsError(f"{place} ({name}): unknown field {sorted(unknown)[0]}")
        names, lookup, confidence = entry.get("names", "device"), entry.get("lookup"), entry.get("confidence")
        if names not in _NAMES:
            raise KindsError(f"{place} ({name}): names must be one of {', '.join(_NAMES)}")
        if lookup is not None and lookup not in _LOOKUPS:
            raise KindsError(f"{place} ({name}): lookup must be one of {', '.join(_LOOKUPS)}")
        if (lookup is None) != (confidence is None):
            raise KindsError(f"{place} ({name}): a lookup needs a confidence and a confidence a lookup")
        if confidence is not None and not (isinstance(confidence, (int, float)) and 0 < confidence <= 1):
            raise KindsError(f"{place} ({name}): confidence must be a number in (0, 1]")
        max_chars = entry.get("max_chars", 4096)
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or not 1 <= max_chars <= 1 << 20:
            raise KindsError(f"{place} ({name}): max_chars must be a whole number in [1, 1048576]")
        prefixes = entry.get("hint_prefixes", [])
        if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
            raise KindsError(f"{place} ({name}): hint_prefixes must be a list of non-empty strings")
        if not isinstance(entry.get("model", False), bool):
            raise KindsError(f"{place} ({name}): model must be true or false")
        seen.add(name)
        out.append(Kind(name, str(entry.get("title", "")), names, bool(entry.get("label", False)), lookup,
                        None if confidence is None else float(confidence), bool(entry.get("hint", False)),
                        max_chars, tuple(prefixes), bool(entry.get("model", False))))
    return tuple(out)


@cache
def registry() -> dict[str, Kind]:
    """Kind name → Kind, in file order."""
    raw = resources.files("vendorscope.evidence").joinpath("kinds.toml").read_text("utf-8")
    return {k.name: k for k in parse_kinds(tomllib.loads(raw))}


def lookup_confidence(lookup: Lookup) -> dict[str, float]:
    """Kind → default confidence of every kind identified by this lookup."""
    return {k.name: k.confidence for k in registry().values() if k.lookup == lookup and k.confidence is not None}


EVIDENCE_KINDS: tuple[str, ...] = tuple(registry())
LABEL_KINDS: frozenset[str] = frozenset(k.name for k in registry().values() if k.label)
HINT_KINDS: frozenset[str] = frozenset(k.name for k in registry().values() if k.hint)
MODEL_KINDS: frozenset[str] = frozenset(k.name for k in registry().values() if k.model)


def is_hint_value(kind: str, value: str) -> bool:
    """A weak signal: a hint kind, or a value under one of the kind's ``hint_prefixes``."""
    found = registry().get(kind)
    return found is not None and (found.hint or value.startswith(found.hint_prefixes))


def max_chars(kind: str) -> int:
    """The longest value of this kind a source keeps (4096 for a kind not registered)."""
    found = registry().get(kind)
    return found.max_chars if found is not None else 4096
