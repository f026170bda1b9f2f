"""Observations + attributions → assets, each with one reconciled verdict.

Observations describe the same device when they share a MAC, serial, asset tag
or hostname, or an IP address within a time window (addresses move). Two
groups that each carry a different MAC are never merged through an IP alone.

The verdict prefers technical fingerprints over labels: a camera labelled
"Acme" whose firmware banner is Hikvision's is Hikvision's, and the
disagreement is kept as a ``Conflict``.

A component attribution (a rule with ``names = "component"``: a chip or SDK
string such as HiSilicon's ``HiIpcam``) names the maker of a part, not of the
box: it stays on the asset, marked ``component``, but never decides the verdict.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from vendorscope import resolve_hints
from vendorscope.evidence.kinds import MODEL_KINDS
from vendorscope.model import (
    KEY_NAMES,
    LABEL_KINDS,
    Annotation,
    Asset,
    Attribution,
    Conflict,
    Observation,
    Role,
    Verdict,
)

IP_WINDOW = timedelta(hours=24)
# Observations that state facts about the asset rather than its maker.
SITE_KIND, ROLE_KIND, TAG_KIND = "asset.site", "asset.role", "asset.tag"
# Evidence kinds that name the maker of a component, not of the box: kept in
# the verdict, but never a conflict with a label.
COMPONENT_KINDS = frozenset({"mac", "nmap.mac_vendor"})
_KEY_PRIORITY = ("mac", "serial", "asset_tag", "hostname", "ip")
# Keys that merge two assets only when they do not carry different MACs (factory host names and
# reused addresses repeat across devices). group_assets tries such a key against the first asset
# holding it only, which is what lets the store load just that one (Inventory's batch writer).
GUARDED_KEYS = frozenset({"hostname", "ip"})


class _Groups:
    """Union-find over observation indexes, refusing merges of distinct MACs."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.macs: list[set[str]] = [set() for _ in range(n)]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, guard_macs: bool = False) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if guard_macs and self.macs[ra] and self.macs[rb] and self.macs[ra] != self.macs[rb]:
            return
        self.parent[rb] = ra
        self.macs[ra] |= self.macs[rb]


def _key_value(name: str, value: str) -> str:
    return value.lower() if name in ("mac", "hostname") else value


def group_observations(observations: Sequence[Observation], ip_window: timedelta = IP_WINDOW) -> list[list[int]]:
    """Indexes of observations that describe the same device."""
    groups = _Groups(len(observations))
    first_with: dict[tuple[str, str], int] = {}
    for i, obs in enumerate(observations):
        if obs.keys.mac:
            groups.macs[i].add(obs.keys.mac.lower())
    for i, obs in enumerate(observations):
        for name in ("mac", "serial", "asset_tag", "hostname"):
            value = getattr(obs.keys, name)
            if value:
                key = (name, _key_value(name, value))
                if key in first_with:
                    # Factory-default host names repeat across devices: a name alone
                    # never merges two devices that each have their own MAC.
                    groups.union(first_with[key], i, guard_macs=name == "hostname")
                else:
                    first_with[key] = i
    by_ip: dict[str, list[int]] = defaultdict(list)
    for i, obs in enumerate(observations):
        if obs.keys.ip:
            by_ip[obs.keys.ip].append(i)
    epoch = datetime.min
    for indexes in by_ip.values():
        indexes.sort(key=lambda i: (observations[i].seen_at or epoch).replace(tzinfo=None))
        for prev, cur in zip(indexes, indexes[1:], strict=False):
            t0, t1 = observations[prev].seen_at, observations[cur].seen_at
            if t0 is None or t1 is None or abs(t1 - t0) <= ip_window:
                groups.union(prev, cur, guard_macs=True)
    out: dict[int, list[int]] = defaultdict(list)
    for i in range(len(observations)):
        out[groups.find(i)].append(i)
    return list(out.values())


def group_assets(assets: Sequence[Asset]) -> list[list[int]]:
    """Indexes of assets (from several sources) that are the same device.

    The same keys as for observations: a shared MAC, serial or asset tag merges;
    a shared hostname or IP merges only assets that do not carry different MACs.
    """
    groups = _Groups(len(assets))
    for i, asset in enumerate(assets):
        groups.macs[i] = set(asset.keys.get("mac", ()))
    first_with: dict[tuple[str, str], int] = {}
    for i, asset in enumerate(assets):
        for name in _KEY_PRIORITY:
            for value in sorted(asset.keys.get(name, ())):
                key = (name, value)
                if key in first_with:
                    groups.union(first_with[key], i, guard_macs=name in GUARDED_KEYS)
                else:
                    first_with[key] = i
    out: dict[int, list[int]] = defaultdict(list)
    for i in range(len(assets)):
        out[groups.find(i)].append(i)
    return list(out.values())


