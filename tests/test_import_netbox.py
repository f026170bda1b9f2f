"""NetBox import through pynetbox, against a local server replaying recorded API responses."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from netbox_replay import NetboxReplay

from vendorscope.collect.imports import netbox as NB
from vendorscope.collect.imports.common import Collector, ImportFailure, StrictAbort
from vendorscope.model import Asset, Observation, Role
from vendorscope.pipeline import to_assets

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def read(replay: NetboxReplay, token: str | None = None, strict: bool = False) -> tuple[list[Observation], Collector]:
    collector = Collector(strict=strict)
    observations = list(NB.read_netbox(replay.url, token or replay.token, "import:netbox:test", collector, NOW))
    return observations, collector


def by_name(observations: list[Observation]) -> dict[str, Asset]:
    return {sorted(a.keys.get("hostname", {a.id}))[0]: a for a in to_assets(observations)}


def test_devices_with_manufacturer_role_site_and_tags() -> None:
    with NetboxReplay() as replay:
        observations, collector = read(replay)
    assert collector.bad_count == 0 and collector.records == 7
    # every page of every endpoint was asked for, and nothing else was contacted
    assert {r.split("?")[0] for r in replay.requests} == {
        "/api/dcim/devices/", "/api/dcim/sites/", "/api/dcim/device-types/", "/api/dcim/manufacturers/",
        "/api/dcim/device-roles/"}
    assert sum(r.startswith("/api/dcim/devices/") for r in replay.requests) == 4  # 7 devices, 2 a page
    assets = by_name(observations)
    pe = assets["ams-pe-01"]
    assert pe.verdict.group == "huawei" and pe.role is Role.core and pe.site == "AMS1"
    assert pe.site_tags == {"5g", "core"}
    assert pe.keys == {"hostname": {"ams-pe-01"}, "serial": {"2102351BRR10K4000010"}, "asset_tag": {"AT-0001"},
                       "ip": {"203.0.113.1"}}
    assert assets["ams-dwdm-01"].role is Role.transport
    nvr = assets["ams-nvr-01"]
    assert nvr.verdict.group == "hikvision" and nvr.role is Role.cctv
    assert nvr.site_tags == {"cctv", "critical-infrastructure"}  # the site's tags too
    bbu = assets["rtm-bbu-07"]
    assert bbu.verdict.group == "zte" and bbu.role is Role.ran and "military" in bbu.site_tags
    assert assets["ams-fw-01"].role is Role.enterprise and assets["ams-fw-01"].verdict.group not in {"huawei", "zte"}
    repeater = assets["rtm-rep-02"]  # NetBox < 3.6 shape: device_role
    assert repeater.verdict.group == "hytera" and repeater.role is Role.radio
    unnamed = [a for a in assets.values() if "hostname" not in a.keys]
    assert len(unnamed) == 1 and unnamed[0].verdict.group == "dahua"
    assert unnamed[0].id == f"asset_tag:{replay.url}/dcim/devices/7"
    labels = {(o.kind, o.value) for o in observations if o.keys.hostname == "ams-pe-01"}
    assert ("netbox.manufacturer", "Huawei") in labels and ("netbox.role", "Core Router") in labels
    assert ("netbox.model", "NE40E-X8A") in labels and ("netbox.platform", "Huawei VRP") in labels
    model = next(o for o in observations if o.kind == "netbox.model" and o.keys.hostname == "ams-pe-01")
    assert model.context["part_number"] == "02351BRR"  # from the device types endpoint
    assert model.context["element"] == "device 1" and model.source == "import:netbox:test"


def test_bad_token_is_one_failure() -> None:
    with NetboxReplay() as replay, pytest.raises(ImportFailure) as info:
        read(replay, token="wrong")
    assert "refused the token" in str(info.value) and "HTTP 403" in str(info.value)


def test_unreachable_server_is_one_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    collector = Collector()
    with pytest.raises(ImportFailure) as info:
        list(NB.read_netbox(f"http://127.0.0.1:{port}", "t", "s", collector, NOW, timeout=5))
    assert "cannot reach NetBox" in str(info.value)


def test_not_netbox_is_one_failure() -> None:
    with NetboxReplay() as replay, pytest.raises(ImportFailure) as info:
        list(NB.read_netbox(replay.url + "/nope", replay.token, "s", Collector(), NOW))
    assert "HTTP 403" in str(info.value) or "HTTP 404" in str(info.value)


def test_a_failing_side_endpoint_is_a_bad_record() -> None:
    with NetboxReplay(fail={"/api/dcim/sites/": 500}) as replay:
        observations, collector = read(replay)
        assert collector.bad_count == 1 and "api/dcim/sites/" in collector.bad_records[0].place
        assert len(by_name(observations)) == 7  # devices still land, with the sites' names they carry
        with pytest.raises(StrictAbort):
            read(replay, strict=True)


def test_device_records_that_are_not_devices() -> None:
    with pytest.raises(NB.RecordError):
        NB.device_observations({"name": "x"}, NB.NetboxRefs(), source="s", server="http://nb", seen_at=NOW)
    minimal = NB.device_observations({"id": 9}, NB.NetboxRefs(), source="s", server="http://nb", seen_at=NOW)
    assert minimal == []
