"""SNMP factory defaults and private model/firmware OIDs: the Dahua systemInfo group (DAHUA-SNMP-MIB), read
from a capture, from the lab by the probe, and named by the rules; a reused enterprise arc stays a hint.

Values are those of LibreNMS tests/snmpsim/dahua-nvr.snmprec (a real Dahua NVR recording)."""

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
from vendorscope.evidence.kinds import is_hint_value, registry
from vendorscope.identify.engine import default_engine
from vendorscope.lab import Lab

lab = lab_fixture()
DAHUA_MODEL = "1.3.6.1.4.1.1004849.2.1.2.6.0"
DAHUA_FIRMWARE = "1.3.6.1.4.1.1004849.2.1.1.1.0"
DAHUA_SERIAL = "1.3.6.1.4.1.1004849.2.1.2.4.0"


def _response(pairs: list[tuple[str, bytes]]) -> bytes:
    return bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID(oid), value=ASN1_STRING(value)) for oid, value in pairs])))


def test_capture_of_the_dahua_system_info() -> None:
    facts = snmp.decode_snmp(_response([
        (DAHUA_FIRMWARE, b"3.212.0000.1"),
        (DAHUA_SERIAL, b"2M00D2APAZTL62J"),  # not read: a serial is no model
        (DAHUA_MODEL, b"DH-NVR4108HS-8P-4KS2"),
    ]))
    assert {f.kind: f.value for f in facts} == {
        "snmp.private_model": "1004849:DH-NVR4108HS-8P-4KS2", "snmp.private_firmware": "1004849:3.212.0000.1"}
    assert all(f.kind in registry() for f in facts)


def test_the_probe_asks_the_private_oids() -> None:
    asked = snmp.inventory_oids()
    assert DAHUA_MODEL in asked and DAHUA_FIRMWARE in asked and "1.3.6.1.4.1.39165.1.1.0" in asked
    assert DAHUA_SERIAL not in asked


@pytest.mark.parametrize("value,vendor,product", [
    ("1004849:DH-NVR4108HS-8P-4KS2", "dahua", "DH-NVR4108HS-8P-4KS2"),
    ("39165:DS-7608NI-K2", "hikvision", "DS-7608NI-K2"),
])
def test_private_models_name_the_maker(value: str, vendor: str, product: str) -> None:
    found = default_engine().identify_value("snmp.private_model", value)
    assert {(a.vendor, a.product) for a in found} == {(vendor, product)}


@pytest.mark.parametrize("value", ["10048490:DH-NVR4108HS-8P-4KS2", "2011:DH-NVR4108HS-8P-4KS2", "1004849:"])
def test_another_arc_names_no_one(value: str) -> None:
    assert not default_engine().identify_value("snmp.private_model", value)


def test_firmware_is_a_label_not_a_verdict() -> None:
    assert not default_engine().identify_value("snmp.private_firmware", "1004849:3.212.0000.1")


def test_factory_default_contact_and_location() -> None:
    engine = default_engine()
    assert {a.vendor for a in engine.identify_value("snmp.syscontact", "R&D Beijing, Huawei Technologies co.,Ltd.")} \
        == {"huawei"}
    # Dahua's recorded sysContact/sysLocation ('Unknown' in librenms/librenms issue #8126) name no one.
    assert not engine.identify_value("snmp.syscontact", "Unknown")
    assert not engine.identify_value("snmp.syslocation", "Unknown")


def test_reused_arcs_are_hints_and_own_arcs_are_not() -> None:
    # Enforced in resolve: tests/test_resolve_hints.py::test_a_reused_enterprise_arc_never_decides_alone.
    assert is_hint_value("snmp.sysobjectid", "1.3.6.1.4.1.2011.10.1.43")
    assert is_hint_value("snmp.sysobjectid", "1.3.6.1.4.1.4413.1.2.2")
    assert not is_hint_value("snmp.sysobjectid", "1.3.6.1.4.1.1004849.3.2.10")


@pytest.fixture(scope="module")
def probed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("snmp-defaults")
    scope = load_scope(lab.write_scope(tmp / "scope.toml"))
    targets = [d.ip for d in lab.devices if d.profile == "dahua-nvr"]
    assert targets
    with AuditLog.open(tmp / "audit.jsonl") as log:
        report = run_probe(scope, scope.expand(targets), log)
    return {"report": report, "audit": (tmp / "audit.jsonl").read_text()}


def test_probe_reads_the_dahua_private_oids_from_the_lab(probed: dict[str, Any]) -> None:
    got = {o.kind: o.value for o in probed["report"].observations if o.kind.startswith("snmp.private_")}
    assert got == {"snmp.private_model": "1004849:DH-NVR4108HS-8P-4KS2",
                   "snmp.private_firmware": "1004849:3.212.0000.1"}
    # read-only: every SNMP request in the audit log is a get or a walk
    snmp_requests = [line for line in probed["audit"].splitlines() if '"snmp.' in line]
    assert snmp_requests and all('"snmp.get' in line or '"snmp.walk' in line for line in snmp_requests)
