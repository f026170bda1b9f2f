"""Cited weak signals (issue 18, sections 3/4): real SSDP answers of Dahua devices, H3C Comware factory
defaults, a Huawei VRP chassis row and a Huawei SSH key-exchange offer, read through the real parsers
(capture, probe of the lab) and judged by the rules; one hint alone stays a review, two agreeing hints
combine (resolve_hints).

Every value below is the one a public source recorded from a real device (the rule files cite them):
- SSDP: home-assistant/core issue #46822, turns 5 and 7 (Dahua devices 1L047ACPAW00037, 3K058D5PAG00056);
- H3C: OpenDocCN/netkiller-tut-zh docs/net/net_06.md (S3600-28P-SI walk) and
  84634E1A607A/Blog source/_posts/DecodingH3COSPFMIB.md (S12508X-AF walk);
- ENTITY-MIB: LibreNMS tests/snmpsim/vrp_5720.snmprec (S5720 chassis row 67108867);
- KEX: mscdex/ssh2 issue #904 (Huawei NE20 remote kex and host-key lists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import scapy.all as s
from lab_fixture import lab_fixture
from probe_servers import ssh_kexinit_packet
from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING

from vendorscope.collect.pcap import read_observations
from vendorscope.collect.probe.audit import AuditLog
from vendorscope.collect.probe.runner import run_probe
from vendorscope.collect.probe.scope import load_scope
from vendorscope.evidence import snmp, ssh
from vendorscope.evidence.kinds import is_hint_value
from vendorscope.identify.engine import default_engine
from vendorscope.lab import Lab
from vendorscope.model import AssetKeys, Observation
from vendorscope.resolve import resolve
from vendorscope.resolve_hints import COMBINED_CEILING, COMBINED_PREFIX

lab = lab_fixture()
NOW = datetime(2026, 12, 5, tzinfo=UTC)
IP = "192.0.2.20"
DAHUA_MAC = "3c:ef:8c:00:00:20"  # IEEE MA-L of Zhejiang Dahua (the lab's Dahua profiles use it too)
H3C_MAC = "00:0f:e2:00:00:20"    # IEEE MA-L of Hangzhou H3C
HUAWEI_MAC = "00:e0:fc:00:00:20"

# The two answers of the Dahua device at 192.168.1.20 (turn 5), headers in the order the log shows them.
DAHUA_ROOT = (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: Wed, 24 Feb 2021 02:58:42 GMT\r\nEXT:\r\n"
              b"X-User-Agent: redsonic\r\nLOCATION: http://192.168.1.20:49152/upnp_device_desc.xml\r\n"
              b"SERVER: Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK\r\n"
              b"ST: uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037\r\n"
              b"USN: uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037\r\n\r\n")
DAHUA_TYPE = (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: Wed, 24 Feb 2021 02:58:42 GMT\r\nEXT:\r\n"
              b"X-User-Agent: redsonic\r\nLOCATION: http://192.168.1.20:49152/upnp_device_desc.xml\r\n"
              b"SERVER: Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK\r\n"
              b"ST: urn:schemas-upnp-org:device:3.0-1L047ACPAW00037\r\n"
              b"USN: uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037::"
              b"urn:schemas-upnp-org:device:3.0-1L047ACPAW00037\r\n\r\n")


def obs(kind: str, value: str, mac: str | None = None) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=NOW, keys=AssetKeys(ip=IP, mac=mac))


def assets_of(*observations: Observation):  # type: ignore[no-untyped-def]
    return resolve(list(observations), default_engine().identify)


def combined(asset: Any) -> list[Any]:
    return [a for a in asset.attributions if a.rule.startswith(COMBINED_PREFIX)]


# ------------------------------------------------------------------ SSDP (Dahua's UPnP SDK)

def test_capture_of_the_dahua_ssdp_answers(tmp_path: Path) -> None:
    frames = [s.Ether(src=DAHUA_MAC, dst="02:00:00:00:00:01") / s.IP(src="192.0.2.20", dst="192.0.2.1")
              / s.UDP(sport=1900, dport=55927) / s.Raw(load=answer) for answer in (DAHUA_ROOT, DAHUA_TYPE)]
    pcap = tmp_path / "ssdp.pcap"
    s.wrpcap(str(pcap), frames)
    seen = {(o.kind, o.value) for o in read_observations(pcap)}
    assert ("upnp.server", "Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK") in seen
    assert ("ssdp.usn", "uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037") in seen
    assert ("ssdp.st", "urn:schemas-upnp-org:device:3.0-1L047ACPAW00037") in seen
    assert ("ssdp.user_agent", "redsonic") in seen
    # an ST that is the device's own uuid says nothing more than the USN: not kept as a device type
    assert not any(k == "ssdp.st" and v.startswith("uuid:") for k, v in seen)
    [asset] = resolve([o for o in read_observations(pcap) if o.keys.ip == "192.0.2.20"], default_engine().identify)
    assert asset.verdict.group == "dahua"
    rules = {a.rule for a in asset.attributions}
    assert {"upnp.dahua.sdk-server", "ssdp.dahua.usn", "ssdp.dahua.serial-device-type"} <= rules


def test_the_generic_sdk_and_redsonic_name_no_one() -> None:
    engine = default_engine()
    # The second Dahua device (3K058D5PAG00056) answered with a generic SERVER; the Portable SDK's
    # X-User-Agent appears on other makers' answers in the same log (a Sony Android TV).
    assert not engine.identify_value("upnp.server", "Linux, UPnP/1.0, Private Upnp SDK")
    assert not engine.identify_value("ssdp.user_agent", "redsonic")
    assert not engine.identify_value("ssdp.st", "urn:schemas-upnp-org:service:Dummy:1")
    [by_usn] = assets_of(obs("ssdp.usn", "uuid:www.dahuatech.com.device_3_0-3K058D5PAG00056::"
                                         "urn:schemas-upnp-org:service:Dummy:1"))
    assert by_usn.verdict.group == "dahua"  # the maker's domain decides


def test_the_serial_device_type_alone_is_a_review() -> None:
    value = "urn:schemas-upnp-org:device:3.0-3K058D5PAG00056"
    assert is_hint_value("ssdp.st", value)
    [asset] = assets_of(obs("ssdp.st", value), obs("upnp.server", "Linux, UPnP/1.0, Private Upnp SDK"))
    assert asset.verdict.vendor is None
    assert [a.vendor for a in asset.attributions] == ["dahua"]  # kept for review


def test_the_serial_device_type_and_a_dahua_oui_combine() -> None:
    [asset] = assets_of(obs("ssdp.st", "urn:schemas-upnp-org:device:3.0-3K058D5PAG00056", DAHUA_MAC),
                        obs("mac", DAHUA_MAC, DAHUA_MAC))
    assert asset.verdict.group == "dahua"
    [combo] = combined(asset)
    assert "ssdp.dahua.serial-device-type" in combo.rule
    assert 0.6 < combo.confidence <= COMBINED_CEILING


# ------------------------------------------------------------------ SNMP factory defaults (H3C Comware)

def _response(pairs: list[tuple[str, bytes]]) -> bytes:
    return bytes(s.SNMP(community="public", PDU=s.SNMPresponse(varbindlist=[
        s.SNMPvarbind(oid=ASN1_OID(oid), value=ASN1_STRING(value)) for oid, value in pairs])))


def test_capture_of_the_h3c_system_group() -> None:
    facts = snmp.decode_snmp(_response([
        ("1.3.6.1.2.1.1.4.0", b"Hangzhou H3C Technologies Co., Ltd."),
        ("1.3.6.1.2.1.1.5.0", b"H3C"),
        ("1.3.6.1.2.1.1.6.0", b"Hangzhou China"),
    ]))
    got = {f.kind: f.value for f in facts}
    assert got["snmp.syscontact"] == "Hangzhou H3C Technologies Co., Ltd."
    assert got["snmp.syslocation"] == "Hangzhou China"
    engine = default_engine()
    for kind, value in got.items():
        assert {a.vendor for a in engine.identify_value(kind, value)} == {"h3c"}, kind


def test_the_h3c_location_alone_is_a_review_and_combines_with_an_h3c_oui() -> None:
    [alone] = assets_of(obs("snmp.syslocation", "Hangzhou, China"))
    assert alone.verdict.vendor is None and [a.vendor for a in alone.attributions] == ["h3c"]
    [both] = assets_of(obs("snmp.syslocation", "Hangzhou, China", H3C_MAC), obs("mac", H3C_MAC, H3C_MAC))
    assert both.verdict.group == "h3c"
    [combo] = combined(both)
    assert "snmp.syslocation.h3c_default" in combo.rule
    # a Dahua camera in Hangzhou: the location agrees with no one, the OUI decides as before
    [dahua] = assets_of(obs("snmp.syslocation", "Hangzhou, China", DAHUA_MAC), obs("mac", DAHUA_MAC, DAHUA_MAC))
    assert dahua.verdict.group == "dahua" and not combined(dahua)


def test_the_h3c_contact_decides() -> None:
    [asset] = assets_of(obs("snmp.syscontact", "New H3C Technologies Co., Ltd."))
    assert asset.verdict.group == "h3c"
    assert not default_engine().identify_value("snmp.syscontact", "New H3C Technologies Co., Ltd. / NOC desk")


# ------------------------------------------------------------------ ENTITY-MIB chassis row (Huawei VRP)

def test_capture_of_a_real_vrp_chassis_row() -> None:
    entity = "1.3.6.1.2.1.47.1.1.1.1"
    facts = snmp.decode_snmp(_response([
        (f"{entity}.12.67108867", b"Huawei"),
        (f"{entity}.13.67108867", b""),  # the S5720 leaves entPhysicalModelName empty
    ]))
    assert [(f.kind, f.value) for f in facts] == [("snmp.entity.mfg_name", "Huawei")]
    assert {a.vendor for a in default_engine().identify_value("snmp.entity.mfg_name", "Huawei")} == {"huawei"}


@pytest.fixture(scope="module")
def probed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("weak-signals")
    scope = load_scope(lab.write_scope(tmp / "scope.toml"))
    targets = [d.ip for d in lab.devices if d.profile == "huawei-s5735"]
    assert targets
    with AuditLog.open(tmp / "audit.jsonl") as log:
        report = run_probe(scope, scope.expand(targets), log)
    out: dict[str, dict[str, str]] = {}
    for o in report.observations:
        out.setdefault(o.keys.ip or "", {})[o.kind] = o.value
        if o.kind == "snmp.entity.mfg_name":
            out[o.keys.ip or ""]["entity_index"] = str(o.context.get("entity_index"))
    return out


def test_probe_of_the_lab_switch_reads_the_recorded_chassis_names(probed: dict[str, dict[str, str]]) -> None:
    [seen] = probed.values()
    assert seen["snmp.entity.mfg_name"] == "Huawei"
    assert seen["entity_index"] == "67108867"  # found by walking entPhysicalClass, as on the real S5720
    assert "snmp.entity.model_name" not in seen  # empty, as on the recorded S5720
    [asset] = resolve([obs("snmp.entity.mfg_name", seen["snmp.entity.mfg_name"])], default_engine().identify)
    assert asset.verdict.group == "huawei"


# ------------------------------------------------------------------ SSH key exchange (Huawei VRP)

NE20_KEX = ("diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,"
            "diffie-hellman-group-exchange-sha1,sm2kep-sha2-nistp256")
NE20_HOSTKEYS = "ssh-dss,ssh-rsa,ecdsa-sha2-nistp521"


def test_the_sm2_key_exchange_offer_is_a_huawei_hint() -> None:
    # The NE20's kex and host-key lists as published; its cipher, MAC and compression lists were not,
    # so these four are placeholders (the rule reads the kex list only).
    lists = [NE20_KEX, NE20_HOSTKEYS, "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256",
             "none", "none", "", ""]
    found = {e.kind: e.value for e in ssh.ssh_evidence(b"SSH-1.99--\r\n" + ssh_kexinit_packet(lists))}
    assert found["ssh.kex"].startswith(f"{NE20_KEX};{NE20_HOSTKEYS};")
    [hint] = default_engine().identify_value("ssh.kex", found["ssh.kex"])
    assert hint.vendor == "huawei" and hint.confidence < 0.5
    [alone] = assets_of(obs("ssh.kex", found["ssh.kex"]))
    assert alone.verdict.vendor is None and [a.vendor for a in alone.attributions] == ["huawei"]
    [two] = assets_of(obs("ssh.kex", found["ssh.kex"]), obs("snmp.syslocation", "Beijing China"))
    assert two.verdict.group == "huawei"
    [combo] = combined(two)
    assert combo.rule == f"{COMBINED_PREFIX}snmp.syslocation.huawei_vrp_default+ssh.kex.huawei.sm2kep"
    [with_oui] = assets_of(obs("ssh.kex", found["ssh.kex"], HUAWEI_MAC), obs("mac", HUAWEI_MAC, HUAWEI_MAC))
    assert with_oui.verdict.group == "huawei" and combined(with_oui)


def test_an_openssh_offer_names_no_one() -> None:
    lists = ["curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256", "rsa-sha2-512,ssh-ed25519",
             "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""]
    found = {e.kind: e.value for e in ssh.ssh_evidence(b"SSH-2.0-OpenSSH_9.6\r\n" + ssh_kexinit_packet(lists))}
    assert not default_engine().identify_value("ssh.kex", found["ssh.kex"])


@pytest.mark.parametrize(("walk", "want"), [
    ([("1.3.6.1.2.1.47.1.1.1.1.5.67108867", 3), ("1.3.6.1.2.1.47.1.1.1.1.5.67108869", 9)], 67108867),
    ([(".1.3.6.1.2.1.47.1.1.1.1.5.1", 11), ("1.3.6.1.2.1.47.1.1.1.1.5.2", 3)], 2),  # a stack first
    ([("1.3.6.1.2.1.47.1.1.1.1.5.1", 9)], None),
    ([("1.3.6.1.2.1.47.1.1.1.1.50.1", 3), ("1.3.6.1.2.1.47.1.1.1.1.5.x", 3)], None),  # not the class column
    ([("1.3.6.1.2.1.47.1.1.1.1.5.7", b"3")], None),  # not an integer
])
def test_chassis_row_is_the_first_of_class_chassis(walk: list[tuple[str, object]], want: int | None) -> None:
    assert snmp.chassis_row(walk) == want
    asked = snmp.inventory_oids(want or snmp.CHASSIS_INDEX)
    assert f"1.3.6.1.2.1.47.1.1.1.1.12.{want or 1}" in asked
