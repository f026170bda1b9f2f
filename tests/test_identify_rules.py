"""Every bundled rule proves itself against its own examples."""

from __future__ import annotations

import pytest

from vendorscope.identify.check import check_rules
from vendorscope.identify.engine import Engine
from vendorscope.identify.matcher import ReMatcher
from vendorscope.identify.registry import default_registry
from vendorscope.identify.rules import RuleError, default_rules, parse_rules_file

RULES = default_rules()
RE_MATCHER = ReMatcher(RULES)


def test_enough_rules_across_families() -> None:
    assert len(RULES) >= 300
    families = {r.file for r in RULES}
    assert len(families) >= 10
    kinds = {k for r in RULES for k in r.kinds}
    for kind in ("ssh.banner", "http.server", "http.www_authenticate", "telnet.banner", "ftp.banner",
                 "smtp.banner", "snmp.sysdescr", "lldp.sysdescr", "cdp.platform", "dhcp.vendor_class",
                 "tls.cert.subject", "upnp.manufacturer", "rtsp.server", "onvif.manufacturer",
                 "inventory.manufacturer"):
        assert kind in kinds, kind


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.examples, "a rule without examples cannot land"
    problems = [p for p in check_rules([rule], default_registry(), RE_MATCHER) if p.rule == rule.id]
    errors = [str(p) for p in problems if p.severity == "error"]
    assert not errors, errors


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_fires_through_engine(rule, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    for example in rule.examples:
        found = engine.identify_value(rule.kinds[0], example)
        assert rule.id in {a.rule for a in found}


def test_whole_rule_set_has_no_contradictions() -> None:
    problems = check_rules(list(RULES), default_registry())
    assert [str(p) for p in problems if p.severity == "error"] == []


def test_high_risk_groups_are_covered_by_many_rules() -> None:
    registry = default_registry()
    per_group: dict[str, int] = {}
    for r in RULES:
        g = registry.group_of(r.vendor)
        per_group[g] = per_group.get(g, 0) + 1
    for group in ("huawei", "zte", "hikvision", "dahua", "hytera"):
        assert per_group.get(group, 0) >= 8, (group, per_group.get(group))


@pytest.mark.parametrize(
    "pattern, why",
    [
        (r"(a+)+$", "nested quantifier"),
        (r"(foo)\1", "back-reference"),
        (r"foo(?=bar)", "look-around"),
        (r"(?>foo)", "atomic group"),
    ],
)
def test_unsafe_patterns_are_refused(pattern: str, why: str) -> None:
    text = f"""
[[rule]]
id = "x"
kind = "ssh.banner"
pattern = '{pattern}'
vendor = "huawei"
examples = ["foo"]
"""
    with pytest.raises(RuleError, match=why):
        parse_rules_file(text, "bad.toml")


def test_template_must_name_a_group() -> None:
    text = """
[[rule]]
id = "x"
kind = "ssh.banner"
pattern = 'HUAWEI'
vendor = "huawei"
version = "{version}"
examples = ["HUAWEI"]
"""
    with pytest.raises(RuleError, match="no such group"):
        parse_rules_file(text, "bad.toml")


def test_malformed_toml_names_the_file() -> None:
    with pytest.raises(RuleError, match="broken.toml"):
        parse_rules_file("[[rule]\nid=", "broken.toml")
