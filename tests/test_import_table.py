"""Inventory tables: encodings, column conventions, XLSX, roles, bad rows."""

from __future__ import annotations

import codecs
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.collect.imports import table as T
from vendorscope.collect.imports.common import Collector, StrictAbort
from vendorscope.identify.engine import Engine
from vendorscope.model import Asset, Observation, Role
from vendorscope.pipeline import to_assets

FIXTURES = Path(__file__).parent / "fixtures" / "tables"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def read(path: Path, strict: bool = False, **kwargs: object) -> tuple[list[Observation], Collector]:
    collector = Collector(strict=strict)
    observations = list(T.read_table(path, path.name, f"import:table:{path.name}", collector, NOW,
                                     **kwargs))  # type: ignore[arg-type]
    return observations, collector


def assets_by_name(observations: list[Observation]) -> dict[str, Asset]:
    out = {}
    for asset in to_assets(observations):
        name = sorted(asset.keys.get("hostname", {asset.id}))[0]
        out[name] = asset
    return out


def test_servicenow_export_utf8_with_bom() -> None:
    observations, collector = read(FIXTURES / "cmdb-servicenow.csv")
    assert collector.bad_count == 0 and collector.records == 5
    assets = assets_by_name(observations)
    core = assets["fra-core-r1"]
    assert core.verdict.group == "huawei" and core.role is Role.core and core.site == "Frankfurt DC1"
    assert core.site_tags == {"critical", "5g"}
    assert core.keys["serial"] == {"2102351931P0K9000411"} and core.keys["ip"] == {"198.51.100.1"}
    assert assets["fra-olt-07"].keys["mac"] == {"00:19:c6:ab:cd:ef"}  # 00-19-C6-AB-CD-EF
    assert assets["muc-cam-014"].keys["mac"] == {"4c:bd:8f:01:02:03"}  # 4cbd.8f01.0203
    assert assets["muc-cam-014"].role is Role.cctv and assets["muc-cam-014"].verdict.group == "hikvision"
    assert assets["fra-olt-07"].role is Role.transport
    assert assets["ber-bbu-3"].role is Role.ran and assets["ber-bbu-3"].site_tags == {"ran", "5g"}
    assert assets["muc-sw-01"].verdict.group == "cisco" and assets["muc-sw-01"].role is Role.enterprise
    manufacturer = next(o for o in observations if o.kind == "inventory.manufacturer")
    assert manufacturer.value == "HUAWEI TECHNOLOGIES CO.,LTD."  # evidence keeps what was written
    assert manufacturer.context == {"file": "cmdb-servicenow.csv", "column": "Manufacturer", "line": 2}
    assert manufacturer.source == "import:table:cmdb-servicenow.csv"


def test_german_spreadsheet_cp1252_semicolons_and_title_rows() -> None:
    observations, collector = read(FIXTURES / "inventar-nord.csv")
    assert collector.bad_count == 0 and collector.records == 4
    assets = assets_by_name(observations)
    camera = assets["kam-tg-01"]
    assert camera.verdict.group == "dahua" and camera.role is Role.cctv
    assert camera.site == "Hauptstraße 5, Tiefgarage"  # cp1252 decoded, the comma is no delimiter here
    radio = assets["funk-rep-02"]
    assert radio.role is Role.radio and radio.site_tags == {"bos", "bundeswehr-liegenschaft"}
    assert assets["nms-01"].role is Role.management and assets["nms-01"].verdict.group == "huawei"
    assert "rtr-büro-1" in assets
    assert next(o for o in observations if o.kind == "asset.site").context["line"] == 5


def test_chinese_inventory_gb18030() -> None:
    observations, collector = read(FIXTURES / "inventory-zh-gb18030.csv")
    assert collector.bad_count == 0 and collector.records == 4
    assets = assets_by_name(observations)
    assert assets["hz-ipc-001"].verdict.group == "hikvision" and assets["hz-ipc-001"].role is Role.cctv
    assert assets["sz-core-01"].verdict.group == "huawei" and assets["sz-core-01"].role is Role.core
    assert assets["sz-core-01"].site == "深圳机房"
    assert assets["nj-olt-02"].verdict.group == "zte" and assets["nj-olt-02"].role is Role.transport
    assert assets["sz-radio-09"].verdict.group == "hytera" and assets["sz-radio-09"].role is Role.radio


def test_excel_unicode_text_utf16_tabs() -> None:
    observations, collector = read(FIXTURES / "excel-unicode-text.txt")
    assert collector.bad_count == 0 and collector.records == 3
    assets = assets_by_name(observations)
    assert assets["lon-rtr-01"].verdict.group == "huawei"  # "Huawei Tech."
    assert assets["lon-cam-02"].verdict.group == "dahua" and assets["lon-cam-02"].role is Role.cctv
    assert assets["lon-ap-07"].keys["serial"] == {"CNJ1234567"}


