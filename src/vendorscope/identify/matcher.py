"""Find which rules match a value.

``CompiledMatcher`` scans all of a kind's patterns at once with Hyperscan, then
extracts captures with RE2 from only the rules that matched. ``ReMatcher`` tries
each rule's Python ``re`` pattern in turn: the fallback where Hyperscan is not
available, and the baseline the benchmark compares against. Both return the
same matches in the same order (rule order), which the tests prove.
"""

from __future__ import annotations

import importlib
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vendorscope.identify.cache import cache_key, default_cache_dir, write_atomically
from vendorscope.identify.rules import Rule


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - exercised on other platforms
        return None


hyperscan = _optional("hyperscan")  # Hyperscan ships wheels for x86_64 Linux only
re2 = _optional("re2")


class MatcherError(ValueError):
    """A pattern could not be compiled."""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: Rule
    groups: dict[str, str | None]


class Matcher(Protocol):
    def match(self, kind: str, value: str) -> list[RuleMatch]: ...

    def match_many(self, kind: str, values: Sequence[str]) -> list[list[RuleMatch]]:
        """``[match(kind, v) for v in values]``, in one pass where the matcher can."""
        ...

    def kinds(self) -> set[str]: ...


def clean_text(value: str) -> str:
    """Replace what is not encodable as UTF-8 (lone surrogates) with U+FFFD."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def _by_kind(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        for kind in rule.kinds:
            out[kind].append(rule)
    return dict(out)


class ReMatcher:
    """Each rule's pattern with Python ``re``, one after another."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._table = {
            kind: [(rule, re.compile(rule.pattern, rule.re_flags)) for rule in group]
            for kind, group in _by_kind(rules).items()
        }

    def kinds(self) -> set[str]:
        return set(self._table)

    def match(self, kind: str, value: str) -> list[RuleMatch]:
        table = self._table.get(kind)
        if not table:
            return []
        value = clean_text(value)
        out = []
        for rule, rx in table:
            m = rx.search(value)
            if m is not None:
                out.append(RuleMatch(rule, m.groupdict()))
        return out

    def match_many(self, kind: str, values: Sequence[str]) -> list[list[RuleMatch]]:
        return [self.match(kind, value) for value in values]


class _CaptureExtractor:
    """Captures from one rule known to match: RE2 when present (linear time).

    RE2 is called through its compiled object on the UTF-8 bytes the Hyperscan scan
    already made: the ``re2`` module's ``search`` re-encodes the text and maps every byte
    offset back to a character offset in Python, twenty times the cost of the match itself.
    The groups are the same: RE2 matches whole code points, so its byte spans decode as is.
    """

    __slots__ = ("_rule", "_search", "_fallback", "_has_groups", "_match", "_groups")

    def __init__(self, rule: Rule) -> None:
        self._rule = rule
        self._has_groups = "(?P<" in rule.pattern
        self._fallback: Callable[[str], Any] | None = None
        self._search: Callable[[str], Any] | None = None  # compiled on the rule's first hit: start-up time
        self._match: Callable[[Any, bytes, int, int], Any] | None = None
        self._groups: tuple[tuple[str, int], ...] = ()

    def _compile(self) -> Callable[[str], Any]:
        if re2 is not None:
            options = re2.Options()
            options.case_sensitive = self._rule.case_sensitive
            compiled = re2.compile(self._rule.pattern, options)
            self._search = compiled.search
            regexp = getattr(compiled, "_regexp", None)
            if regexp is not None and _UNANCHORED is not None and hasattr(regexp, "Match"):
                self._match = regexp.Match
                self._groups = tuple(compiled.groupindex.items())
        else:  # pragma: no cover
            self._search = self._python_search()
        return self._search

    def _python_search(self) -> Callable[[str], Any]:
        if self._fallback is None:  # compiled on first need: start-up time matters
            self._fallback = re.compile(self._rule.pattern, self._rule.re_flags).search
        return self._fallback

    def __call__(self, value: str, encoded: bytes | None = None) -> dict[str, str | None]:
        if not self._has_groups:
            return {}
        if self._search is None:
            self._compile()
        if self._match is not None:
            data = value.encode("utf-8") if encoded is None else encoded
            spans = self._match(_UNANCHORED, data, 0, len(data))
            if spans[0] != _NULL_SPAN:
                return {name: None if spans[i][0] < 0 else data[spans[i][0]:spans[i][1]].decode("utf-8")
                        for name, i in self._groups}
            m = None
        else:
            m = self._search(value)  # type: ignore[misc]
        if m is None:
            # RE2's "$" is the very end; Hyperscan's and Python's also match before a
            # final newline. Hyperscan said the rule matches, so ask Python's re.
            m = self._python_search()(value)
        return dict(m.groupdict()) if m is not None else {}