def _combine(confidences: Iterable[float]) -> float:
    """Independent evidence: 1 - Π(1 - c)."""
    miss = 1.0
    for c in confidences:
        miss *= 1.0 - c
    return round(1.0 - miss, 4)


def _scores(attributions: Iterable[Attribution]) -> dict[str, float]:
    """Score per vendor, counting each evidence kind once (its best)."""
    best: dict[tuple[str, str], float] = {}
    for a in attributions:
        kind = a.observation.kind if a.observation else a.rule
        key = (a.vendor, kind)
        best[key] = max(best.get(key, 0.0), a.confidence)
    per_vendor: dict[str, list[float]] = defaultdict(list)
    for (vendor, _), c in best.items():
        per_vendor[vendor].append(c)
    return {v: _combine(cs) for v, cs in per_vendor.items()}


def _is_label(a: Attribution) -> bool:
    return a.observation is not None and a.observation.kind in LABEL_KINDS


def mark_components(attributions: Iterable[Attribution], component_rules: frozenset[str]) -> list[Attribution]:
    """The attributions, those made by a component rule marked ``component``."""
    return [
        dataclasses.replace(a, component=True) if a.rule in component_rules and not a.component else a
        for a in attributions
    ]


@cache
def _default_component_rules() -> frozenset[str]:
    from vendorscope.identify.rules import component_rule_ids, default_rules

    return component_rule_ids(default_rules())


def reconcile(
    attributions: Sequence[Attribution],
    component_rules: frozenset[str] | None = None,
    models: Sequence[str] = (),
) -> tuple[Verdict, list[Conflict]]:
    """The verdict of one device's attributions, and the conflicts between its labels and fingerprints.

    ``models``: the device's bare model names (values of ``model`` kinds, oldest first), which
    name the product once the attributions have decided the vendor.
    """
    # The rule id decides too: attributions read back from a store may have lost the flag.
    if component_rules is None:
        component_rules = _default_component_rules()
    devices = [a for a in resolve_hints.decisive(attributions) if not (a.component or a.rule in component_rules)]
    technical = [a for a in devices if not _is_label(a)]
    labels = [a for a in devices if _is_label(a)]
    pool = technical or labels
    if not pool:
        return Verdict(None, None, None, 0.0), []
    scores = _scores(pool)
    # Group scores decide between companies; the best vendor within the group names it.
    group_of = {a.vendor: a.group for a in pool}
    group_scores: dict[str, float] = defaultdict(float)
    for vendor, score in scores.items():
        group_scores[group_of[vendor]] = max(group_scores[group_of[vendor]], score)
    best_group = max(sorted(group_scores), key=lambda g: group_scores[g])
    best_vendor = max(sorted(v for v in scores if group_of[v] == best_group), key=lambda v: scores[v])
    chosen = sorted((a for a in pool if a.vendor == best_vendor), key=lambda a: -a.confidence)

    def first(attr: str) -> str | None:
        return next((getattr(a, attr) for a in chosen if getattr(a, attr)), None)

    # A label that agrees with the fingerprints on the vendor may still name the model best.
    describing = chosen + [a for a in labels if a.vendor == best_vendor and pool is technical]
    product, version = describe_product(describing, models)
    verdict = Verdict(
        vendor=best_vendor,
        vendor_name=chosen[0].vendor_name,
        group=best_group,
        confidence=scores[best_vendor],
        product=product,
        version=version if product else first("version"),
        device_type=first("device_type"),
    )
    return verdict, find_conflicts(technical, labels)


def model_names(observations: Iterable[Observation]) -> list[str]:
    """The bare model names among a device's observations (``model`` kinds), oldest first."""
    found = [o for o in observations if o.kind in MODEL_KINDS]
    found.sort(key=lambda o: o.seen_at.timestamp() if o.seen_at is not None else float("-inf"))
    return [o.value for o in found]


