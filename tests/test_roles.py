"""Network roles from descriptions and models: every rule proved by its examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendorscope.identify.roles import RoleRuleError, infer_role, parse_role_rules, role_rules
from vendorscope.model import Role

RULES = role_rules()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_each_example_gets_its_rules_role(rule) -> None:  # type: ignore[no-untyped-def]
    kind = sorted(rule.kinds)[0]
    for example in rule.examples:
        inferred = infer_role([(kind, example)])
        assert inferred is not None and (inferred.role, inferred.rule) == (rule.role, rule.id), example
    for counter in rule.counterexamples:
        assert not rule.pattern.search(counter), counter


def test_the_demo_5g_core_is_core_and_an_olt_has_no_role() -> None:
    unc = infer_role([("snmp.sysdescr", "Huawei UNC 20.9.2 CloudCore (5G Unified Network Controller, AMF/SMF)")])
    assert unc is not None and unc.role is Role.core
    assert "snmp.sysdescr" in unc.note and "role.core" in unc.note
    assert infer_role([("inventory.model", "MA5800-X17 OLT")]) is None


def test_a_kind_the_rule_does_not_read_is_ignored() -> None:
    assert infer_role([("ssh.banner", "SSH-2.0-AMF")]) is None
    assert infer_role([]) is None


def test_broken_rule_files_name_the_rule() -> None:
    with pytest.raises(RoleRuleError, match=r"rule 1 \(x\): missing field pattern"):
        parse_role_rules('[[rule]]\nid = "x"\nrole = "core"\n')
    with pytest.raises(RoleRuleError, match="rule 1"):
        parse_role_rules('[[rule]]\nid="x"\nrole="nope"\npattern="a"\nkinds=[]\nexamples=[]\nsource=""\n')
    with pytest.raises(RoleRuleError, match="roles.toml"):
        parse_role_rules("[[rule")


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_role_or_none(text: str) -> None:
    result = infer_role([("snmp.sysdescr", text), ("inventory.model", text)])
    assert result is None or isinstance(result.role, Role)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_patterns_compile_in_re2(rule) -> None:  # type: ignore[no-untyped-def]
    """Descriptions are attacker-controlled: patterns must be linear-time (RE2) too."""
    re2 = pytest.importorskip("re2")
    assert re2.compile(rule.pattern.pattern).search(rule.examples[0])


def test_a_probed_5g_core_without_a_role_column_falls_under_germanys_core_rule() -> None:
    """The demo's UNC says "5G Unified Network Controller, AMF/SMF": core, so core-2026 applies, not review."""
    from datetime import date

    from vendorscope.judge.evaluate import evaluate
    from vendorscope.judge.packs import load_packs
    from vendorscope.model import Asset, AssetKeys, Attribution, Observation, Status, Verdict

    descr = Observation(kind="snmp.sysdescr", source="probe", keys=AssetKeys(ip="192.0.2.9"),
                        value="Huawei UNC 20.9.2 CloudCore (5G Unified Network Controller, AMF/SMF)")
    asset = Asset(
        id="ip:192.0.2.9", keys={"ip": {"192.0.2.9"}}, observations=[descr],
        attributions=[Attribution("huawei", "Huawei", "huawei", 0.9, "snmp.huawei.test", observation=descr)],
        verdict=Verdict("huawei", "Huawei", "huawei", 0.9, product="UNC"),
    )
    pack = next(p for p in load_packs() if p.id == "de-5g-2024")
    found = {f.requirement: f for f in evaluate([asset], [pack], date(2026, 12, 4))}
    core = found["core-2026"]
    assert core.status is Status.must_remove and core.deadline == date(2026, 12, 31)
    assert "role.core.5gc-functions" in core.reason