_UNANCHORED = getattr(getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None), "UNANCHORED", None)
_NULL_SPAN = (-1, -1)


def _hyperscan_flags(rule: Rule) -> int:
    base = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8
    return base | (0 if rule.case_sensitive else hyperscan.HS_FLAG_CASELESS)


def compile_database(group: Sequence[Rule]) -> Any:
    db = hyperscan.Database()
    try:
        db.compile(
            expressions=[r.pattern.encode("utf-8") for r in group],
            ids=list(range(len(group))),
            flags=[_hyperscan_flags(r) for r in group],
        )
    except hyperscan.error as exc:  # names the failing expression's index
        index = getattr(exc, "args", ("",))[-1]
        raise MatcherError(f"hyperscan refused a pattern ({exc}; expression {index})") from exc
    return db


_HS_MAGIC = b"VSHS\x01"


def _load_or_compile(group: Sequence[Rule], cache_dir: Path) -> Any:
    """Compiling hundreds of patterns takes seconds; a serialised database loads in
    milliseconds. The cache key is every pattern and flag, so any rule change misses."""
    version = str(getattr(hyperscan, "__version__", ""))
    key = cache_key([version, os.uname().machine, *(f"{_hyperscan_flags(r)}:{r.pattern}" for r in group)])
    path = cache_dir / f"hs-{key}.db"
    # The file starts with its own key: a database copied or renamed from another
    # entry is valid Hyperscan but answers for other patterns, so it must not load.
    header = _HS_MAGIC + key.encode("ascii")
    try:
        data = path.read_bytes()
        if data.startswith(header):
            db = hyperscan.loadb(data[len(header) :], hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)  # a deserialised database comes without one
            return db
    except (OSError, hyperscan.error, TypeError, ValueError):
        pass
    db = compile_database(group)
    write_atomically(path, header + hyperscan.dumpb(db))
    return db


def _on_match(rule_id: int, start: int, end: int, flags: int, hits: list[int]) -> None:
    hits.append(rule_id)


class CompiledMatcher:
    """All patterns of a kind in one Hyperscan database.

    A kind's database is loaded (from the cache, else compiled) when the kind is
    first matched: a run sees a few of the 40-odd kinds, and each load is a file
    read, a deserialisation and a scratch allocation.
    """

    def __init__(self, rules: Iterable[Rule], cache_dir: Path | None = None) -> None:
        if hyperscan is None:
            raise MatcherError("hyperscan is not installed")
        self._rules: dict[str, list[Rule]] = _by_kind(rules)
        self._dbs: dict[str, Any] = {}
        self._captures: dict[str, _CaptureExtractor] = {}
        self._cache_dir = cache_dir if cache_dir is not None else default_cache_dir()

    def compile_all(self) -> None:
        """Load or compile every kind's database now (a refused pattern raises MatcherError here)."""
        for kind in self._rules:
            self._database(kind)

    def _database(self, kind: str) -> Any:
        db = self._dbs.get(kind)
        if db is None and kind in self._rules:
            group = self._rules[kind]
            db = _load_or_compile(group, self._cache_dir)
            for rule in group:
                if rule.id not in self._captures:
                    self._captures[rule.id] = _CaptureExtractor(rule)
            self._dbs[kind] = db
        return db

    def kinds(self) -> set[str]:
        return set(self._rules)

    def match(self, kind: str, value: str) -> list[RuleMatch]:
        return self.match_many(kind, (value,))[0]

    def match_many(self, kind: str, values: Sequence[str]) -> list[list[RuleMatch]]:
        """One database scan per value, all in this loop; captures only from the rules that hit."""
        db = self._dbs.get(kind) or self._database(kind)
        if db is None:
            return [[] for _ in values]
        scan, group, captures = db.scan, self._rules[kind], self._captures
        out: list[list[RuleMatch]] = []
        hits: list[int] = []
        for value in values:
            if not value.isascii():
                value = clean_text(value)
            encoded = value.encode("utf-8")
            scan(encoded, match_event_handler=_on_match, context=hits)
            if not hits:
                out.append([])
                continue
            if len(hits) > 1:
                hits.sort()
            out.append([RuleMatch(group[i], captures[group[i].id](value, encoded)) for i in hits])
            hits = []
        return out