@cache
def product_ranks() -> dict[str, int]:
    """Evidence kind → its tier in data/product_precedence.toml (lower names the device's model better)."""
    text = resources.files("vendorscope.identify").joinpath("data/product_precedence.toml").read_text("utf-8")
    return parse_product_ranks(text)


def parse_product_ranks(text: str) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for tier, entry in enumerate(tomllib.loads(text).get("tier", [])):
        for kind in entry.get("kinds", []):
            ranks.setdefault(kind, tier)
    return ranks


def describe_product(
    attributions: Sequence[Attribution], models: Sequence[str] = ()
) -> tuple[str | None, str | None]:
    """The product and version one vendor's attributions give the device.

    The product comes from the evidence kind that names a device best (SNMP or
    an inventory's model before a service banner), then the most confident;
    the version from that same attribution, or another of the same tier: the
    version of an SSH server is not the device's. A bare model name (``models``,
    e.g. ENTITY-MIB's "MA5800-X17") stands in the first tier when no attribution
    of that tier names a product.
    """
    ranks = product_ranks()
    unranked = len(ranks) + 1

    def rank(a: Attribution) -> int:
        return ranks.get(a.observation.kind, unranked) if a.observation else unranked

    named = sorted((a for a in attributions if a.product), key=lambda a: (rank(a), -a.confidence))
    model = next((m.strip() for m in reversed(models) if m.strip()), None)
    if model and (not named or rank(named[0]) > 0):
        return model, None
    if not named:
        return None, None
    best = named[0]
    if best.version:
        return best.product, best.version
    same_tier = sorted((a for a in attributions if a.version and rank(a) == rank(best)), key=lambda a: -a.confidence)
    return best.product, same_tier[0].version if same_tier else None


def find_conflicts(technical: Sequence[Attribution], labels: Sequence[Attribution]) -> list[Conflict]:
    fingerprints = [a for a in technical if a.observation is None or a.observation.kind not in COMPONENT_KINDS]
    if not fingerprints or not labels:
        return []
    tech_groups = {a.group for a in fingerprints}
    conflicts: list[Conflict] = []
    seen: set[tuple[str, str]] = set()
    for label in labels:
        if label.group in tech_groups:
            continue
        fp = max(fingerprints, key=lambda a: a.confidence)
        key = (label.vendor, fp.vendor)
        if key in seen:
            continue
        seen.add(key)
        label_kind = label.observation.kind if label.observation else "label"
        fp_kind = fp.observation.kind if fp.observation else fp.rule
        label_text = label.observation.value if label.observation else label.vendor
        fp_text = fp.observation.value if fp.observation else fp.rule
        conflicts.append(
            Conflict(
                label_vendor=label.vendor,
                label_kind=label_kind,
                fingerprint_vendor=fp.vendor,
                fingerprint_kind=fp_kind,
                detail=(
                    f"{label_kind} says {label.vendor_name} ({label_text[:80]!r}) but "
                    f"{fp_kind} is {fp.vendor_name}'s ({fp_text[:80]!r}, rule {fp.rule})"
                ),
            )
        )
    return conflicts


def asset_id(keys: dict[str, set[str]]) -> str:
    """A stable id from the strongest key, so snapshots can be compared."""
    for name in _KEY_PRIORITY:
        if keys.get(name):
            return f"{name}:{sorted(keys[name])[0]}"
    return "unknown"


def resolve(
    observations: Sequence[Observation],
    identify: Callable[[Observation], list[Attribution]],
    ip_window: timedelta = IP_WINDOW,
    component_rules: frozenset[str] | None = None,
) -> list[Asset]:
    """Merge observations into assets and give each a verdict.

    ``component_rules``: ids of the rules whose matches name a component maker
    (default: those of the bundled rules).
    """
    if component_rules is None:
        component_rules = _default_component_rules()
    assets: list[Asset] = []
    for indexes in group_observations(observations, ip_window):
        obs = [observations[i] for i in indexes]
        keys: dict[str, set[str]] = {name: set() for name in KEY_NAMES}
        site: str | None = None
        role = Role.unknown
        tags: set[str] = set()
        attributions: list[Attribution] = []
        for o in obs:
            for name, value in o.keys.as_dict().items():
                keys[name].add(_key_value(name, value))
            if o.kind == SITE_KIND:
                site = o.value
            elif o.kind == ROLE_KIND and o.value in Role.__members__:
                role = Role(o.value)
            elif o.kind == TAG_KIND:
                tags.add(o.value.lower())
            else:
                attributions.extend(mark_components(identify(o), component_rules))
        attributions = resolve_hints.with_combinations(attributions)
        verdict, conflicts = reconcile(attributions, component_rules, model_names(obs))
        times = [o.seen_at for o in obs if o.seen_at is not None]
        keys = {k: v for k, v in keys.items() if v}
        assets.append(
            Asset(
                id=asset_id(keys),
                keys=keys,
                observations=obs,
                attributions=sorted(attributions, key=lambda a: -a.confidence),
                verdict=verdict,
                conflicts=conflicts,
                role=role,
                site=site,
                site_tags=frozenset(tags),
                first_seen=min(times) if times else None,
                last_seen=max(times) if times else None,
            )
        )
    assets.sort(key=lambda a: a.id)
    return assets


