"""SNMP beyond sysDescr: contact, location, the ENTITY-MIB chassis row and private model OIDs, from a capture
(scapy-built responses) and from the probe of the lab's agents; the rules over them."""

from __future__ import annotations

from typing import Any

import pytest
import scapy.all as s
from lab_fixture import lab_fixture
from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING

from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import load_scope
from vendorscope.evidence import snmp
from vendorscope.evidence.kinds import registry
from vendorscope.identify.engine import default_engine
from vendorscope.lab import Lab

lab = lab_fixture()
ENTITY = "1.3.6.1.2.1.47.1.1.1.1"


def _response(pairs: list[tuple[str, bytes]]) -> bytes:
    return bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID(oid), value=ASN1_STRING(value)) for oid, value in pairs])))


def test_capture_of_an_inventory_answer() -> None:
    facts = snmp.decode_snmp(_response([
        ("1.3.6.1.2.1.1.4.0", b"R&D Beijing, Huawei Technologies co.,Ltd."),
        ("1.3.6.1.2.1.1.6.0", b"Beijing China"),
        (f"{ENTITY}.12.67108867", b"Huawei Technologies Co., Ltd."),
        (f"{ENTITY}.13.67108867", b"NE40E-X2-M8A"),
        (f"{ENTITY}.10.67108867", b"V800R011C00SPC607B607"),
        (f"{ENTITY}.11.67108867", b"2102113347P0M1000321"),
        (f"{ENTITY}.7.67108867", b"ignored column"),
        ("1.3.6.1.4.1.39165.1.1.0", b"DS-7608NI-K2"),
    ]))
    got = {f.kind: f.value for f in facts}
    assert got == {
        "snmp.syscontact": "R&D Beijing, Huawei Technologies co.,Ltd.", "snmp.syslocation": "Beijing China",
        "snmp.entity.mfg_name": "Huawei Technologies Co., Ltd.", "snmp.entity.model_name": "NE40E-X2-M8A",
        "snmp.entity.software_rev": "V800R011C00SPC607B607", "snmp.entity.serial": "2102113347P0M1000321",
        "snmp.private_model": "39165:DS-7608NI-K2"}
    assert all(f.kind in registry() for f in facts)


@pytest.mark.parametrize("kind,value,vendor", [
    ("snmp.syscontact", "R&D Beijing, Huawei Technologies co.,Ltd.", "huawei"),
    ("snmp.entity.mfg_name", "Huawei Technologies Co., Ltd.", "huawei"),
    ("snmp.private_model", "39165:DS-7608NI-K2", "hikvision"),
])
def test_rules_name_the_maker(kind: str, value: str, vendor: str) -> None:
    assert vendor in {a.vendor for a in default_engine().identify_value(kind, value)}


def test_default_location_is_a_weak_hint() -> None:
    assert registry()["snmp.syslocation"].hint
    found = default_engine().identify_value("snmp.syslocation", "Beijing China")
    assert found and max(a.confidence for a in found) < 0.5
    assert not default_engine().identify_value("snmp.syscontact", "noc@example.net")


@pytest.fixture(scope="module")
def probed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("snmp-inventory")
    scope = load_scope(lab.write_scope(tmp / "scope.toml"))
    targets = [d.ip for d in lab.devices if d.profile in ("huawei-ne40e", "huawei-ar6120", "hikvision-nvr")]
    with AuditLog.open(tmp / "audit.jsonl") as log:
        report = run_probe(scope, scope.expand(targets), log)
    return {"report": report}


def test_probe_reads_inventory_from_the_lab(lab: Lab, probed: dict[str, Any]) -> None:
    by_profile: dict[str, dict[str, str]] = {}
    ip_profile = {d.ip: d.profile for d in lab.devices}
    for o in probed["report"].observations:
        if o.kind.startswith(("snmp.syscontact", "snmp.syslocation", "snmp.entity.", "snmp.private_model")):
            by_profile.setdefault(ip_profile[o.keys.ip], {})[o.kind] = o.value
    assert by_profile["huawei-ne40e"]["snmp.syscontact"] == "R&D Beijing, Huawei Technologies co.,Ltd."
    assert by_profile["huawei-ne40e"]["snmp.syslocation"] == "Beijing China"
    assert by_profile["huawei-ar6120"]["snmp.entity.mfg_name"] == "Huawei Technologies Co., Ltd."
    assert by_profile["huawei-ar6120"]["snmp.entity.model_name"] == "AR6120"
    assert by_profile["hikvision-nvr"]["snmp.private_model"] == "39165:DS-7608NI-K2"
