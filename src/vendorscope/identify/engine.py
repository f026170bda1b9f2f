"""Observation → attributions: rules, MAC registrants, enterprise numbers, names.

Confidence says how strongly a kind of evidence names the maker of the box:
an OUI names who made the network interface (often a module maker), a
sysObjectID names who wrote the agent, a label is what somebody typed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, islice, repeat
from operator import is_
from typing import TYPE_CHECKING, Any

from vendorscope.evidence.kinds import lookup_confidence
from vendorscope.identify.matcher import Matcher, RuleMatch, SetMatcher, best_matcher
from vendorscope.identify.oui import OuiTable, block_id, default_oui_table, mac_int_or_none
from vendorscope.identify.registry import Registry, default_registry
from vendorscope.identify.rules import Rule, default_rules
from vendorscope.model import EVIDENCE_KINDS, Attribution, Observation

if TYPE_CHECKING:  # recog (and its XML parser) is imported only when recog is configured: start-up time
    from vendorscope.identify.recog import RecogDatabase, RecogFingerprint

# Confidence of the lookups that are not rules (rules carry their own): evidence/kinds.toml.
MAC_CONFIDENCE = lookup_confidence("mac")["mac"]
ENTERPRISE_CONFIDENCE = lookup_confidence("enterprise")["snmp.sysobjectid"]
NAME_CONFIDENCE = lookup_confidence("name")
CPE_CONFIDENCE = lookup_confidence("cpe")["cpe"]
CPE_HARDWARE_CONFIDENCE = round(CPE_CONFIDENCE + 0.1, 2)  # a CPE of part "h" names the hardware itself
_ENTERPRISE_OID = re.compile(r"^\.?1\.3\.6\.1\.4\.1\.(\d{1,10})(?:\.|$)")
_CPE = re.compile(r"^cpe:(?:2\.3:|/)([aho]):([^:]+)(?::([^:]*))?(?::([^:]*))?")


class Engine:
    """Identify observations. Build once; cheap to call by the million."""

    def __init__(
        self,
        registry: Registry | None = None,
        rules: Iterable[Rule] | None = None,
        matcher: Matcher | None = None,
        oui: OuiTable | None = None,
        cache_size: int = 1 << 18,
        recog: RecogDatabase | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.rules = tuple(rules) if rules is not None else default_rules()
        self.matcher = matcher or best_matcher(self.rules)
        self._oui = oui
        # recog's fingerprints run in a matcher of their own: its SSH patterns see a shorter
        # value, and a curated rule's answer must be known before recog's is kept.
        self.recog = recog
        self._recog: dict[str, RecogFingerprint] = dict(recog.fingerprints) if recog else {}
        self.recog_matcher: Matcher | None = SetMatcher(recog.rules) if recog else None
        self._recog_prefix = recog.kinds() if recog else {}
        self._recog_vendor = None
        if recog:
            from vendorscope.identify.recog import VendorMap

            self._recog_vendor = VendorMap(self.registry)
        # Group and display name per vendor, computed once: they are on every attribution.
        self._group = {vid: self.registry.group_of(vid) for vid in self.registry.vendors}
        # Rules without captures always give the same attribution: built on first use, then kept.
        self._constant: dict[str, Attribution] = {}
        self._mac_by_block: dict[int, tuple[Attribution, ...]] = {}
        self._registrant_vendor: dict[int, Any] = {}  # registrant number (OUI table) → vendor id
        self._vendor_name: dict[str, str] = {}
        self._lookup_attributions: dict[tuple[str, float, str], Attribution] = {}
        self._lookups: dict[str, Callable[[str, str], list[Attribution]]] = {
            "mac": self._by_mac,
            "snmp.sysobjectid": self._by_enterprise,
            "cpe": self._by_cpe,
            **{kind: self._by_name for kind in NAME_CONFIDENCE},
        }
        # Kinds whose only source is a lookup that answers many values at once.
        self._batch_lookups: dict[str, Callable[[list[str]], list[tuple[Attribution, ...]]]] = {
            "mac": self._by_macs}
        # (kind, value) → attributions; a plain dict so a batch can look up before it computes.
        self._cache: dict[tuple[str, str], tuple[Attribution, ...]] = {}
        self._dict_cache: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
        self._cache_size = cache_size
        self._dict_of: dict[int, tuple[Attribution, dict[str, Any]]] = {}
        self._matcher_kinds = frozenset(self.matcher.kinds())

    @property
    def oui(self) -> OuiTable:
        if self._oui is None:
            self._oui = default_oui_table()
        return self._oui

    def kinds(self) -> list[str]:
        return sorted(set(EVIDENCE_KINDS) | self.matcher.kinds() | set(self._lookups) | set(self._recog_prefix))

    def identify(self, observation: Observation) -> list[Attribution]:
        found = self.identify_value(observation.kind, observation.value)
        return [dataclasses.replace(a, observation=observation) for a in found]

    def identify_observations(self, observations: Sequence[Observation]) -> list[list[Attribution]]:
        """:meth:`identify` for each observation, by way of :meth:`identify_values` (one pass per batch)."""
        found = self.identify_values([(o.kind, o.value) for o in observations])
        return [[dataclasses.replace(a, observation=o) for a in attributions]
                for o, attributions in zip(observations, found, strict=True)]

    def identify_value(self, kind: str, value: str) -> tuple[Attribution, ...]:
        """Attributions for one kind and value, best first (cached)."""
        found = self._cache.get((kind, value))
        if found is None:
            found = self._identify_value(kind, value)
            self._remember(self._cache, (kind, value), found)
        return found

    def identify_values(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[Attribution, ...]]:
        """Attributions for each (kind, value), best first: the same as :meth:`identify_value` for
        each pair, but each distinct value not yet cached is matched once, a kind's values together."""
        return self._batch(self._cache, pairs, self._identify_distinct)

    def identify_values_as_dicts(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[dict[str, Any], ...]]:
        """:meth:`identify_values` as :meth:`Attribution.as_dict` dicts, built once per distinct value
        (callers share them: copy before changing one)."""
        return self._batch(self._dict_cache, pairs, self._dicts_of_distinct)

    def _batch(self, cache: dict[tuple[str, str], Any], pairs: Sequence[tuple[str, str]],
               compute: Callable[[list[tuple[str, str]]], list[Any]]) -> list[Any]:
        """Cache hits as they are; each distinct miss computed once, in one ``compute`` call."""
        out = list(map(cache.get, pairs))
        if None not in out:
            return out
        # The misses' positions and keys, found at C speed; only they are visited in Python.
        missing = list(compress(range(len(out)), map(is_, out, repeat(None))))
        missed = [pairs[i] for i in missing]
        keys = list(dict.fromkeys(missed))
        new = dict(zip(keys, compute(keys), strict=True))
        self._remember_many(cache, new)
        get = new.__getitem__
        for i, key in zip(missing, missed, strict=True):
            out[i] = get(key)
        return out

    def _remember(self, cache: dict[tuple[str, str], Any], key: tuple[str, str], found: Any) -> None:
        if len(key[1]) > 4096 or self._cache_size <= 0:  # long values are rare; don't let them fill the cache
            return
        if len(cache) >= self._cache_size:
            cache.clear()  # cheaper than LRU bookkeeping on every hit; the working set refills at once
            self._dict_of.clear()
        cache[key] = found

    def _remember_many(self, cache: dict[tuple[str, str], Any], new: dict[tuple[str, str], Any]) -> None:
        """:meth:`_remember` for a batch of new entries at once."""
        if self._cache_size <= 0:
            return
        if any(len(value) > 4096 for _, value in new):  # long values are rare; don't let them fill the cache
            new = {key: found for key, found in new.items() if len(key[1]) <= 4096}
        if len(cache) + len(new) > self._cache_size:
            cache.clear()  # cheaper than LRU bookkeeping on every hit; the working set refills at once
            self._dict_of.clear()
            if len(new) > self._cache_size:
                new = dict(islice(new.items(), self._cache_size))
        cache.update(new)

    def _dicts_of_distinct(self, keys: list[tuple[str, str]]) -> list[tuple[dict[str, Any], ...]]:
        dict_of = self._dict_of
        out: list[tuple[dict[str, Any], ...]] = []
        append = out.append
        for found in self._identify_distinct(keys):
            if not found:
                append(_NONE)
                continue
            dicts = []
            for a in found:  # constant and per-block attributions are shared objects: one dict each
                known = dict_of.get(id(a))
                if known is None or known[0] is not a:
                    known = dict_of[id(a)] = (a, a.as_dict())
                dicts.append(known[1])
            append(tuple(dicts))
        return out

    def _identify_distinct(self, keys: list[tuple[str, str]]) -> list[tuple[Attribution, ...]]:
        """Attributions of distinct (kind, value) pairs, in their order: one matcher pass per kind."""
        by_kind: dict[str, list[int]] = {}
        for i, (kind, _) in enumerate(keys):
            group = by_kind.get(kind)
            if group is None:
                by_kind[kind] = [i]
            else:
                group.append(i)
        out: list[tuple[Attribution, ...]] = [_NONE] * len(keys)
        finish = self._finish
        matcher_kinds = self._matcher_kinds
        for kind, indexes in by_kind.items():
            values = [keys[i][1] for i in indexes]
            # A kind with no lookup and no recog: a value no rule matches has no attribution.
            plain = kind not in self._lookups and not (self.recog_matcher is not None and kind in self._recog_prefix)
            if plain and kind not in matcher_kinds:
                continue  # no rule, no lookup: nothing names a vendor (out is already empty)
            batch_lookup = self._batch_lookups.get(kind)
            if batch_lookup is not None and kind not in matcher_kinds and kind not in self._recog_prefix:
                for i, found in zip(indexes, batch_lookup(values), strict=True):
                    out[i] = found
                continue
            for i, value, matches in zip(indexes, values, self.matcher.match_many(kind, values), strict=True):
                if matches or not plain:
                    out[i] = finish(kind, value, matches)
        return out

    def _identify_value(self, kind: str, value: str) -> tuple[Attribution, ...]:
        return self._finish(kind, value, self.matcher.match(kind, value))

    def _finish(self, kind: str, value: str, matches: list[RuleMatch]) -> tuple[Attribution, ...]:
        lookup = self._lookups.get(kind)
        recog = self.recog_matcher is not None and kind in self._recog_prefix
        if not matches and lookup is None and not recog:
            return _NONE
        constant = self._constant
        out = [constant.get(m.rule.id) or self._rule_attribution(m.rule, m.groups) for m in matches]
        if lookup is not None:
            out.extend(lookup(kind, value))
        if recog:
            curated = {a.group for a in out}
            out.extend(a for a in self.recog_attributions(kind, value) if not curated or a.group in curated)
        if len(out) > 1:
            out.sort(key=_rank)
        return tuple(out)

    def recog_attributions(self, kind: str, value: str) -> list[Attribution]:
        """recog's own attributions (identify keeps only those that agree with the curated rules)."""
        if self.recog_matcher is None or kind not in self._recog_prefix:
            return []
        text = _after_prefix(value, self._recog_prefix[kind])
        if text is None:
            return []
        out = []
        for m in self.recog_matcher.match(kind, text):
            found = self._recog_attribution(self._recog[m.rule.id], m.groups)
            if found is not None:
                out.append(found)
        return out

    def _recog_attribution(self, fingerprint: RecogFingerprint, groups: dict[str, str | None]) -> Attribution | None:
        vendor_name, product, version, device_type = fingerprint.naming(groups)
        if not vendor_name:
            return None  # recog names no maker here (a service product only)
        rule = fingerprint.rule
        mapped = self._recog_vendor(vendor_name) if self._recog_vendor is not None and not rule.vendor else None
        if not (vendor_id := rule.vendor or mapped or ""):
            from vendorscope.identify.recog import vendor_slug

            vendor_id = vendor_slug(vendor_name)
        group = self._group.get(vendor_id, vendor_id)
        return Attribution(vendor=vendor_id, vendor_name=vendor_name[:200], group=group, confidence=rule.confidence,
                           rule=rule.id, product=product, version=version, device_type=device_type)

    # -- attributions ------------------------------------------------------

    def _vendor_attribution(
        self, vendor_id: str, confidence: float, rule: str, component: bool = False, **extra: str | None
    ) -> Attribution:
        name = self._vendor_name.get(vendor_id)
        if name is None:
            name = self._vendor_name[vendor_id] = self.registry[vendor_id].name
        return Attribution(
            vendor=vendor_id,
            vendor_name=name,
            group=self._group[vendor_id],
            confidence=confidence,
            rule=rule,
            component=component,
            **extra,  # type: ignore[arg-type]
        )

    def _lookup_attribution(self, vendor_id: str, confidence: float, rule: str) -> Attribution:
        """A lookup's attribution names only the vendor, confidence and rule: one shared object each."""
        key = (vendor_id, confidence, rule)
        found = self._lookup_attributions.get(key)
        if found is None:
            found = self._lookup_attributions[key] = self._vendor_attribution(vendor_id, confidence, rule)
        return found

    def _rule_attribution(self, rule: Rule, groups: dict[str, str | None]) -> Attribution:
        found = self._attribution(rule, groups)
        if "(?P<" not in rule.pattern:
            self._constant[rule.id] = found
        return found

    def _attribution(self, rule: Rule, groups: dict[str, str | None]) -> Attribution:
        product, version, device_type = rule.render(groups)
        return self._vendor_attribution(
            rule.vendor, rule.confidence, rule.id, component=rule.component,
            product=product, version=version, device_type=device_type
        )

    def _by_mac(self, kind: str, value: str) -> list[Attribution]:
        number = mac_int_or_none(value)
        return [] if number is None else list(self._by_mac_number(number))

    def _by_macs(self, values: list[str]) -> list[tuple[Attribution, ...]]:
        """:meth:`_by_mac` of many values: an address costs a parse and a look-up of its block."""
        by_block = self._mac_by_block.get
        out: list[tuple[Attribution, ...]] = []
        append = out.append
        for number in map(mac_int_or_none, values):
            if number is None:
                append(_NONE)
                continue
            found = by_block(number >> 24)
            append(found if found is not None else self._by_mac_number(number))
        return out

    def _by_mac_number(self, number: int) -> tuple[Attribution, ...]:
        # The answer depends only on the assigned block: cached per 24-bit prefix
        # unless the IEEE split that prefix into MA-M/MA-S blocks.
        prefix = number >> 24
        cached = self._mac_by_block.get(prefix)
        if cached is not None:
            return cached
        if number >> 40 & 0x03:  # multicast or locally administered: no registrant
            self._mac_by_block[prefix] = _NONE
            return _NONE
        oui = self.oui
        found = _NONE
        block = oui.locate(number)
        if block is not None:
            bits, block_prefix, registrant = block
            # thousands of blocks, far fewer registrants: each name decoded and resolved once
            vendor_id = self._registrant_vendor.get(registrant, _UNKNOWN)
            if vendor_id is _UNKNOWN:
                vendor_id = self._registrant_vendor[registrant] = \
                    self.registry.find_by_name(oui.registrant(registrant))
            if vendor_id is not None:
                found = (self._lookup_attribution(vendor_id, MAC_CONFIDENCE, f"ieee.{block_id(bits, block_prefix)}"),)
        if not oui.is_split(prefix):
            self._mac_by_block[prefix] = found
        return found

    def _by_enterprise(self, kind: str, value: str) -> list[Attribution]:
        m = _ENTERPRISE_OID.match(value.strip())
        if m is None:
            return []
        number = int(m.group(1))
        vendor_id = self.registry.vendor_for_enterprise(number)
        if vendor_id is None:
            return []
        return [self._lookup_attribution(vendor_id, ENTERPRISE_CONFIDENCE, f"iana.pen:{number}")]

    def _by_name(self, kind: str, value: str) -> list[Attribution]:
        vendor_id = self.registry.find_by_name(value[:256])
        if vendor_id is None:
            return []
        return [self._lookup_attribution(vendor_id, NAME_CONFIDENCE[kind], "registry.name")]

    def _by_cpe(self, kind: str, value: str) -> list[Attribution]:
        m = _CPE.match(value.strip())
        if m is None:
            return []
        part, vendor, product, version = m.groups()
        vendor_id = self.registry.find_by_name(vendor.replace("_", " "))
        if vendor_id is None:
            return []
        return [
            self._vendor_attribution(
                vendor_id,
                CPE_HARDWARE_CONFIDENCE if part == "h" else CPE_CONFIDENCE,
                "cpe.vendor",
                product=(product or "").replace("_", " ") or None,
                version=version if version not in (None, "", "*", "-") else None,
            )
        ]


_NONE: tuple[Any, ...] = ()
_UNKNOWN: Any = object()


def _rank(a: Attribution) -> tuple[float, str]:
    """Best first: higher confidence, then rule id (a stable order for equal confidence)."""
    return (-a.confidence, a.rule)


def _after_prefix(value: str, prefix: str) -> str | None:
    """The text recog's patterns see: after the prefix ("SSH-2.0-", also "SSH-1.99-"), None without it."""
    if value.startswith(prefix):
        return value[len(prefix):]
    m = _SSH_VERSION.match(value) if prefix.startswith("SSH-") else None
    return value[m.end():] if m else None


_SSH_VERSION = re.compile(r"SSH-\d+\.\d+-")
_default: Engine | None = None


def default_engine() -> Engine:
    """The bundled rules, plus recog where the user configured it ($VENDORSCOPE_RECOG, ``rules add-recog``)."""
    global _default
    if _default is None:
        from vendorscope.identify.recog_paths import configured_recog_paths

        paths = configured_recog_paths()
        registry = default_registry()
        recog = None
        if paths:
            from vendorscope.identify.recog import load_recog

            recog = load_recog(paths, registry)
        _default = Engine(registry=registry, recog=recog)
    return _default
