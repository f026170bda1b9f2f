"""Rapid7 recog's fingerprint database as a rule source.

recog (BSD-2-Clause) keeps one XML file per evidence kind, named by its
``matches`` attribute; each ``<fingerprint>`` has a Ruby regular expression,
``<param>`` elements (``pos="0"``: a constant value, ``pos>0``: a capture group)
and ``<example>`` strings. Loading one gives ``Rule`` objects that run in the
same matcher as the curated rules (Hyperscan/RE2 prefilter, ``re`` for captures),
plus what it takes to turn a match into recog's vendor, product and version.

Ruby's semantics are kept: ``^``/``$`` always match at line ends (``re.M``);
REG_DOT_NEWLINE, REG_MULTILINE and REG_LINE_ANY_CRLF mean dot-matches-newline
(``re.S``); REG_ICASE is case-insensitive; Ruby's inline ``(?m)`` is Python's
``(?s)``; a ``^(?i)`` inside the pattern applies from the start; ``{name}`` in
a value is replaced by that param's value.

Users point vendorscope at their own recog checkout's ``xml/`` folder
(``VENDORSCOPE_RECOG`` or ``vendorscope rules add-recog``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml.sax
from defusedxml import DefusedXmlException

from vendorscope.identify.cache import cache_key, cached_pickle
from vendorscope.identify.recog_paths import RECOG_ENV, configured_recog_paths, recog_list_file  # noqa: F401 (re-exported)
from vendorscope.identify.registry import Registry, normalise_name
from vendorscope.identify.rules import Rule, render_template

_PLACEHOLDER = re.compile(r"\{([\w.]+)\}")
_DOTALL_FLAGS = frozenset({"REG_DOT_NEWLINE", "REG_MULTILINE", "REG_LINE_ANY_CRLF"})
_KNOWN_FLAGS = _DOTALL_FLAGS | {"REG_ICASE"}
# Where recog says who made the device, best first: hardware, then operating system, then service.
LAYERS = ("hw", "os", "service")
_LEADING_FLAGS = re.compile(r"^\(\?([imx]+)\)")
_CARET_THEN_FLAGS = re.compile(r"^\^\(\?([imx]+)\)")
_SCOPED_FLAGS = re.compile(r"\(\?([imx]*)(?:-([imx]+))?:")


class RecogError(ValueError):
    """A recog file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class KindMapping:
    kind: str
    value_prefix: str = ""
    confidence: float = 0.7


@dataclass(frozen=True, slots=True)
class RecogExample:
    text: str
    expected: tuple[tuple[str, str], ...] = ()  # param values recog's test suite expects
    line: int = 0


@dataclass(frozen=True, slots=True)
class RecogFingerprint:
    """One recog fingerprint, ready to run: ``rule`` goes into the matcher."""

    rule: Rule
    file: str
    line: int
    description: str
    params: tuple[tuple[str, str], ...]  # name → template ("{_1}" for a capture, constants filled)
    examples: tuple[RecogExample, ...]
    value_prefix: str = ""

    def values(self, groups: dict[str, str | None]) -> dict[str, str]:
        """Every param's value for a match's groups (params whose capture did not take part are left out)."""
        out: dict[str, str] = {}
        for name, template in self.params:
            value = render_template(template, groups)  # names are resolved: only {_N} remain
            if value is not None:
                out[name] = value
        return out

    def naming(self, groups: dict[str, str | None]) -> tuple[str | None, str | None, str | None, str | None]:
        """(vendor, product, version, device type) as recog names them, hardware before OS before service."""
        values = self.values(groups)
        return naming_of(values)


def naming_of(values: dict[str, str]) -> tuple[str | None, str | None, str | None, str | None]:
    for layer in LAYERS:
        vendor = values.get(f"{layer}.vendor")
        if vendor:
            return (vendor, values.get(f"{layer}.product") or values.get(f"{layer}.family"),
                    values.get(f"{layer}.version"), values.get(f"{layer}.device") or values.get("hw.device")
                    or values.get("os.device"))
    return None, None, None, None