def best_matcher(rules: Iterable[Rule]) -> Matcher:
    """Hyperscan where it is installed, else the ``re`` loop (same results)."""
    rules = list(rules)
    if hyperscan is not None:
        return CompiledMatcher(rules)
    return ReMatcher(rules)


class SetMatcher:
    """For rule sources the project does not vet (recog): an RE2 set per kind.

    Thousands of third-party patterns with large bounded repeats take Hyperscan
    minutes to compile; an RE2 set compiles in well under a second and still
    scans in linear time. Each matching rule's captures then come from RE2, or
    from Python ``re`` for a pattern RE2 refuses (``fallback_rules`` lists them).
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        if re2 is None:  # pragma: no cover - google-re2 is a dependency
            raise MatcherError("google-re2 is not installed")
        self._rules = _by_kind(rules)
        self._sets: dict[str, tuple[Any, list[int]]] = {}
        self._fallback: dict[str, list[int]] = {}
        self._search: dict[str, Callable[[str], Any]] = {}
        self.fallback_rules: list[str] = []
        self._options = re2.Options()
        self._options.max_mem = 1 << 28  # hundreds of patterns with {1,512} repeats outgrow the default 8 MB

    def compile_all(self) -> None:
        for kind in self._rules:
            self._compile(kind)

    def _compile(self, kind: str) -> tuple[Any, list[int]]:
        """A kind's set, built on its first use: most runs see a few kinds only."""
        compiled = self._sets.get(kind)
        if compiled is not None:
            return compiled
        regex_set = re2.Set.SearchSet(self._options)
        in_set: list[int] = []
        for i, rule in enumerate(self._rules[kind]):
            pattern = rule.pattern if rule.case_sensitive else f"(?i){rule.pattern}"
            try:
                search = re2.compile(pattern, self._options).search
                regex_set.Add(pattern)
                self._search.setdefault(rule.id, search)
                in_set.append(i)
            except re2.error:
                self._fallback.setdefault(kind, []).append(i)
                self._search.setdefault(rule.id, re.compile(rule.pattern, rule.re_flags).search)
                self.fallback_rules.append(rule.id)
        if in_set:
            regex_set.Compile()
        self._sets[kind] = (regex_set if in_set else None, in_set)
        return self._sets[kind]

    def kinds(self) -> set[str]:
        return set(self._rules)

    def match(self, kind: str, value: str) -> list[RuleMatch]:
        group = self._rules.get(kind)
        if group is None:
            return []
        value = clean_text(value)
        regex_set, in_set = self._compile(kind)
        hits = [in_set[i] for i in (regex_set.Match(value) or ())] if regex_set is not None else []
        hits += [i for i in self._fallback.get(kind, ()) if self._search[group[i].id](value) is not None]
        out = []
        for i in sorted(hits):
            rule = group[i]
            m = self._search[rule.id](value)
            if m is not None:
                out.append(RuleMatch(rule, dict(m.groupdict())))
        return out

    def match_many(self, kind: str, values: Sequence[str]) -> list[list[RuleMatch]]:
        return [self.match(kind, value) for value in values]
