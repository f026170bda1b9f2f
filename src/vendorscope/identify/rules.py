"""Fingerprint rules: data files in ``data/rules/*.toml``, one per evidence family.

Each rule carries its own examples and counterexamples (as Rapid7 recog does),
so ``vendorscope rules check`` and the tests can prove every rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vendorscope.identify.cache import cache_key, cached_pickle

# Rules reference captures as {name} in product/version/device_type templates.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Constructs that RE2 and Hyperscan refuse or that backtrack: keep them out.
_FORBIDDEN = (
    (re.compile(r"\\[1-9]"), "back-reference"),
    (re.compile(r"\(\?[=!<][^P]"), "look-around"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"[*+?}][+]"), "possessive quantifier"),
)
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[*+][^()]*\)[*+{]")
# A rule whose examples nobody saw on a real device (``invented = true``) proves
# only that its pattern matches what its author imagined: its evidence counts less.
INVENTED_CONFIDENCE_FACTOR = 0.75
# What a rule's match names: the maker of the box, or of a part inside it (a chip
# or SDK that white-label makers build on, e.g. HiSilicon's IP-camera SDK).
NAMES = ("device", "component")


class RuleError(ValueError):
    """A rule file is malformed; the message names file and rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kinds: tuple[str, ...]
    pattern: str
    vendor: str
    confidence: float
    product: str | None = None
    version: str | None = None
    device_type: str | None = None
    case_sensitive: bool = False
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()
    expect: tuple[tuple[str, str], ...] = ()  # captures expected from the first example
    overlaps: tuple[str, ...] = ()  # rules this one may legitimately co-fire with
    source: str | None = None
    observed_in: str | None = None  # where the examples were seen on real devices
    invented: bool = False  # examples written by hand, never observed
    names: str = "device"  # "device" or "component"
    file: str = ""

    @property
    def component(self) -> bool:
        return self.names == "component"

    @property
    def re_flags(self) -> int:
        # ASCII-only case folding, as Hyperscan does without UCP.
        return re.ASCII | (0 if self.case_sensitive else re.IGNORECASE)

    def render(self, groups: dict[str, str | None]) -> tuple[str | None, str | None, str | None]:
        """Fill product, version and device type from a match's named groups."""
        return (
            render_template(self.product, groups),
            render_template(self.version, groups),
            render_template(self.device_type, groups),
        )


def render_template(template: str | None, groups: dict[str, str | None]) -> str | None:
    if template is None:
        return None
    literals, names = _template_parts(template)
    if not names:
        return template.strip() or None
    text = literals[0]
    for name, literal in zip(names, literals[1:], strict=True):
        text += (groups.get(name) or "") + literal  # a group that did not take part leaves nothing
    return text.strip() or None


