"""NetBox import, page by page, against a local server replaying recorded API responses."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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


# -- paging: one page at a time, through NetBox's next links, on the server we were given -------------


class _Changed(NetboxReplay):
    """The stand-in, with its answers for the devices changed by ``change(body, host)``."""

    def __init__(self, change: Callable[[Any, str], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.change = change

    def answer(self, raw_path: str, authorization: str | None, host: str) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = super().answer(raw_path, authorization, host)
        if raw_path.startswith("/api/dcim/devices/") and status == 200:
            body = self.change(body, host)
        return status, body, headers


def _next_link(rewrite: Callable[[str, str], str]) -> Callable[[Any, str], Any]:
    return lambda body, host: {**body, "next": rewrite(body["next"], host) if body["next"] else None}


def test_devices_are_read_a_fixed_page_size_at_a_time_through_next_links() -> None:
    # The server would give everything at once; the reader asks for pages of its own size anyway.
    with NetboxReplay(max_page_size=1000) as replay:
        session = NB._session(replay.token, True)
        sizes = [len(page) for page in NB.pages(session, replay.url, NB.DEVICES, 5, page_size=3)]
    assert sizes == [3, 3, 1]
    assert [r for r in replay.requests if r.startswith("/api/dcim/devices/")] == [
        "/api/dcim/devices/?limit=3", "/api/dcim/devices/?limit=3&offset=3", "/api/dcim/devices/?limit=3&offset=6"]


def test_observations_are_handed_on_before_the_last_page_is_asked_for() -> None:
    with NetboxReplay() as replay:  # 2 devices a page
        stream = NB.read_netbox(replay.url, replay.token, "s", Collector(), NOW)
        next(stream)
        device_requests = [r for r in replay.requests if r.startswith("/api/dcim/devices/")]
        assert len(device_requests) == 1
        rest = list(stream)
    assert rest and sum(r.startswith("/api/dcim/devices/") for r in replay.requests) == 4


def test_a_next_link_to_another_host_is_asked_of_the_given_server() -> None:
    assert NB.next_page("https://elsewhere.example:8443/nb/api/dcim/devices/?limit=2&offset=2",
                        "http://127.0.0.1:8000") == "http://127.0.0.1:8000/nb/api/dcim/devices/?limit=2&offset=2"
    assert NB.next_page(None, "http://127.0.0.1:8000") is None
    assert NB.next_page("javascript:alert(1)", "http://127.0.0.1:8000") is None
    # A NetBox behind a proxy that names itself wrongly: every page still comes from the server we were given.
    elsewhere = _next_link(lambda link, host: link.replace(f"http://{host}", "http://netbox.internal:8080"))
    with _Changed(elsewhere) as replay:
        observations, collector = read(replay)
    assert collector.records == 7 and len(by_name(observations)) == 7


def test_a_next_link_going_round_in_circles_ends() -> None:
    with _Changed(_next_link(lambda link, host: f"http://{host}/api/dcim/devices/?limit={NB.PAGE_SIZE}")) as replay:
        observations, collector = read(replay)
    # page 1, then the link back to page 1 is not followed again
    assert collector.records == 2 and sum(r.startswith("/api/dcim/devices/") for r in replay.requests) == 1


@pytest.mark.parametrize("body", [{"results": 5}, [1, 2], {"detail": "hello"}, "text"])
def test_an_answer_that_is_not_a_list_page_is_one_failure(body: Any) -> None:
    with _Changed(lambda _, host: body) as replay, pytest.raises(ImportFailure) as info:
        read(replay)
    assert "did not answer with NetBox's JSON" in str(info.value)
