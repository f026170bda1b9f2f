"""Weak signals (hint kinds, kinds.toml ``hint = true``, and values under a kind's ``hint_prefixes``,
such as a sysObjectID under an enterprise arc other makers reuse) and how two of them make a verdict.

A hint alone never decides an asset's vendor: :func:`decisive` drops it from
the attributions :func:`vendorscope.resolve.reconcile` scores, so an asset seen
only through one hint has no verdict and its attributions stay for review.
Two *independent* hints that name the same group do decide: :func:`with_combinations`
adds one attribution with rule ``combined:<rule1>+<rule2>`` (no observation of its
own: the two it combines are on the asset, named by their rules).

Independent means from different evidence sources: different kinds, with a
MAC's OUI and the vendor nmap names for that MAC counted as one source (they
read the same bytes). A MAC's OUI names the maker of a network interface, a
component, so it never decides alone either, but it counts as one of the two.

The combined confidence is the noisy-OR of the two, capped at
:data:`COMBINED_CEILING`; docs/calibration.md says how the numbers are set.
"""

from __future__ import annotations

from collections.abc import Sequence

from vendorscope.evidence.kinds import is_hint_value
from vendorscope.model import Attribution

COMBINED_PREFIX = "combined:"
COMBINED_CEILING = 0.85  # two weak signals never outrank one strong fingerprint (0.9+)
# Evidence of a component's maker that may be one of the two: both read the same MAC.
_MAC_SOURCES = {"mac": "mac", "nmap.mac_vendor": "mac"}


def _source(a: Attribution) -> str | None:
    """The independent source a combinable attribution comes from, or None when it is not combinable."""
    if a.observation is None or a.rule.startswith(COMBINED_PREFIX):
        return None
    kind = a.observation.kind
    if is_hint_value(kind, a.observation.value):
        return kind
    return _MAC_SOURCES.get(kind)


def is_hint(a: Attribution) -> bool:
    return a.observation is not None and is_hint_value(a.observation.kind, a.observation.value)


def decisive(attributions: Sequence[Attribution]) -> list[Attribution]:
    """The attributions that may decide a verdict: every one but hints, and not the parts of a combination
    (its confidence already counts them: counting a part again would inflate the verdict)."""
    consumed = {part for a in attributions if a.rule.startswith(COMBINED_PREFIX)
                for part in a.rule[len(COMBINED_PREFIX):].split("+")}
    return [a for a in attributions if not is_hint(a) and not (a.observation is not None and a.rule in consumed)]


def combine(attributions: Sequence[Attribution]) -> list[Attribution]:
    """One ``combined:`` attribution per group named by two independent sources, at least one a hint kind."""
    best: dict[tuple[str, str], Attribution] = {}
    for a in attributions:
        source = _source(a)
        if source is None:
            continue
        key = (a.group, source)
        if key not in best or a.confidence > best[key].confidence:
            best[key] = a
    out = []
    for group in sorted({g for g, _ in best}):
        ranked = sorted((a for (g, _), a in best.items() if g == group), key=lambda a: (-a.confidence, a.rule))
        hints = [a for a in ranked if is_hint(a)]
        if len(ranked) < 2 or not hints:
            continue
        first = hints[0]
        second = next(a for a in ranked if a is not first)
        pair = sorted((first, second), key=lambda a: a.rule)
        confidence = min(COMBINED_CEILING, round(1 - (1 - first.confidence) * (1 - second.confidence), 4))
        namer = first if not first.component else second
        out.append(Attribution(
            vendor=namer.vendor, vendor_name=namer.vendor_name, group=group, confidence=confidence,
            rule=COMBINED_PREFIX + "+".join(a.rule for a in pair),
            product=first.product or second.product, device_type=first.device_type or second.device_type))
    return out


def with_combinations(attributions: Sequence[Attribution]) -> list[Attribution]:
    """The attributions and the combinations they make (once: a merge of assets does not repeat them)."""
    present = {a.rule for a in attributions}
    return [*attributions, *(c for c in combine(attributions) if c.rule not in present)]
