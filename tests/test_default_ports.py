"""A vendor's default service port open (37777 Dahua DVRIP, 37215 Huawei HG UPnP): a weak hint that
never decides alone and makes a verdict with another independent hint, shown as combined:."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from probe_servers import ServerThread, loopback, silent

from vendorscope.collect.probe.audit import MemoryAudit
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import parse_scope
from vendorscope.evidence.kinds import is_hint_value
from vendorscope.identify.engine import default_engine
from vendorscope.model import AssetKeys, Observation
from vendorscope.resolve import resolve
from vendorscope.resolve_hints import COMBINED_CEILING, COMBINED_PREFIX

NOW = datetime(2026, 12, 4, tzinfo=UTC)
IP = "192.0.2.10"
DAHUA_MAC = "3c:ef:8c:00:00:01"
HUAWEI_MAC = "00:e0:fc:12:34:56"
OCTET = 120
HOST = loopback(OCTET, 0, 1)


def obs(kind: str, value: str, mac: str | None = None) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=NOW, keys=AssetKeys(ip=IP, mac=mac))


def assets_of(*observations: Observation):  # type: ignore[no-untyped-def]
    return resolve(list(observations), default_engine().identify)


def test_only_the_vendor_ports_are_hints() -> None:
    assert is_hint_value("tcp.open", "37777") and is_hint_value("tcp.open", "37215")
    assert not any(is_hint_value("tcp.open", p) for p in ("22", "554", "3777", "37778", "8080"))


@pytest.mark.parametrize("port, group", [("37777", "dahua"), ("37215", "huawei")])
def test_a_port_alone_is_review_never_a_verdict(port: str, group: str) -> None:
    [asset] = assets_of(obs("tcp.open", port), obs("tcp.open", "80"))
    assert asset.verdict.vendor is None
    assert {a.group for a in asset.attributions} == {group}  # kept for review


@pytest.mark.parametrize("port, mac, group, rule", [
    ("37777", DAHUA_MAC, "dahua", "port.dahua.dvrip_37777"),
    ("37215", HUAWEI_MAC, "huawei", "port.huawei.hg_upnp_37215"),
])
def test_port_and_oui_agree_make_a_combined_verdict(port: str, mac: str, group: str, rule: str) -> None:
    [asset] = assets_of(obs("tcp.open", port, mac), obs("mac", mac, mac))
    assert asset.verdict.group == group
    [combined] = [a for a in asset.attributions if a.rule.startswith(COMBINED_PREFIX)]
    assert rule in combined.rule and combined.observation is None
    assert asset.verdict.confidence <= COMBINED_CEILING


def test_two_hints_of_different_kinds_combine_and_disagreeing_ones_do_not() -> None:
    [asset] = assets_of(obs("tcp.open", "37215"), obs("snmp.syslocation", "Beijing China"))
    assert asset.verdict.group == "huawei"
    assert any(a.rule.startswith(COMBINED_PREFIX) for a in asset.attributions)
    [mixed] = assets_of(obs("tcp.open", "37777"), obs("snmp.syslocation", "Beijing China"))
    assert mixed.verdict.vendor is None  # a Dahua port and a Huawei hint: nothing agrees


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    t = ServerThread()
    try:
        t.tcp(HOST, 37777, silent)
        yield t
    finally:
        t.stop()


def test_probe_reports_the_open_port_as_a_hint(server: ServerThread) -> None:
    scope = parse_scope(f"""
[scope]
allow = ["{HOST}/32"]
ports = [37777]
timeout = 1.0
banner_wait = 0.2
""", "ports.toml")
    report = run_probe(scope, [HOST], MemoryAudit())
    assert ("tcp.open", "37777") in {(o.kind, o.value) for o in report.observations}
    [asset] = [a for a in resolve(report.observations, default_engine().identify) if HOST in a.keys.get("ip", ())]
    assert asset.verdict.vendor is None and {a.group for a in asset.attributions} == {"dahua"}
