"""The engine: lookups, confidence, and hostile input."""

from __future__ import annotations

import pytest

from vendorscope.identify.engine import Engine
from vendorscope.identify.oui import MacError, normalise_mac
from vendorscope.model import Observation


def best(engine: Engine, kind: str, value: str) -> str | None:
    found = engine.identify_value(kind, value)
    return found[0].vendor if found else None


def test_huawei_ssh_banner(engine: Engine) -> None:
    found = engine.identify_value("ssh.banner", "SSH-2.0-HUAWEI-1.5")
    assert found and found[0].group == "huawei"
    assert found[0].rule and 0 < found[0].confidence <= 1


@pytest.mark.parametrize(
    "mac, vendor",
    [
        ("00:e0:fc:12:34:56", "huawei"),  # HUAWEI TECHNOLOGIES CO.,LTD
        ("00-E0-FC-12-34-56", "huawei"),
        ("00e0.fc12.3456", "huawei"),
    ],
)
def test_mac_registrant(engine: Engine, mac: str, vendor: str) -> None:
    assert best(engine, "mac", mac) == vendor
    a = engine.identify_value("mac", mac)[0]
    assert a.confidence < 0.9, "an OUI names the maker of the interface, not the box"


@pytest.mark.parametrize("mac", ["02:e0:fc:12:34:56", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff"])
def test_local_and_multicast_macs_are_never_attributed(engine: Engine, mac: str) -> None:
    assert engine.identify_value("mac", mac) == ()
    assert engine.oui.lookup(mac).scope in ("local", "multicast")


@pytest.mark.parametrize("bad", ["", "00:e0:fc", "zz:zz:zz:zz:zz:zz", "00:e0:fc:12:34:56:78"])
def test_bad_macs(engine: Engine, bad: str) -> None:
    with pytest.raises(MacError):
        normalise_mac(bad)
    assert engine.identify_value("mac", bad) == ()


@pytest.mark.parametrize(
    "oid, group",
    [
        ("1.3.6.1.4.1.2011.2.23.94", "huawei"),
        (".1.3.6.1.4.1.3902.1082.1001", "zte"),
        ("1.3.6.1.4.1.39165.1.1", "hikvision"),
        ("1.3.6.1.4.1.40297.1.2", "hytera"),
        ("1.3.6.1.4.1.25506.1.1", "h3c"),
        ("1.3.6.1.4.1.9.1.1208", "cisco"),
    ],
)
def test_sysobjectid_enterprise_numbers(engine: Engine, oid: str, group: str) -> None:
    found = engine.identify_value("snmp.sysobjectid", oid)
    assert found and found[0].group == group
    assert found[0].confidence >= 0.95


@pytest.mark.parametrize(
    "text, group",
    [
        ("HUAWEI TECHNOLOGIES CO.,LTD.", "huawei"),
        ("Huawei Tech", "huawei"),
        ("华为", "huawei"),
        ("华为技术有限公司", "huawei"),
        ("Hangzhou Hikvision Digital Technology", "hikvision"),
        ("ZTE Corporation", "zte"),
        ("Zhejiang Dahua Technology Co., Ltd.", "dahua"),
        ("Hytera Communications Co.,Ltd.", "hytera"),
        ("Cisco Systems, Inc.", "cisco"),
    ],
)
def test_inventory_manufacturer_names(engine: Engine, text: str, group: str) -> None:
    found = engine.identify_value("inventory.manufacturer", text)
    assert found and found[0].group == group


def test_subsidiary_reports_its_group(engine: Engine) -> None:
    found = engine.identify_value("inventory.manufacturer", "Hangzhou EZVIZ Network Co., Ltd.")
    assert found[0].vendor == "ezviz" and found[0].group == "hikvision"


def test_honor_is_not_huawei_today(engine: Engine) -> None:
    found = engine.identify_value("inventory.manufacturer", "Honor Device Co., Ltd.")
    assert found[0].vendor == "honor" and found[0].group == "honor"


def test_h3c_is_not_huawei(engine: Engine) -> None:
    found = engine.identify_value("snmp.sysdescr", "H3C Comware Platform Software, Software Version 7.1.064")
    assert found and {a.group for a in found} == {"h3c"}


def test_cpe(engine: Engine) -> None:
    found = engine.identify_value("cpe", "cpe:/h:huawei:s5720-28x-si-ac")
    assert found[0].vendor == "huawei" and found[0].product == "s5720-28x-si-ac"


def test_identify_attaches_the_observation(engine: Engine) -> None:
    obs = Observation(kind="ssh.banner", value="SSH-2.0-HUAWEI-1.5", source="test")
    found = engine.identify(obs)
    assert found and all(a.observation is obs for a in found)


def test_unknown_kind_and_generic_banners(engine: Engine) -> None:
    assert engine.identify_value("no.such.kind", "HUAWEI") == ()
    assert engine.identify_value("ssh.banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2") == ()


HOSTILE = [
    "A" * 1_000_000,
    "SSH-2.0-HUAWEI-1.5" + "\x00" * 10_000,
    "\x00\x01\x02\x1b[31m\x7f",
    "\udcff\udcfe broken utf-8 \ud800",
    "(" * 50_000 + "a" * 50_000,
    "a" * 100_000 + "!",
    "SSH-2.0-" + "1." * 200_000,
    "<script>alert(1)</script>",
    "华为" * 100_000,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_never_raise(engine: Engine, value: str) -> None:
    for kind in engine.kinds():
        result = engine.identify_value(kind, value)
        assert isinstance(result, tuple)


def test_huge_banner_still_identified(engine: Engine) -> None:
    found = engine.identify_value("ssh.banner", "SSH-2.0-HUAWEI-1.5" + " " * 1_000_000)
    assert found and found[0].group == "huawei"


def test_cached_reference_data_is_rebuilt_when_damaged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from vendorscope.identify.cache import cached_pickle

    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"rules": 860}

    assert cached_pickle("x", "k1", build, tmp_path) == {"rules": 860}
    assert cached_pickle("x", "k1", build, tmp_path) == {"rules": 860} and len(calls) == 1
    (tmp_path / "x-k1.pickle").write_bytes(b"\x80\x05damaged")
    assert cached_pickle("x", "k1", build, tmp_path) == {"rules": 860} and len(calls) == 2
    assert cached_pickle("x", "k2", build, tmp_path) == {"rules": 860} and len(calls) == 3  # new inputs, new key


def test_data_update_adds_ma_s_blocks(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from vendorscope.cli import app
    from vendorscope.identify.oui import load_oui_table

    csv_file = tmp_path / "oui36.csv"
    csv_file.write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        'MA-S,70B3D5F2A,"Hangzhou Hikvision Digital Technology Co.,Ltd.","Hangzhou CN"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("VENDORSCOPE_DATA_DIR", str(tmp_path / "data"))
    r = CliRunner().invoke(app, ["data", "update", str(csv_file)])
    assert r.exit_code == 0 and "1 assignments" in r.output
    table = load_oui_table()
    info = table.lookup("70:b3:d5:f2:a1:23")
    assert info.block == "MA-S" and info.registrant and "Hikvision" in info.registrant
    assert table.lookup("70:b3:d5:00:00:01").block != "MA-S"
    bad = tmp_path / "bad.csv"
    bad.write_text("not,an,ieee,file\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["data", "update", str(bad)])
    assert r.exit_code == 2 and "not an IEEE registry CSV" in r.output