def test_netbox_csv_export() -> None:
    observations, collector = read(FIXTURES / "netbox-devices.csv")
    assert collector.bad_count == 0 and collector.records == 3
    assets = assets_by_name(observations)
    assert assets["ams-pe-01"].keys["ip"] == {"203.0.113.1"}  # the /24 is dropped
    assert assets["ams-pe-01"].keys["asset_tag"] == {"AT-0001"}
    assert assets["ams-pe-01"].role is Role.core and assets["ams-nvr-01"].role is Role.cctv
    models = {o.value for o in observations if o.kind == "inventory.model"}
    assert models == {"NE40E-X8A", "OptiX OSN 9800", "DS-9632NI-I8"}  # "Type", not "Platform"


def test_damaged_rows_are_reported_and_the_good_rows_land() -> None:
    observations, collector = read(FIXTURES / "broken.csv")
    assert {o.keys.hostname for o in observations} == {"good-1", "good-2"}
    assert [str(b) for b in collector.bad_records] == [
        "broken.csv line 3: 6 cells where the header has 4 (ragged row)",
        "broken.csv line 4: column 'manufacturer': binary garbage or bytes that are not text in this "
        "file's encoding",
        "broken.csv line 5: column 'mac': 'not-a-mac' is not a MAC address",
        "broken.csv line 6: 2 cells where the header has 4 (ragged row)",
    ]
    with pytest.raises(StrictAbort):
        read(FIXTURES / "broken.csv", strict=True)


@pytest.mark.parametrize("name", ["HUAWEI TECHNOLOGIES CO.,LTD.", "Huawei Tech.", "华为技术有限公司",
                                  "Hangzhou Hikvision Digital Technology", "中兴通讯股份有限公司",
                                  "Zhejiang Dahua Technology Co., Ltd.", "Hytera Communications"])
def test_free_text_manufacturers_are_normalised_through_the_registry(engine: Engine, name: str) -> None:
    found = engine.identify_value("inventory.manufacturer", name)
    assert found and found[0].group in {"huawei", "hikvision", "zte", "dahua", "hytera"}


@pytest.mark.parametrize(("text", "role"), [
    ("Core router", Role.core), ("CCTV", Role.cctv), ("camera", Role.cctv), ("IP-Kamera", Role.cctv),
    ("radio", Role.radio), ("RAN", Role.ran), ("eNodeB", Role.ran), ("gNodeB", Role.ran), ("BBU", Role.ran),
    ("OLT", Role.transport), ("transport", Role.transport), ("NMS", Role.management),
    ("Network management", Role.management), ("5GC", Role.core), ("对讲机", Role.radio),
    ("OLT光接入", Role.transport), ("核心路由器", Role.core), ("access switch", Role.enterprise),
    ("cpe", Role.cpe), ("management switch", Role.management),
])
def test_role_words(text: str, role: Role) -> None:
    assert T.role_of(text, T.default_columns()) is role


@pytest.mark.parametrize("text", ["", "misc", "spare parts", "orange"])
def test_unknown_role_words(text: str) -> None:
    assert T.role_of(text, T.default_columns()) is None


def test_headers_fold_and_match() -> None:
    spec = T.default_columns()
    headers = ["Serial Number", "IP-Adresse", "Hersteller", "Modell", "Gerätename", "Tags", "Type"]
    assert T.match_columns(headers, spec) == {
        "serial": 0, "ip": 1, "manufacturer": 2, "model": 3, "hostname": 4, "tags": 5}
    # "Model" is preferred to "Type" whichever comes first
    assert T.match_columns(["Type", "Model", "Vendor"], spec)["model"] == 1
    mapped = T.match_columns(["Lieferfirma", "Bezeichnung", "Hostname"], spec,
                             T.parse_mapping("manufacturer=Lieferfirma,model=Bezeichnung"))
    assert mapped == {"manufacturer": 0, "model": 1, "hostname": 2}


@pytest.mark.parametrize("text", ["manufacturer", "colour=Farbe", "model="])
def test_bad_mappings(text: str) -> None:
    with pytest.raises(ValueError):
        T.parse_mapping(text)


SAMPLE = "Hersteller;Gerätename;Standort\nHuawei;Größe-1;Straße 7\n"


@pytest.mark.parametrize(("encoded", "encoding"), [
    (SAMPLE.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + SAMPLE.encode("utf-8"), "utf-8-sig"),
    (SAMPLE.encode("utf-16"), "utf-16"),
    (SAMPLE.encode("utf-16-le"), "utf-16-le"),
    (SAMPLE.encode("utf-16-be"), "utf-16-be"),
    (SAMPLE.encode("cp1252"), "cp1252"),
    ("厂商,设备名称,站点\n华为技术有限公司,深圳-1,深圳机房\n".encode("gb18030"), "gb18030"),
    (b"vendor,host\nHuawei,a\n", "utf-8"),
])
def test_encoding_detection(encoded: bytes, encoding: str) -> None:
    assert T.detect_encoding(encoded) == encoding


