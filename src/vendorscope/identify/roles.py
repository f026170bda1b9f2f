"""A device's network role from what it says it is: rules in data/roles.toml.

The role decides which requirement reaches a device (Germany's core deadline,
the UK's RAN rules). People say it best (an inventory's role column, an
analyst's annotation); when nobody did, a description such as "5G Unified
Network Controller, AMF/SMF" or a model such as "DS-7608NI-K2" makes it plain.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from vendorscope.model import Role

# Evidence kinds whose values describe what a device is, plus the verdict's product.
PRODUCT_KIND = "product"


@dataclass(frozen=True, slots=True)
class RoleRule:
    id: str
    role: Role
    pattern: re.Pattern[str]
    kinds: frozenset[str]
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class InferredRole:
    """A role read from one value, with the rule and the value that said it."""

    role: Role
    rule: str
    kind: str
    value: str

    @property
    def note(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:59] + "…"
        return f"from {self.kind} {shown!r} (rule {self.rule})"


class RoleRuleError(ValueError):
    """A role rule file that cannot be used, naming the rule."""


def parse_role_rules(text: str, origin: str = "roles.toml") -> tuple[RoleRule, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoleRuleError(f"{origin}: {exc}") from None
    rules = []
    for n, raw in enumerate(data.get("rule", []), 1):
        where = f"{origin}: rule {n} ({raw.get('id', '?')})"
        try:
            rules.append(
                RoleRule(
                    id=str(raw["id"]),
                    role=Role(raw["role"]),
                    pattern=re.compile(raw["pattern"], re.IGNORECASE),
                    kinds=frozenset(raw["kinds"]),
                    examples=tuple(raw["examples"]),
                    counterexamples=tuple(raw.get("counterexamples", ())),
                    source=str(raw["source"]),
                )
            )
        except KeyError as exc:
            raise RoleRuleError(f"{where}: missing field {exc.args[0]}") from None
        except (ValueError, re.error) as exc:
            raise RoleRuleError(f"{where}: {exc}") from None
    return tuple(rules)


@cache
def _kinds_read(rules: tuple[RoleRule, ...]) -> frozenset[str]:
    return frozenset(k for rule in rules for k in rule.kinds)


@cache
def role_rules() -> tuple[RoleRule, ...]:
    text = (resources.files("vendorscope.identify") / "data" / "roles.toml").read_text("utf-8")
    return parse_role_rules(text)


def infer_role(
    described: Iterable[tuple[str, str]], rules: tuple[RoleRule, ...] | None = None
) -> InferredRole | None:
    """The role the first matching rule gives to any ``(kind, value)``; rule order first, then value order."""
    rules = rules if rules is not None else role_rules()
    read = _kinds_read(rules)
    values = list(dict.fromkeys((kind, value) for kind, value in described if value and kind in read))
    if not values:
        return None
    for rule in rules:
        for kind, value in values:
            if kind in rule.kinds and rule.pattern.search(value):
                return InferredRole(rule.role, rule.id, kind, value)
    return None