@lru_cache(maxsize=8192)
def _template_parts(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template's literal text around its placeholders, and the placeholders' names (parsed once)."""
    pieces = _PLACEHOLDER.split(template)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def _unsafe_construct(pattern: str) -> str | None:
    for rx, what in _FORBIDDEN:
        if rx.search(pattern):
            return f"{what} not allowed (RE2/Hyperscan syntax only)"
    if _NESTED_QUANTIFIER.search(pattern):
        return "nested quantifier (catastrophic backtracking in the re fallback)"
    return None


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_rule(entry: dict[str, Any], file: str) -> Rule:
    rid = entry.get("id")
    where = f"{file}: rule {rid!r}"
    if not isinstance(rid, str) or not rid:
        raise RuleError(f"{file}: rule without id")
    kinds = _as_tuple(entry.get("kinds", entry.get("kind")))
    if not kinds:
        raise RuleError(f"{where}: no kind")
    for key in ("pattern", "vendor"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise RuleError(f"{where}: missing {key}")
    problem = _unsafe_construct(entry["pattern"])
    if problem:
        raise RuleError(f"{where}: pattern {problem}")
    try:
        compiled = re.compile(entry["pattern"])
    except re.error as exc:
        raise RuleError(f"{where}: pattern does not compile: {exc}") from None
    confidence = entry.get("confidence", 0.8)
    if not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
        raise RuleError(f"{where}: confidence must be in (0, 1]")
    observed_in, invented, names = _provenance(entry, where)
    if invented:
        confidence = round(confidence * INVENTED_CONFIDENCE_FACTOR, 3)
    known = set(compiled.groupindex)
    for key in ("product", "version", "device_type"):
        for name in _PLACEHOLDER.findall(entry.get(key) or ""):
            if name not in known:
                raise RuleError(f"{where}: {key} uses {{{name}}} but the pattern has no such group")
    return Rule(
        id=rid,
        kinds=kinds,
        pattern=entry["pattern"],
        vendor=entry["vendor"],
        confidence=float(confidence),
        product=entry.get("product"),
        version=entry.get("version"),
        device_type=entry.get("device_type"),
        case_sensitive=bool(entry.get("case_sensitive", False)),
        examples=_as_tuple(entry.get("examples")),
        counterexamples=_as_tuple(entry.get("counterexamples")),
        expect=tuple(sorted((str(k), str(v)) for k, v in (entry.get("expect") or {}).items())),
        overlaps=_as_tuple(entry.get("overlaps")),
        source=entry.get("source"),
        observed_in=observed_in,
        invented=invented,
        names=names,
        file=file,
    )


def _provenance(entry: dict[str, Any], where: str) -> tuple[str | None, bool, str]:
    """``observed_in``, ``invented`` and ``names`` of a rule entry, validated."""
    observed_in = entry.get("observed_in")
    if observed_in is not None and (not isinstance(observed_in, str) or not observed_in.strip()):
        raise RuleError(f"{where}: observed_in must be a non-empty string")
    invented = entry.get("invented", False)
    if not isinstance(invented, bool):
        raise RuleError(f"{where}: invented must be true or false")
    if invented and observed_in:
        raise RuleError(f"{where}: a rule cannot be both invented and observed_in {observed_in!r}")
    names = entry.get("names", "device")
    if names not in NAMES:
        raise RuleError(f"{where}: names must be one of {', '.join(NAMES)}, not {names!r}")
    return observed_in, invented, names


def parse_rules_file(text: str, file: str) -> list[Rule]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{file}: {exc}") from exc
    return [parse_rule(entry, file) for entry in doc.get("rule", [])]


def rule_files(extra: Iterable[Path] = ()) -> list[tuple[str, str]]:
    """(name, text) of the bundled rule files, then any extra ones."""
    folder = resources.files("vendorscope.identify") / "data" / "rules"
    out = [
        (f"rules/{p.name}", p.read_text("utf-8"))
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".toml")
    ]
    out += [(str(p), Path(p).read_text("utf-8")) for p in extra]
    return out


def load_rules(extra: Iterable[Path] = (), known_vendors: set[str] | None = None) -> list[Rule]:
    files = rule_files(extra)
    vendors = sorted(known_vendors) if known_vendors is not None else ["*"]
    # Every name and text hashed as they are (repr() of a megabyte of rules cost 3 ms).
    key = cache_key([*(part for name_text in files for part in name_text), *vendors, "rules-v3"])
    # Parsing and validating hundreds of rules costs a noticeable part of every
    # command's start-up; the result depends only on the files' text. Cached as
    # plain tuples: unpickling a frozen slotted dataclass goes through
    # dataclasses' __setstate__, several times slower than calling Rule().
    values = cached_pickle("rules", key, lambda: [_rule_values(r) for r in _parse_all(files, known_vendors)],
                           valid=_are_rule_values)
    return [Rule(*v) for v in values]


def _rule_values(rule: Rule) -> tuple[Any, ...]:
    return tuple(getattr(rule, f.name) for f in fields(Rule))


def _are_rule_values(value: Any) -> bool:
    """Whether a cache entry holds what :func:`_rule_values` makes (not another version's or file's)."""
    width = len(fields(Rule))
    return isinstance(value, list) and all(
        type(v) is tuple and len(v) == width and type(v[0]) is str and type(v[2]) is str for v in value)


def _parse_all(files: list[tuple[str, str]], known_vendors: set[str] | None) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for name, text in files:
        for rule in parse_rules_file(text, name):
            if rule.id in seen:
                raise RuleError(f"{name}: duplicate rule id {rule.id!r}")
            if known_vendors is not None and rule.vendor not in known_vendors:
                raise RuleError(f"{name}: rule {rule.id!r}: unknown vendor {rule.vendor!r}")
            seen.add(rule.id)
            rules.append(rule)
    return rules


def component_rule_ids(rules: Iterable[Rule]) -> frozenset[str]:
    """Ids of the rules whose match names a component maker, not the device's."""
    return frozenset(r.id for r in rules if r.component)


@cache
def default_rules() -> tuple[Rule, ...]:
    from vendorscope.identify.registry import default_registry

    return tuple(load_rules(known_vendors=set(default_registry().vendors)))