@dataclass(frozen=True)
class RecogConfig:
    kinds: dict[str, KindMapping]
    vendors: dict[str, str]  # recog vendor name → registry id ("" = never)


@dataclass
class RecogDatabase:
    """Every loaded fingerprint by rule id, the files whose kind is not mapped, and where they came from."""

    fingerprints: dict[str, RecogFingerprint] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def rules(self) -> list[Rule]:
        return [f.rule for f in self.fingerprints.values()]

    def kinds(self) -> dict[str, str]:
        """vendorscope kind → the prefix its values carry before recog's text."""
        return {f.rule.kinds[0]: f.value_prefix for f in self.fingerprints.values()}


# -- the mapping data -----------------------------------------------------------


@cache
def recog_config() -> RecogConfig:
    text = (resources.files("vendorscope.identify") / "data" / "recog.toml").read_text("utf-8")
    return parse_config(tomllib.loads(text))


def parse_config(doc: dict[str, Any]) -> RecogConfig:
    default = float(doc.get("default_confidence", 0.7))
    kinds: dict[str, KindMapping] = {}
    for matches, entry in (doc.get("matches") or {}).items():
        kinds[matches] = KindMapping(kind=str(entry["kind"]), value_prefix=str(entry.get("value_prefix", "")),
                                     confidence=float(entry.get("confidence", default)))
    vendors = {str(k): str(v) for k, v in (doc.get("vendors") or {}).items()}
    return RecogConfig(kinds, vendors)


class VendorMap:
    """recog's vendor names → registry vendor ids: the data table first, then an exact registry name."""

    def __init__(self, registry: Registry, overrides: dict[str, str] | None = None) -> None:
        self._registry = registry
        self._overrides = {normalise_name(k): v for k, v in (overrides or recog_config().vendors).items()}
        self._memo: dict[str, str | None] = {}

    def __call__(self, name: str) -> str | None:
        if name in self._memo:
            return self._memo[name]
        key = normalise_name(name)
        found: str | None
        if key in self._overrides:
            found = self._overrides[key] or None
        else:
            # Only a whole-name match: recog's short names ("Dahua", "ZTE") are registry aliases,
            # and a prefix guess ("Dahua Scale") is how look-alikes slip in.
            vid = self._registry.find_by_name(name)
            found = vid if vid is not None and key in {normalise_name(n) for n in self._registry[vid].all_names} | {
                normalise_name(vid)} else None
        if len(self._memo) < 100_000:
            self._memo[name] = found
        return found


def vendor_slug(name: str) -> str:
    """A stable id for a vendor the registry does not know: its normalised name, dashed."""
    return "-".join(normalise_name(name).split())[:80] or "unknown"


# -- patterns -------------------------------------------------------------------


def translate_pattern(pattern: str, flags: Iterable[str] = ()) -> tuple[str, bool, int]:
    """A Ruby (recog) pattern in Python/RE2/Hyperscan syntax.

    Returns the pattern (capture groups renamed ``_1``, ``_2``, …; leading flags
    ``(?ms…)``), whether it is case-sensitive, and how many groups it captures.
    """
    dotall = bool(_DOTALL_FLAGS & set(flags))
    icase = "REG_ICASE" in flags
    body = pattern
    moved = _CARET_THEN_FLAGS.match(body)
    if moved:  # "^(?i)…": Ruby applies the flag from there on; Python wants it first
        body = f"(?{moved.group(1)})^" + body[moved.end():]
    lead = _LEADING_FLAGS.match(body)
    if lead:
        icase |= "i" in lead.group(1)
        dotall |= "m" in lead.group(1)  # Ruby's m is dot-matches-newline
        extended = "x" in lead.group(1)
        body = body[lead.end():]
    else:
        extended = False
    body, groups = _rename_groups(body)
    prefix = "(?m" + ("s" if dotall else "") + ("x" if extended else "") + ")"
    return prefix + body, not icase, groups


