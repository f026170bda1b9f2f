"""SBOM import: CycloneDX JSON/XML 1.4–1.6 and SPDX 2.3, validated against their schemas first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vendorscope.collect.imports import sbom as S
from vendorscope.collect.imports.common import Collector, StrictAbort
from vendorscope.model import Observation
from vendorscope.pipeline import to_assets

FIXTURES = Path(__file__).parent / "fixtures" / "sbom"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
CYCLONEDX = {
    "ipc-hbom-1.6.cdx.json": (1, 6),
    "nvr-1.4.cdx.json": (1, 4),
    "olt-1.5.cdx.xml": (1, 5),
    "switch-1.6.cdx.xml": (1, 6),
}


def read(data: bytes, name: str = "bom.json", strict: bool = False) -> tuple[list[Observation], Collector]:
    collector = Collector(strict=strict)
    return list(S.read_sbom(data, name, f"import:sbom:{name}", collector, NOW)), collector


@pytest.mark.parametrize("name", sorted(CYCLONEDX))
def test_cyclonedx_fixtures_are_schema_valid(name: str) -> None:
    from cyclonedx.schema import SchemaVersion

    version = SchemaVersion.from_version(".".join(map(str, CYCLONEDX[name])))
    text = (FIXTURES / name).read_text("utf-8")
    if name.endswith(".json"):
        from cyclonedx.validation.json import JsonStrictValidator

        assert JsonStrictValidator(version).validate_str(text) is None
    else:
        pytest.importorskip("lxml")
        from cyclonedx.validation.xml import XmlValidator

        assert XmlValidator(version).validate_str(text) is None


def test_spdx_fixture_is_valid() -> None:
    pytest.importorskip("spdx_tools")
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_file(str(FIXTURES / "radio-fw.spdx.json"))
    assert validate_full_spdx_document(document) == []


def _one_asset(name: str) -> tuple[list[Observation], Collector]:
    observations, collector = read((FIXTURES / name).read_bytes(), name)
    assert collector.bad_count == 0
    assert len(to_assets(observations)) == 1, "an SBOM describes one product"
    return observations, collector


def test_camera_hbom_1_6() -> None:
    observations, collector = _one_asset("ipc-hbom-1.6.cdx.json")
    assert collector.records == 7  # the camera and its six parts
    [asset] = to_assets(observations)
    assert asset.verdict.group == "hikvision"
    assert asset.keys["serial"] == {"DS-2CD2143G2-I20230415AAWRJ12345678"}
    assert asset.keys["mac"] == {"4c:bd:8f:12:34:56"} and asset.keys["ip"] == {"10.20.30.41"}
    got = {(o.kind, o.value) for o in observations}
    assert ("sbom.manufacturer", "Hangzhou Hikvision Digital Technology Co., Ltd.") in got
    assert ("cpe", "cpe:2.3:h:hikvision:ds-2cd2143g2-i:-:*:*:*:*:*:*:*") in got
    assert ("sbom.supplier", "Acme Security Integrators GmbH") in got  # metadata.supplier
    # the SoC is a part: its maker is shown, weaker than the camera's own maker
    soc = next(o for o in observations if o.value == "HiSilicon Technologies Co., Ltd.")
    assert soc.kind == "sbom.supplier" and soc.context["role"] == "part" and soc.context["component"] == "Hi3516DV300"
    assert any(a.vendor == "hisilicon" for a in asset.attributions)
    assert ("sbom.component", "Linux kernel 4.9.37") in got
    assert not any(k == "sbom.component" and v.startswith("openssl") for k, v in got)  # libraries stay quiet
    assert all(o.seen_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC) for o in observations)
    assert observations[0].context["format"] == "CycloneDX 1.6"


def test_nvr_1_4_supplier_and_purl() -> None:
    observations, _ = _one_asset("nvr-1.4.cdx.json")
    [asset] = to_assets(observations)
    assert asset.verdict.group == "dahua"
    assert ("sbom.supplier", "dahua") in {(o.kind, o.value) for o in observations}  # pkg:generic/dahua/...
    assert asset.id == "asset_tag:urn:uuid:0d7c1b53-96a2-4b8c-8a0e-1f4d2b7e6c55#nvr"


def test_olt_1_5_xml_with_metadata_manufacture() -> None:
    observations, collector = _one_asset("olt-1.5.cdx.xml")
    assert collector.records == 5
    [asset] = to_assets(observations)
    assert asset.verdict.group == "huawei"
    assert asset.keys["hostname"] == {"olt-ma5800-01"} and asset.keys["serial"] == {"2102311TUJ10L9000123"}
    got = {(o.kind, o.value) for o in observations}
    assert ("sbom.manufacturer", "Huawei Technologies Co., Ltd.") in got
    assert ("sbom.supplier", "huawei") in got  # the VRP firmware's CPE vendor
    assert ("sbom.component", "MA5800 VRP V800R021C10SPC200") in got
    assert observations[0].context["format"] == "CycloneDX 1.5"


def test_switch_1_6_xml_chinese_manufacturer() -> None:
    observations, _ = _one_asset("switch-1.6.cdx.xml")
    [asset] = to_assets(observations)
    assert asset.verdict.group == "zte"
    assert ("sbom.supplier", "中兴通讯股份有限公司") in {(o.kind, o.value) for o in observations}


def test_spdx_2_3() -> None:
    observations, collector = _one_asset("radio-fw.spdx.json")
    assert collector.records == 4
    [asset] = to_assets(observations)
    assert asset.verdict.group == "hytera"
    got = {(o.kind, o.value) for o in observations}
    assert ("sbom.manufacturer", "Hytera Communications Corporation Limited") in got  # originator, email dropped
    assert ("cpe", "cpe:2.3:h:hytera:rd985:-:*:*:*:*:*:*:*") in got
    assert ("sbom.supplier", "Texas Instruments Incorporated") in got
    assert not any(v == "NOASSERTION" for _, v in got)
    assert observations[0].context["format"] == "SPDX-2.3"


def test_spdx_agents_and_purls() -> None:
    assert S.spdx_agent("Organization: Huawei Technologies Co., Ltd. (psirt@huawei.com)") == \
        "Huawei Technologies Co., Ltd."
    assert S.spdx_agent("Person: Jane Doe") == "Jane Doe"
    assert S.spdx_agent("NOASSERTION") is None
    assert S.purl_organisation("pkg:maven/com.huawei.hms/location@6.4.0") == "huawei"
    assert S.purl_organisation("pkg:github/Hikvision/sdk@1.0") == "Hikvision"
    assert S.purl_organisation("pkg:golang/github.com/dahua/onvif@v1") == "dahua"
    assert S.purl_organisation("pkg:npm/%40huaweicloud/cli@1.0") == "huaweicloud"
    assert S.purl_organisation("pkg:pypi/requests@2.0") is None
    assert S.cpe_vendor("cpe:/h:hikvision:ds-2cd") == "hikvision"
    assert S.cpe_vendor("cpe:2.3:o:zte_corporation:zxros:*") == "zte corporation"


def _bom(**extra: object) -> dict[str, object]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, **extra}


def test_bad_components_are_skipped_and_the_rest_land() -> None:
    doc = _bom(metadata={"component": {"type": "device", "name": "cam", "manufacturer": {"name": "Dahua"}}},
               components=["oops", {"type": "library", "name": "x", "cpe": 42},
                           {"type": "firmware", "name": "fw", "supplier": {"name": "Zhejiang Dahua Technology"}}])
    observations, collector = read(json.dumps(doc).encode())
    assert [str(b) for b in collector.bad_records] == [
        "bom.json components[0]: component is not an object",
        "bom.json components[1]: cpe is not a string",
    ]
    assert ("sbom.supplier", "Zhejiang Dahua Technology") in {(o.kind, o.value) for o in observations}
    with pytest.raises(StrictAbort):
        read(json.dumps(doc).encode(), strict=True)


def test_documents_without_a_subject() -> None:
    # one top-level device: it is the product
    doc = _bom(components=[{"type": "device", "name": "DS-7608NI", "manufacturer": {"name": "Hikvision"}},
                           {"type": "library", "name": "zlib"}])
    observations, _ = read(json.dumps(doc).encode())
    [asset] = to_assets(observations)
    assert asset.verdict.group == "hikvision"
    # no product at all: the document stands for it, and its parts are weak evidence
    doc = _bom(serialNumber="urn:uuid:1", components=[{"type": "library", "name": "securec",
                                                       "supplier": {"name": "Huawei"}}])
    observations, _ = read(json.dumps(doc).encode())
    [asset] = to_assets(observations)
    assert asset.id == "asset_tag:urn:uuid:1" and {o.kind for o in observations} == {"sbom.supplier"}


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a CycloneDX"),
    (b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n", "tag-value is not supported"),
    (b'{"bomFormat": "CycloneDX", "components": [', "malformed JSON"),
    (b'{"hello": "world"}', "no bomFormat or spdxVersion"),
    (b'{"spdxVersion": "SPDX-3.0"}', "not supported"),
    (b"<bom><components>", "malformed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component type="device">'
     b"<name>&x;</name></component></components></bom>", "refused XML construct"),
    (b'<?xml version="1.0"?><project><name>x</name></project>', "not a CycloneDX document"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a CycloneDX"),
])
def test_unusable_documents_are_one_error(data: bytes, message: str) -> None:
    observations, collector = read(data)
    assert observations == [] and collector.bad_count == 1
    assert message in collector.bad_records[0].message


def test_malformed_json_names_the_line() -> None:
    data = b'{\n "bomFormat": "CycloneDX",\n "specVersion": "1.5",\n "components": [\n  {"name": x}\n ]\n}\n'
    _, collector = read(data)
    assert collector.bad_records[0].place == "line 5"


def test_spdx_containment_cycles_do_not_hang() -> None:
    doc = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": [
        {"SPDXID": "SPDXRef-a", "name": "a", "supplier": "Organization: Huawei"},
        {"SPDXID": "SPDXRef-b", "name": "b"}, {"SPDXID": "SPDXRef-c", "name": "c"}],
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-a"},
            {"spdxElementId": "SPDXRef-b", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-c"},
            {"spdxElementId": "SPDXRef-c", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-b"}]}
    observations, collector = read(json.dumps(doc).encode())
    assert collector.bad_count == 0
    assert len(to_assets(observations)) == 1


def test_a_long_components_list_is_never_decoded_whole() -> None:
    # What the reader skips (descriptions, hashes) would be most of the memory if the document were decoded
    # into dicts at once; decoded an element at a time, only the components' few read fields are kept.
    import tracemalloc

    parts = [{"type": "library", "name": f"lib{i}", "supplier": {"name": f"Supplier {i % 7}"},
              "description": "d" * 4000, "hashes": [{"alg": "SHA-256", "content": "ab" * 32}]} for i in range(3000)]
    data = json.dumps(_bom(metadata={"component": {"type": "device", "name": "cam",
                                                   "manufacturer": {"name": "Dahua"}}}, components=parts)).encode()
    tracemalloc.start()
    try:
        document = S.parse_document(data, "big.json", Collector())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(document.components) == 3000 and document.components[-1].supplier == "Supplier 3"
    assert peak < len(data) // 4, f"{peak:,} bytes allocated for a {len(data):,}-byte document"
    observations, collector = read(data)
    assert collector.bad_count == 0 and collector.records == 3001
    assert sum(o.kind == "sbom.supplier" for o in observations) == 7  # repeats kept once, as before