# ---------------------------------------------------------------- stored parts and annotations
# The store keeps each source's assets apart; these merge them into the inventory as it
# stands, by the same rules as observations above. One owner for "what is one asset".


def merge_parts(parts: Sequence[Asset]) -> Asset:
    """One asset seen by several sources (oldest first) → one asset, verdict reconciled again."""
    if len(parts) == 1:
        return parts[0]
    keys: dict[str, set[str]] = defaultdict(set)
    for part in parts:
        for name, values in part.keys.items():
            keys[name] |= values
    attributions = sorted(resolve_hints.with_combinations([a for p in parts for a in p.attributions]),
                          key=lambda a: -a.confidence)
    verdict, conflicts = reconcile(attributions, models=model_names(o for p in parts for o in p.observations))
    roles = [p.role for p in parts if p.role is not Role.unknown]
    sites = [p.site for p in parts if p.site]
    firsts = [p.first_seen for p in parts if p.first_seen is not None]
    lasts = [p.last_seen for p in parts if p.last_seen is not None]
    return Asset(
        id=asset_id(keys),
        keys=dict(keys),
        observations=[o for p in parts for o in p.observations],
        attributions=attributions,
        verdict=verdict,
        conflicts=conflicts,
        role=roles[-1] if roles else Role.unknown,
        site=sites[-1] if sites else None,
        site_tags=frozenset().union(*(p.site_tags for p in parts)),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
    )


def merge_by_id(per_snapshot: Iterable[Sequence[Asset]]) -> list[Asset]:
    """Assets of several snapshots (oldest first) merged, sorted by id.

    Parts merge when they share a key (a probe's IP and an inventory row's IP
    and serial are one device), by the same rules as observations in resolve.
    """
    assets = [asset for assets in per_snapshot for asset in assets]
    merged = [merge_parts([assets[i] for i in group]) for group in group_assets(assets)]
    return sorted(merged, key=lambda a: a.id)


def annotation_ids(asset: Asset) -> list[str]:
    """The ids an annotation of this device may have been stored under, weakest first, its own id last.

    A person annotates the asset id they see (``ip:192.0.2.20``); when a later
    source merges in a stronger key the id changes (``serial:21023``), but the
    device still carries the old key, so the annotation still reaches it.
    """
    ids = [f"{name}:{value}" for name in reversed(_KEY_PRIORITY) for value in sorted(asset.keys.get(name, ()))]
    return [i for i in ids if i != asset.id] + [asset.id]


def annotation_for(asset: Asset, notes: Mapping[str, Annotation]) -> Annotation | None:
    """What people said about this device under any of its ids, folded: the stronger id's word wins."""
    found = [notes[i] for i in annotation_ids(asset) if i in notes]
    if not found:
        return None
    role, site, tags, removed = None, None, frozenset[str](), frozenset[str]()
    for note in found:
        role = note.role if note.role is not None else role
        site = note.site if note.site is not None else site
        tags, removed = (tags | note.tags) - note.removed_tags, (removed | note.removed_tags) - note.tags
    return Annotation(asset.id, role, site, tags, removed)


def apply_annotation(asset: Asset, note: Annotation | None) -> Asset:
    """The asset with what a person said about it: their role and site win, their tags add or remove."""
    if note is None:
        return asset
    return dataclasses.replace(
        asset,
        role=note.role if note.role is not None else asset.role,
        site=note.site if note.site is not None else asset.site,
        site_tags=(asset.site_tags | note.tags) - note.removed_tags,
    )