def _rename_groups(body: str) -> tuple[str, int]:
    """Number Ruby's capture groups as named groups; map scoped (?m:) to (?s:)."""
    out: list[str] = []
    count = 0
    i, n = 0, len(body)
    in_class = False
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            out.append(body[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" and body.startswith("[:", i):  # POSIX class inside a bracket: keep as is
                end = body.find(":]", i + 2)
                if end != -1:
                    out.append(body[i:end + 2])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and body[i] == "^":
                out.append("^")
                i += 1
            if i < n and body[i] == "]":  # a leading "]" is a literal
                out.append("]")
                i += 1
            continue
        if c == "(":
            if body.startswith("(?<", i) and i + 3 < n and body[i + 3] not in "=!":
                count += 1  # Ruby's (?<name>…): a named capture, numbered like the others
                end = body.find(">", i)
                out.append(f"(?P<_{count}>")
                i = end + 1 if end != -1 else i + 3
                continue
            if body.startswith("(?", i):
                scoped = _SCOPED_FLAGS.match(body, i)
                if scoped:
                    on = scoped.group(1).replace("m", "s")
                    off = (scoped.group(2) or "").replace("m", "s")
                    out.append(f"(?{on}{'-' + off if off else ''}:")
                    i = scoped.end()
                    continue
                out.append("(?")
                i += 2
                continue
            count += 1
            out.append(f"(?P<_{count}>")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), count


# -- reading the XML ------------------------------------------------------------


@dataclass
class _RawFingerprint:
    """A <fingerprint> as read, before its pattern and params are checked."""

    pattern: str | None
    flags: str
    line: int
    description: str = ""
    params: list[tuple[dict[str, str], int]] = field(default_factory=list)
    examples: list[tuple[str, dict[str, str], int]] = field(default_factory=list)


class _Handler(ContentHandler):
    """Collects <fingerprint> elements with the line each starts on (for error messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.locator: Locator | None = None
        self.matches: str | None = None
        self.fingerprints: list[_RawFingerprint] = []
        self._current: _RawFingerprint | None = None
        self._text: list[str] = []
        self._in: str | None = None
        self._attrs: dict[str, str] = {}
        self._line = 0
        self._depth = 0

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 - the SAX API's name
        self.locator = locator

    def line(self) -> int:
        return int(self.locator.getLineNumber() or 0) if self.locator is not None else 0

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802
        self._depth += 1
        if name == "fingerprints" and self._depth == 1:
            self.matches = attrs.get("matches")
        elif name == "fingerprint":
            self._current = _RawFingerprint(attrs.get("pattern"), attrs.get("flags", ""), self.line())
        elif self._current is not None and name == "param":
            self._current.params.append((dict(attrs), self.line()))
        elif self._current is not None and name in ("example", "description"):
            self._in, self._text, self._attrs, self._line = name, [], dict(attrs), self.line()

    def characters(self, content: str) -> None:
        if self._in is not None:
            self._text.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802
        self._depth -= 1
        if self._current is None:
            return
        if name == "example" and self._in == "example":
            self._current.examples.append(("".join(self._text), self._attrs, self._line))
            self._in = None
        elif name == "description" and self._in == "description":
            self._current.description = " ".join("".join(self._text).split())
            self._in = None
        elif name == "fingerprint":
            self.fingerprints.append(self._current)
            self._current = None


def parse_recog_xml(data: bytes, file: str, config: RecogConfig | None = None,
                    vendor_of: VendorMap | None = None) -> tuple[str | None, list[RecogFingerprint]]:
    """(matches, fingerprints) of one recog XML file; fingerprints empty when its kind is not mapped."""
    config = config or recog_config()
    handler = _Handler()
    try:
        defusedxml.sax.parseString(data, handler, forbid_dtd=True)
    except SAXParseException as exc:
        raise RecogError(f"{file}: line {exc.getLineNumber()}: not well-formed XML ({exc.getMessage()})") from None
    except DefusedXmlException as exc:
        raise RecogError(f"{file}: line {handler.line()}: forbidden XML construct ({exc})") from None
    except (ValueError, UnicodeError) as exc:
        raise RecogError(f"{file}: line {handler.line()}: {exc}") from None
    stem = Path(file).name.removesuffix(".xml")
    matches = handler.matches or stem
    mapping = config.kinds.get(matches) or config.kinds.get(stem)
    if mapping is None:
        return matches, []
    out = [
        _fingerprint(raw, index, file, stem, mapping, vendor_of)
        for index, raw in enumerate(handler.fingerprints, 1)
    ]
    return matches, out


def _fingerprint(raw: _RawFingerprint, index: int, file: str, stem: str, mapping: KindMapping,
                 vendor_of: VendorMap | None) -> RecogFingerprint:
    line = raw.line
    where = f"{file}: line {line}"
    pattern = raw.pattern
    if not pattern:
        raise RecogError(f"{where}: fingerprint without a pattern")
    flags = [f.strip() for f in raw.flags.split(",") if f.strip()]
    unknown = [f for f in flags if f not in _KNOWN_FLAGS]
    if unknown:
        raise RecogError(f"{where}: unknown flag {unknown[0]!r}")
    translated, case_sensitive, groups = translate_pattern(pattern, flags)
    try:
        re.compile(translated, re.ASCII | (0 if case_sensitive else re.IGNORECASE))
    except re.error as exc:
        raise RecogError(f"{where}: pattern does not compile: {exc}") from None
    params: list[tuple[str, str]] = []
    for attrs, pline in raw.params:
        name = attrs.get("name")
        if not name:
            raise RecogError(f"{file}: line {pline}: param without a name")
        try:
            pos = int(attrs.get("pos", ""))
        except ValueError:
            raise RecogError(f"{file}: line {pline}: param {name!r}: pos must be a number") from None
        if pos < 0 or pos > groups:
            raise RecogError(f"{file}: line {pline}: param {name!r}: pos {pos} but the pattern has {groups} groups")
        if pos == 0:
            params.append((name, attrs.get("value", "")))
        else:
            params.append((name, f"{{_{pos}}}"))
    params = [(name, _interpolate(template, dict(params))) for name, template in params]
    examples = tuple(_example(text, attrs, eline, file) for text, attrs, eline in raw.examples)
    vendor_template = dict(params).get(_vendor_param(params), "")
    vendor_id = ""
    if vendor_template and "{" not in vendor_template and vendor_of is not None:
        vendor_id = vendor_of(vendor_template) or vendor_slug(vendor_template)
    rule = Rule(
        id=f"recog.{stem}.{index:04d}",
        kinds=(mapping.kind,),
        pattern=translated,
        vendor=vendor_id,
        confidence=mapping.confidence,
        case_sensitive=case_sensitive,
        examples=tuple(mapping.value_prefix + e.text for e in examples),
        source=f"recog {Path(file).name} line {line}",
        file=file,
    )
    return RecogFingerprint(rule=rule, file=file, line=line, description=raw.description,
                            params=tuple(params), examples=examples, value_prefix=mapping.value_prefix)


def _vendor_param(params: Sequence[tuple[str, str]]) -> str:
    names = dict(params)
    for layer in LAYERS:
        if names.get(f"{layer}.vendor"):
            return f"{layer}.vendor"
    return ""


def _interpolate(template: str, templates: dict[str, str], depth: int = 0) -> str:
    """Replace {param.name} by that param's own template (captures stay as {_N})."""
    if depth > 5 or "{" not in template:
        return template

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("_"):
            return m.group(0)
        other = templates.get(name)
        return _interpolate(other, templates, depth + 1) if other is not None else ""

    return _PLACEHOLDER.sub(sub, template)


def _example(text: str, attrs: dict[str, str], line: int, file: str) -> RecogExample:
    expected = {k: v for k, v in attrs.items() if not k.startswith("_")}
    if attrs.get("_encoding") == "base64":
        try:
            text = base64.b64decode("".join(text.split()), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise RecogError(f"{file}: line {line}: example is not valid base64") from None
    return RecogExample(text=text, expected=tuple(sorted(expected.items())), line=line)


# -- loading folders --------------------------------------------------------------


def recog_files(paths: Iterable[Path]) -> list[Path]:
    """The recog XML files under each path (a folder of them, a checkout's root, or one file)."""
    out: list[Path] = []
    for path in paths:
        if path.is_file():
            out.append(path)
        elif (path / "xml").is_dir():
            out += sorted((path / "xml").glob("*.xml"))
        elif path.is_dir():
            out += sorted(path.glob("*.xml"))
        else:
            raise RecogError(f"{path}: no such file or folder")
    return out


def load_recog(paths: Iterable[Path], registry: Registry) -> RecogDatabase:
    """Every fingerprint under ``paths``, cached by the files' names, sizes and times."""
    files = recog_files(paths)
    try:
        stamps = [f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    except OSError as exc:
        raise RecogError(f"{exc.filename}: {exc.strerror}") from None
    config = recog_config()
    key = cache_key([*stamps, repr(sorted(config.kinds.items())), repr(sorted(config.vendors.items())),
                     repr(sorted(registry.vendors)), "recog-v1"])
    return cached_pickle("recog", key, lambda: _load(files, registry, config))


def _load(files: list[Path], registry: Registry, config: RecogConfig) -> RecogDatabase:
    database = RecogDatabase(sources=[str(p) for p in files])
    vendor_of = VendorMap(registry, config.vendors)
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RecogError(f"{path}: {exc.strerror}") from None
        matches, fingerprints = parse_recog_xml(data, str(path), config, vendor_of)
        if not fingerprints and matches not in config.kinds:
            database.skipped_files.append(path.name)
        for fp in fingerprints:
            rid = fp.rule.id
            while rid in database.fingerprints:  # the same file name in two folders
                rid += "b"
            if rid != fp.rule.id:
                fp = RecogFingerprint(rule=_with_id(fp.rule, rid), file=fp.file, line=fp.line,
                                      description=fp.description, params=fp.params, examples=fp.examples,
                                      value_prefix=fp.value_prefix)
            database.fingerprints[rid] = fp
    return database


def _with_id(rule: Rule, rid: str) -> Rule:
    return dataclasses.replace(rule, id=rid)


# -- where the user's recog lives -------------------------------------------------------


def add_recog_path(path: Path) -> Path:
    target = recog_list_file()
    paths = [p for p in _stored_paths() if p != str(path)] + [str(path)]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(f"{p}\n" for p in paths), "utf-8")
    return target


def remove_recog_path(path: Path) -> bool:
    paths = _stored_paths()
    keep = [p for p in paths if p != str(path)]
    if len(keep) == len(paths):
        return False
    recog_list_file().write_text("".join(f"{p}\n" for p in keep), "utf-8")
    return True


def _stored_paths() -> list[str]:
    try:
        return [line.strip() for line in recog_list_file().read_text("utf-8").splitlines() if line.strip()]
    except OSError:
        return []


# -- what recog's own examples expect ----------------------------------------------

_CAPTURE_TEMPLATE = re.compile(r"^\{(_\d+)\}$")


def observed_value(fingerprint: RecogFingerprint, example: RecogExample) -> str:
    """An example as vendorscope observes it (recog's SSH text behind "SSH-2.0-")."""
    return fingerprint.value_prefix + example.text


def expected_naming(fingerprint: RecogFingerprint,
                    example: RecogExample) -> tuple[str | None, str | None, bool]:
    """(vendor, product) recog's example says, and whether that is fully known.

    Constants come from the fingerprint; a captured value only from the example's
    own attributes (recog's test expectations), so this does not run the pattern.
    """
    stated = dict(example.expected)
    groups: dict[str, str | None] = {}
    for name, template in fingerprint.params:
        m = _CAPTURE_TEMPLATE.match(template)
        if m and name in stated:
            groups[m.group(1)] = stated[name]
    values = fingerprint.values(groups)
    values.update((k, v) for k, v in stated.items() if k in values or k in dict(fingerprint.params))
    vendor, product, _, _ = naming_of(values)
    vendor_param = _vendor_param(fingerprint.params)
    product_param = next((f"{layer}.{field}" for layer in LAYERS if f"{layer}.vendor" == vendor_param
                          for field in ("product", "family") if dict(fingerprint.params).get(f"{layer}.{field}")), "")
    complete = all(p == "" or p in values or not dict(fingerprint.params).get(p) for p in (vendor_param, product_param))
    return vendor, product, complete
