"""Weak signals: one hint never makes a verdict; two independent hints that agree do, shown as combined:."""

from __future__ import annotations

from datetime import UTC, datetime

from vendorscope.identify.engine import default_engine
from vendorscope.model import AssetKeys, Observation
from vendorscope.resolve import resolve
from vendorscope.resolve_hints import COMBINED_CEILING, COMBINED_PREFIX

NOW = datetime(2026, 12, 4, tzinfo=UTC)
IP = "192.0.2.10"


def obs(kind: str, value: str, mac: str | None = None) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=NOW, keys=AssetKeys(ip=IP, mac=mac))


def assets_of(*observations: Observation):  # type: ignore[no-untyped-def]
    return resolve(list(observations), default_engine().identify)


def test_one_hint_alone_is_no_verdict_but_stays_for_review() -> None:
    [asset] = assets_of(obs("snmp.syslocation", "Beijing China"))
    assert asset.verdict.vendor is None
    assert [a.vendor for a in asset.attributions] == ["huawei"]  # kept, visible for review


def test_two_independent_hints_that_agree_make_a_verdict() -> None:
    huawei_mac = "00:e0:fc:12:34:56"
    [asset] = assets_of(obs("snmp.syslocation", "Beijing China", huawei_mac), obs("mac", huawei_mac, huawei_mac))
    assert asset.verdict.group == "huawei"
    combined = [a for a in asset.attributions if a.rule.startswith(COMBINED_PREFIX)]
    assert len(combined) == 1 and "snmp.syslocation.huawei_vrp_default" in combined[0].rule
    assert combined[0].observation is None and not combined[0].component
    assert 0.6 < asset.verdict.confidence <= COMBINED_CEILING


def test_hints_that_disagree_combine_nothing() -> None:
    hik_mac = "4c:bd:8f:00:00:01"
    [asset] = assets_of(obs("snmp.syslocation", "Beijing China", hik_mac), obs("mac", hik_mac, hik_mac))
    # A Huawei hint and a Hikvision OUI: no agreement, no combination; the hint never decides,
    # the OUI decides as it did before hints existed.
    assert not any(a.rule.startswith(COMBINED_PREFIX) for a in asset.attributions)
    assert asset.verdict.group == "hikvision"
    [alone] = assets_of(obs("mac", hik_mac, hik_mac))
    assert alone.verdict == asset.verdict


def test_a_fingerprint_still_decides_beside_a_hint() -> None:
    [asset] = assets_of(obs("snmp.syslocation", "Beijing China"), obs("ssh.banner", "SSH-2.0-HUAWEI-1.5"))
    assert asset.verdict.group == "huawei"
    [other] = assets_of(obs("snmp.syslocation", "Beijing China"),
                        obs("http.body", "vendor=Dahua\ndeviceType=31\n"))
    assert other.verdict.group == "dahua"  # the hint never outvotes a fingerprint


def test_a_reused_enterprise_arc_never_decides_alone() -> None:
    # 1.3.6.1.4.1.2011.10: the Huawei-3Com arc H3C devices of that era still answer under.
    [reused] = assets_of(obs("snmp.sysobjectid", "1.3.6.1.4.1.2011.10.1.43"))
    assert reused.verdict.vendor is None and {a.vendor for a in reused.attributions} == {"huawei"}
    [own] = assets_of(obs("snmp.sysobjectid", "1.3.6.1.4.1.2011.2.23.631"))
    assert own.verdict.group == "huawei"
