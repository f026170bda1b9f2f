"""Prove rules against their own examples, and find rules that collide.

- every example matches its rule, with the expected captures;
- no counterexample matches its rule;
- contradiction: another rule of a different vendor group fires on an example
  (unless either rule lists the other in ``overlaps``);
- shadowing: another rule of the same vendor with higher confidence fires on
  every example of this one, so this one never decides anything;
- provenance (notes): a rule that does not say where its examples were
  observed (``observed_in``), or whose examples are ``invented``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vendorscope.identify.matcher import Matcher, ReMatcher
from vendorscope.identify.registry import Registry
from vendorscope.identify.rules import Rule

if TYPE_CHECKING:
    from vendorscope.identify.engine import Engine


@dataclass(frozen=True, slots=True)
class Problem:
    rule: str
    severity: str  # "error", "warning" or "note" (provenance: never fails a check)
    what: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.rule}: {self.what}"


def check_rules(rules: Sequence[Rule], registry: Registry, matcher: Matcher | None = None) -> list[Problem]:
    matcher = matcher or ReMatcher(rules)
    problems: list[Problem] = []
    for rule in rules:
        if rule.vendor not in registry:
            problems.append(Problem(rule.id, "error", f"unknown vendor {rule.vendor!r}"))
            continue
        if not rule.examples:
            problems.append(Problem(rule.id, "error", "no examples"))
        group = registry.group_of(rule.vendor)
        co_firing: dict[str, int] = {}
        for n, example in enumerate(rule.examples):
            for kind in rule.kinds:
                matches = matcher.match(kind, example)
                own = next((m for m in matches if m.rule.id == rule.id), None)
                if own is None:
                    problems.append(Problem(rule.id, "error", f"example does not match ({kind}): {example!r}"))
                    continue
                if n == 0 and rule.expect:
                    rendered = dict(zip(("product", "version", "device_type"), rule.render(own.groups),
                                        strict=True))
                    for key, want in rule.expect:
                        got = own.groups.get(key, rendered.get(key))
                        if got != want:
                            problems.append(Problem(rule.id, "error", f"{key}: expected {want!r}, got {got!r}"))
                for m in matches:
                    other = m.rule
                    if other.id == rule.id or other.id in rule.overlaps or rule.id in other.overlaps:
                        continue
                    if other.vendor in registry and registry.group_of(other.vendor) != group:
                        problems.append(
                            Problem(rule.id, "error",
                                    f"contradicts {other.id} ({other.vendor}) on example {example!r}")
                        )
                    elif other.confidence > rule.confidence:
                        co_firing[other.id] = co_firing.get(other.id, 0) + 1
        for other_id, count in co_firing.items():
            if count == len(rule.examples) * len(rule.kinds):
                problems.append(
                    Problem(rule.id, "warning", f"shadowed by {other_id} (fires on every example, higher confidence)")
                )
        for counter in rule.counterexamples:
            for kind in rule.kinds:
                if any(m.rule.id == rule.id for m in matcher.match(kind, counter)):
                    problems.append(Problem(rule.id, "error", f"counterexample matches ({kind}): {counter!r}"))
        note = provenance_note(rule)
        if note:
            problems.append(Problem(rule.id, "note", note))
    return problems


def provenance_note(rule: Rule) -> str | None:
    """What is missing from where a rule's examples come from, or None."""
    if rule.invented:
        return f"examples invented, never observed on a device (confidence lowered to {rule.confidence:g})"
    if not rule.observed_in:
        return "no observed_in: where were its examples seen (capture, manual, scan, recog example)?"
    return None


def recog_disagreements(engine: Engine) -> list[Problem]:
    """Where a curated rule and recog's fingerprint name different vendor groups on recog's own example.

    identify keeps the curated answer; these warnings show where recog knows better or worse.
    """
    from vendorscope.identify.recog import observed_value

    if engine.recog is None:
        return []
    problems: list[Problem] = []
    for rule_id, fingerprint in engine.recog.fingerprints.items():
        kind = fingerprint.rule.kinds[0]
        for example in fingerprint.examples:
            value = observed_value(fingerprint, example)
            recog_says = [a for a in engine.recog_attributions(kind, value) if a.rule == rule_id]
            if not recog_says:
                continue
            curated = [m.rule for m in engine.matcher.match(kind, value)]
            groups = {engine.registry.group_of(r.vendor) for r in curated if r.vendor in engine.registry}
            if curated and recog_says[0].group not in groups:
                problems.append(Problem(
                    rule_id, "warning",
                    f"recog ({fingerprint.file} line {fingerprint.line}) says {recog_says[0].vendor_name!r}, "
                    f"{curated[0].id} says {curated[0].vendor!r} on example {value[:120]!r}"))
                break
    return problems