def test_each_encoding_reads_the_same(tmp_path: Path) -> None:
    seen = []
    for i, encoding in enumerate(["utf-8", "utf-8-sig", "utf-16", "cp1252"]):
        path = tmp_path / f"t{i}.csv"
        path.write_bytes(SAMPLE.encode(encoding))
        observations, collector = read(path)
        assert collector.bad_count == 0
        seen.append(sorted((o.kind, o.value, o.keys.hostname) for o in observations))
    assert all(s == seen[0] for s in seen)
    assert ("asset.site", "Straße 7", "Größe-1") in seen[0]


def _workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "Deckblatt"
    cover["A1"] = "Netzinventar 2024"
    cover["A3"] = "Vertraulich"
    sheet = wb.create_sheet("Geräte")
    sheet.append(["Inventar Netz Süd"])
    sheet.append([])
    sheet.append(["Gerätename", "Hersteller", "Modell", "Seriennummer", "IP-Adresse", "Standort", "Funktion",
                  "Schlagworte"])
    sheet.append(["sued-olt-1", "HUAWEI TECHNOLOGIES CO.,LTD.", "MA5800-X7", 2102312345678, "203.0.113.1",
                  "Ulm", "OLT", "fttx;kritisch"])
    sheet.append(["sued-cam-1", "Hangzhou Hikvision Digital Technology", "DS-2CD2143G2-I", "J0001",
                  "203.0.113.11", "Ulm Kaserne", "Kamera", "Bundeswehr"])
    sheet.append([None, None, None, None, None, None, None, None])
    sheet.append(["sued-fw-1", "Fortinet", "FG-100F", "FG100F0000", "203.0.113.254", "Ulm", "Firewall", None])
    custom = wb.create_sheet("Lieferungen")
    custom.append(["Lieferfirma", "Bezeichnung", "Hostname"])
    custom.append(["ZTE", "ZXA10 C600", "liefer-olt-1"])
    wb.save(path)


def test_xlsx_every_sheet_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "inventar.xlsx"
    _workbook(path)
    observations, collector = read(path)
    assert collector.bad_count == 0 and collector.records == 3  # the "Lieferungen" sheet names no known column
    assets = assets_by_name(observations)
    assert assets["sued-olt-1"].verdict.group == "huawei" and assets["sued-olt-1"].role is Role.transport
    assert assets["sued-olt-1"].keys["serial"] == {"2102312345678"}  # a number cell, not "2.1e+12"
    assert assets["sued-cam-1"].role is Role.cctv and assets["sued-cam-1"].site_tags == {"bundeswehr"}
    site = next(o for o in observations if o.kind == "asset.site")
    assert site.context == {"file": "inventar.xlsx", "sheet": "Geräte", "column": "Standort", "row": 4}


def test_xlsx_named_sheet_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "inventar.xlsx"
    _workbook(path)
    observations, collector = read(path, sheet="Lieferungen",
                                   mapping=T.parse_mapping("manufacturer=Lieferfirma,model=Bezeichnung"))
    assert collector.bad_count == 0
    [asset] = to_assets(observations)
    assert asset.verdict.group == "zte" and asset.keys["hostname"] == {"liefer-olt-1"}
    observations, collector = read(path, sheet="Nope")
    assert observations == [] and "no sheet 'Nope'" in collector.bad_records[0].message


def test_not_tables(tmp_path: Path) -> None:
    cases = {
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        "image.csv": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "notes.txt": b"Meeting notes\nWe should buy more switches.\n",
        "empty.csv": b"",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    cases["archive.xlsx"] = buffer.getvalue()
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        observations, collector = read(path)
        assert observations == [] and collector.bad_count == 1, name
        assert collector.bad_records[0].place == "", name
    assert "legacy Excel" in read(tmp_path / "old.xls")[1].bad_records[0].message
    assert "--map" in read(tmp_path / "notes.txt")[1].bad_records[0].message


def test_rows_without_any_key_still_hold_together(tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("Manufacturer,Model,Location\nHikvision,DS-2CD2143G2-I,Lobby\nDahua,IPC-HFW,Garage\n")
    observations, _ = read(path)
    assets = to_assets(observations)
    assert len(assets) == 2
    assert {a.site for a in assets} == {"Lobby", "Garage"}
    assert {a.id for a in assets} == {"asset_tag:counts.csv#2", "asset_tag:counts.csv#3"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    collector = Collector()
    stream = io.BytesIO(b"hostname,manufacturer,mac,ip\n" + data)
    list(T.read_delimited(stream, "fuzz.csv", "import:table:fuzz.csv", collector, NOW))
