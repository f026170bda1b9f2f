"""The store: every test runs on SQLite and on a real PostgreSQL server (tests/pg.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg import PostgresServer

from vendorscope.model import Asset, AssetKeys, Attribution, Finding, Observation, Role, Status
from vendorscope.resolve import apply_annotation, resolve
from vendorscope.store import inventory as inventory_module
from vendorscope.store.inventory import (
    VERSION_TABLE,
    Inventory,
    InventoryError,
    InventoryNotFound,
    NotAnInventory,
    database_url,
    open_inventory,
)
from vendorscope.store.models import Base
from vendorscope.store.queries import (
    Annotation,
    Coverage,
    SnapshotInfo,
    SnapshotRefError,
    coverage,
    coverage_progress,
    find_snapshot,
    latest_per_source,
    updated_annotation,
)
from vendorscope.store.rows import evidence_key

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# ---------------------------------------------------------------- data

# (kind, value) -> what a rule says: (vendor, vendor name, group, confidence, rule, product, device type)
RULES: dict[tuple[str, str], list[tuple[str, str, str, float, str, str | None, str | None]]] = {
    ("mac", "00:e0:fc:00:00:01"): [("huawei", "Huawei", "huawei", 0.6, "oui.huawei", None, None)],
    ("mac", "00:e0:fc:00:00:02"): [("huawei", "Huawei", "huawei", 0.6, "oui.huawei", None, None)],
    ("ssh.banner", "SSH-2.0-HUAWEI-1.5"): [("huawei", "Huawei", "huawei", 0.95, "ssh.huawei", "VRP", "router")],
    ("http.server", "App-webs/"): [("hikvision", "Hikvision", "hikvision", 0.9, "http.hik", "IP camera", "camera")],
    ("rtsp.server", "Dahua Rtsp Server"): [("dahua", "Dahua", "dahua", 0.9, "rtsp.dahua", None, "camera")],
    ("inventory.manufacturer", "Acme"): [("acme", "Acme", "acme", 0.7, "name.acme", None, None)],
    ("snmp.sysdescr", "Honor router"): [("honor", "Honor", "honor", 0.9, "snmp.honor", None, "router")],
    ("snmp.sysdescr", "HiSilicon board"): [("hisilicon", "HiSilicon", "huawei", 0.9, "snmp.hisi", None, None)],
}


def identify(o: Observation) -> list[Attribution]:
    return [
        Attribution(vendor, name, group, confidence, rule, product=product, device_type=device_type, observation=o)
        for vendor, name, group, confidence, rule, product, device_type in RULES.get((o.kind, o.value), [])
    ]


def obs(kind: str, value: str, *, mac: str | None = None, ip: str | None = None, source: str = "pcap:a.pcap",
        frame: int = 1, at: datetime = T0, **context: Any) -> Observation:
    return Observation(kind, value, source, at, AssetKeys(mac=mac, ip=ip), {"file": "a.pcap", "frame": frame,
                                                                              **context})


def huawei_router(n_mac_sightings: int = 3, mac: str = "00:e0:fc:00:00:01", ip: str = "10.0.0.1",
                  source: str = "pcap:a.pcap", at: datetime = T0) -> list[Observation]:
    out = [obs("mac", mac, mac=mac, ip=ip, frame=i, at=at + timedelta(seconds=i), source=source)
           for i in range(n_mac_sightings)]
    out.append(obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", ip=ip, frame=99, port=22, at=at + timedelta(minutes=5),
                   source=source))
    return out


def relabelled_camera(source: str = "pcap:a.pcap") -> list[Observation]:
    """Labelled Acme in the inventory, Hikvision by its firmware: a conflict."""
    return [
        obs("http.server", "App-webs/", mac="c0:56:e3:00:00:01", ip="10.0.0.2", frame=7, port=80, source=source),
        obs("inventory.manufacturer", "Acme", mac="c0:56:e3:00:00:01", row=3, source=source),
    ]


def unknown_laptop() -> list[Observation]:
    return [obs("dhcp.hostname", "laptop-7", mac="a4:83:e7:00:00:07", ip="10.0.0.7")]


def write(inv: Inventory, observations: Sequence[Observation], source: str = "pcap:a.pcap",
          at: datetime = T0, **stats: Any) -> tuple[int, list[Asset]]:
    assets = resolve(observations, identify)
    return inv.write_snapshot(source, at, observations, assets, stats), assets


# ---------------------------------------------------------------- databases


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.create_database()


@pytest.fixture
def inv(db_url: str) -> Iterator[Inventory]:
    with open_inventory(db_url) as inventory:
        yield inventory


def scalar(inv: Inventory, sql: str) -> Any:
    with inv.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


# ---------------------------------------------------------------- round trip


def test_a_snapshot_comes_back_exactly_with_its_evidence_chain(inv: Inventory) -> None:
    observations = huawei_router() + relabelled_camera() + unknown_laptop()
    snapshot_id, assets = write(inv, observations, frames=1234)
    assert len(assets) == 3 and any(a.conflicts for a in assets)

    [info] = inv.snapshots()
    assert info.id == snapshot_id and info.source == "pcap:a.pcap" and info.started_at == T0
    assert (info.observations, info.assets, info.attributed, info.conflicts) == (len(observations), 3, 2, 1)
    assert info.attributions == sum(len(a.attributions) for a in assets)
    assert info.stats == {"frames": 1234} and info.finished_at is not None

    assert inv.assets(snapshot_id) == assets
    assert inv.assets() == assets
    router = inv.asset("mac:00:e0:fc:00:00:01")
    assert router == assets[0]
    # Each attribution cites the very observation it fired on: the chain is whole.
    banner = next(a for a in router.attributions if a.rule == "ssh.huawei")
    assert banner.observation is not None and banner.observation.context == {"file": "a.pcap", "frame": 99,
                                                                              "port": 22}
    assert any(o is banner.observation for o in router.observations)


_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53),
                         st.floats(allow_nan=False, allow_infinity=False), _text)
_observations = st.lists(
    st.builds(
        Observation,
        kind=st.sampled_from(["mac", "ssh.banner", "http.server", "inventory.manufacturer", "x.other"]),
        value=st.one_of(st.sampled_from([k[1] for k in RULES]), _text),
        source=st.sampled_from(["", "pcap:a.pcap", "probe"]),
        seen_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        keys=st.builds(AssetKeys, mac=st.one_of(st.none(), st.sampled_from(["00:e0:fc:00:00:01", "aa:bb:cc:00:00:02"])),
                       ip=st.one_of(st.none(), st.sampled_from(["10.0.0.1", "10.0.0.2"])),
                       hostname=st.one_of(st.none(), _text)),
        context=st.dictionaries(_text, st.one_of(_json_scalar, st.lists(_json_scalar, max_size=3)), max_size=4),
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(observations=_observations)
def test_any_snapshot_comes_back_exactly(inv: Inventory, observations: list[Observation]) -> None:
    snapshot_id, assets = write(inv, observations)
    assert inv.assets(snapshot_id) == assets
    # Condensed: one observation per distinct piece of evidence, the same verdicts.
    condensed = inv.assets(snapshot_id, all_observations=False)
    assert [(a.id, a.keys, a.verdict, a.conflicts) for a in condensed] == [
        (a.id, a.keys, a.verdict, a.conflicts) for a in assets]
    assert [sorted(map(repr, {evidence_key(o) for o in a.observations})) for a in condensed] == [
        sorted(map(repr, {evidence_key(o) for o in a.observations})) for a in assets]


def test_repeated_evidence_is_one_row_that_keeps_every_sighting(inv: Inventory) -> None:
    observations = huawei_router(n_mac_sightings=200)
    write(inv, observations)
    assert scalar(inv, "SELECT count(*) FROM observation") == 2
    assert scalar(inv, "SELECT max(sighting_count) FROM observation") == 200
    assert scalar(inv, "SELECT count(*) FROM attribution") == 2  # the 200 OUI attributions share a row

    router = inv.asset("mac:00:e0:fc:00:00:01")
    assert router is not None
    assert [o.context["frame"] for o in router.observations if o.kind == "mac"] == list(range(200))
    assert len([a for a in router.attributions if a.rule == "oui.huawei"]) == 200
    condensed = inv.assets(all_observations=False)[0]
    assert len(condensed.observations) == 2 and condensed.verdict == router.verdict


def test_a_condensed_read_keeps_where_each_piece_of_evidence_was_first_seen(inv: Inventory) -> None:
    write(inv, huawei_router(n_mac_sightings=50) + relabelled_camera())
    condensed = {(o.kind, o.value): o.context for a in inv.assets(all_observations=False) for o in a.observations}
    assert condensed[("mac", "00:e0:fc:00:00:01")] == {"file": "a.pcap", "frame": 0}  # the first of 50 sightings
    assert condensed[("ssh.banner", "SSH-2.0-HUAWEI-1.5")] == {"file": "a.pcap", "frame": 99, "port": 22}
    assert condensed[("inventory.manufacturer", "Acme")] == {"file": "a.pcap", "frame": 1, "row": 3}
    router = next(a for a in inv.assets(all_observations=False) if a.id == "mac:00:e0:fc:00:00:01")
    assert len(router.observations) == 2  # one per piece of evidence, not one per sighting


def test_hostile_text_is_stored_visibly_escaped(inv: Inventory) -> None:
    nasty = "SSH-2.0-\x00evil\udcff\u202e"
    observations = [obs("ssh.banner", nasty, mac="00:11:22:33:44:55", note="ctx\x00\udcfe", n=[1, "\x00"])]
    write(inv, observations)
    [stored] = inv.assets()[0].observations
    assert stored.value == "SSH-2.0-\\x00evil\\udcff\u202e"
    assert "\x00" not in str(stored.context) and stored.context["frame"] == 1


def test_naive_times_are_taken_as_utc(inv: Inventory) -> None:
    naive = datetime(2025, 1, 2, 3, 4, 5)
    write(inv, [obs("mac", "00:e0:fc:00:00:01", mac="00:e0:fc:00:00:01", at=naive)], at=naive)
    assert inv.snapshots()[0].started_at == naive.replace(tzinfo=UTC)
    assert inv.assets()[0].first_seen == naive.replace(tzinfo=UTC)


def test_observations_in_no_asset_are_kept(inv: Inventory) -> None:
    observations = huawei_router()
    assets = resolve(observations, identify)
    stray = obs("http.title", "stray", ip="10.9.9.9")
    inv.write_snapshot("pcap:a.pcap", T0, [*observations, stray], assets)
    assert inv.snapshots()[0].observations == len(observations) + 1
    assert scalar(inv, "SELECT count(*) FROM observation WHERE asset_no = -1") == 1
    assert inv.assets() == assets


# ---------------------------------------------------------------- the inventory as it stands


def test_filters_match_vendor_or_group_site_and_role(inv: Inventory) -> None:
    observations = huawei_router() + relabelled_camera() + [
        obs("snmp.sysdescr", "Honor router", mac="00:00:00:00:00:0b"),
        obs("asset.site", "fra-1", mac="00:00:00:00:00:0b"),
        obs("asset.role", "cpe", mac="00:00:00:00:00:0b"),
    ]
    write(inv, observations + [obs("snmp.sysdescr", "HiSilicon board", mac="00:00:00:00:00:0c")])
    # A vendor name matches the vendor and every member of its group.
    assert [a.id for a in inv.assets(vendor="HUAWEI")] == ["mac:00:00:00:00:00:0c", "mac:00:e0:fc:00:00:01"]
    assert [a.id for a in inv.assets(vendor="hisilicon")] == ["mac:00:00:00:00:00:0c"]
    assert [a.id for a in inv.assets(vendor="hikvision")] == ["mac:c0:56:e3:00:00:01"]
    assert [a.id for a in inv.assets(vendor="honor")] == ["mac:00:00:00:00:00:0b"]
    assert [a.id for a in inv.assets(site="FRA-1")] == ["mac:00:00:00:00:00:0b"]
    assert [a.id for a in inv.assets(role=Role.cpe)] == ["mac:00:00:00:00:00:0b"]
    assert [a.id for a in inv.assets(role="cpe", vendor="huawei")] == []
    assert inv.assets(vendor="zte") == []


def test_the_latest_snapshot_of_each_source_is_merged_and_reconciled(inv: Inventory) -> None:
    write(inv, huawei_router() + unknown_laptop(), source="pcap:a.pcap")
    # A newer capture from the same source replaces the older one: the laptop has gone.
    write(inv, huawei_router(at=T0 + timedelta(days=1)), source="pcap:a.pcap", at=T0 + timedelta(days=1))
    # Another source sees the router's label and a second device.
    probe = [obs("inventory.manufacturer", "Acme", mac="00:e0:fc:00:00:01", source="import:cmdb.csv", row=8,
                 at=T0 + timedelta(days=2)),
             *relabelled_camera(source="import:cmdb.csv")]
    write(inv, probe, source="import:cmdb.csv", at=T0 + timedelta(days=2))

    current = {a.id: a for a in inv.assets()}
    assert sorted(current) == ["mac:00:e0:fc:00:00:01", "mac:c0:56:e3:00:00:01"]
    router = current["mac:00:e0:fc:00:00:01"]
    # Reconciled over both sources: fingerprints win over the label, and the disagreement is a conflict.
    assert router.verdict.vendor == "huawei" and router.verdict.product == "VRP"
    assert [c.label_vendor for c in router.conflicts] == ["acme"]
    assert {o.source for o in router.observations} == {"pcap:a.pcap", "import:cmdb.csv"}
    assert (router.first_seen, router.last_seen) == (T0 + timedelta(days=1), T0 + timedelta(days=2))

    [first, second, third] = inv.snapshots()
    assert [a.id for a in inv.assets(first.id)] == ["mac:00:e0:fc:00:00:01", "mac:a4:83:e7:00:00:07"]
    assert inv.asset("mac:a4:83:e7:00:00:07") is not None  # gone, but its last snapshot still shows it
    assert [s.id for s in inv.asset_snapshots("mac:00:e0:fc:00:00:01")] == [first.id, second.id, third.id]


def test_find_asset_id_accepts_bare_keys(inv: Inventory) -> None:
    write(inv, huawei_router())
    assert inv.find_asset_id("00:E0:FC:00:00:01") == "mac:00:e0:fc:00:00:01"
    assert inv.find_asset_id("mac:00:e0:fc:00:00:01") == "mac:00:e0:fc:00:00:01"
    assert inv.find_asset_id("00:e0:fc:99:99:99") is None


# ---------------------------------------------------------------- annotations


def test_annotations_survive_new_snapshots_and_override_what_was_collected(inv: Inventory) -> None:
    router = "mac:00:e0:fc:00:00:01"
    write(inv, huawei_router() + [obs("asset.site", "lab", mac="00:e0:fc:00:00:01"),
                                  obs("asset.tag", "test", mac="00:e0:fc:00:00:01")])
    note = inv.annotate(router, role="core", site="fra-1", add_tags=["Military", "government"])
    assert note == Annotation(router, Role.core, "fra-1", frozenset({"military", "government"}))
    write(inv, huawei_router(at=T0 + timedelta(days=1)), at=T0 + timedelta(days=1))

    [current] = inv.assets()
    assert (current.role, current.site, current.site_tags) == (Role.core, "fra-1", {"military", "government"})
    assert [a.id for a in inv.assets(role="core", site="fra-1")] == [router]

    inv.annotate(router, remove_tags=["government"], site="")
    [current] = inv.assets()
    assert current.site is None and current.site_tags == {"military"}
    # The tag removed stays removed even where a collector says it.
    write(inv, huawei_router() + [obs("asset.tag", "government", mac="00:e0:fc:00:00:01")], at=T0 + timedelta(2))
    assert inv.assets()[0].site_tags == {"military"}
    assert inv.annotations()[router].removed_tags == {"government"}

    with pytest.raises(ValueError, match="unknown role"):
        inv.annotate(router, role="mainframe")


def test_annotation_updates_are_pure() -> None:
    note = updated_annotation(None, "a", role=Role.cctv, add_tags=[" Military "])
    assert note == Annotation("a", Role.cctv, None, frozenset({"military"}))
    again = updated_annotation(note, "a", remove_tags=["military"], site="hq")
    assert again == Annotation("a", Role.cctv, "hq", frozenset(), frozenset({"military"}))
    assert updated_annotation(again, "a", add_tags=["military"]).removed_tags == frozenset()
    asset = resolve(huawei_router(), identify)[0]
    shown = apply_annotation(asset, again)
    assert (shown.role, shown.site) == (Role.cctv, "hq") and asset.role is Role.unknown


# ---------------------------------------------------------------- diff and history


def test_diff_shows_what_appeared_disappeared_and_was_reidentified(inv: Inventory) -> None:
    a, _ = write(inv, huawei_router() + unknown_laptop() + [obs("http.server", "App-webs/", mac="0a:00:00:00:00:01")])
    b, _ = write(
        inv,
        huawei_router() + relabelled_camera() + [obs("rtsp.server", "Dahua Rtsp Server", mac="0a:00:00:00:00:01")],
        at=T0 + timedelta(days=1),
    )
    changes = inv.diff(a, b)
    assert [x.id for x in changes.appeared] == ["mac:c0:56:e3:00:00:01"]
    assert [x.id for x in changes.disappeared] == ["mac:a4:83:e7:00:00:07"]
    assert [(r.asset_id, r.before.verdict.vendor, r.after.verdict.vendor) for r in changes.reidentified] == [
        ("mac:0a:00:00:00:00:01", "hikvision", "dahua")
    ]
    assert inv.diff(b, b).appeared == [] and inv.diff(b, a).disappeared == changes.appeared
    with pytest.raises(InventoryError, match="no snapshot 999"):
        inv.diff(a, 999)


def _fake_judge(assets: Sequence[Asset], packs: Any, as_of: date) -> list[Finding]:
    """Huawei must go by 2026-12-31; anything from Dahua needs review."""
    out = []
    for a in assets:
        if a.verdict.group == "huawei":
            out.append(Finding(a.id, "test-pack", "remove-huawei", Status.must_remove, as_of, date(2026, 12, 31),
                               "high", "covered"))
        elif a.verdict.group == "dahua":
            out.append(Finding(a.id, "test-pack", "remove-huawei", Status.review, as_of, None, "low", "maybe"))
        out.append(Finding(a.id, "other-pack", "anything", Status.clear, as_of, None, "info", "clear"))
    return out


def test_history_counts_covered_assets_after_each_snapshot(inv: Inventory) -> None:
    def judge(assets: Sequence[Asset], day: date) -> list[Finding]:  # the store judges only with what it is given
        return _fake_judge(assets, [], day)

    two_routers = huawei_router() + huawei_router(mac="00:e0:fc:00:00:02", ip="10.0.0.3")
    s1, _ = write(inv, two_routers, source="pcap:a.pcap")
    s2, _ = write(inv, [obs("rtsp.server", "Dahua Rtsp Server", mac="0b:00:00:00:00:01", source="probe")],
                  source="probe", at=T0 + timedelta(days=1))
    s3, _ = write(inv, huawei_router(), source="pcap:a.pcap", at=T0 + timedelta(days=2))  # one router removed

    assert all(e.coverage is None for e in inv.history())
    entries = inv.history(judge=judge)
    assert [e.snapshot.id for e in entries] == [s1, s2, s3]
    assert [e.assets for e in entries] == [2, 3, 2]
    assert [e.by_group for e in entries] == [{"huawei": 2}, {"dahua": 1, "huawei": 2}, {"dahua": 1, "huawei": 1}]
    progress = [[(c.policy, c.requirement, c.deadline, c.covered, c.review) for c in e.coverage or []]
                for e in entries]
    assert progress == [
        [("other-pack", "anything", None, 0, 0), ("test-pack", "remove-huawei", date(2026, 12, 31), 2, 0)],
        [("other-pack", "anything", None, 0, 0), ("test-pack", "remove-huawei", date(2026, 12, 31), 2, 1)],
        [("other-pack", "anything", None, 0, 0), ("test-pack", "remove-huawei", date(2026, 12, 31), 1, 1)],
    ]
    only = inv.history(policy="test-pack", judge=judge)
    assert [[c.policy for c in e.coverage or []] for e in only] == [["test-pack"]] * 3
    changes = inv.diff(s1, s3, judge=judge)
    assert [(p.requirement, p.before, p.after) for p in changes.progress] == [("remove-huawei", 2, 1)]


def test_history_with_the_real_judge(inv: Inventory) -> None:
    from vendorscope.assess import Criteria
    from vendorscope.assess import history as judged_history
    from vendorscope.judge.packs import load_packs

    write(inv, huawei_router())
    inv.annotate("mac:00:e0:fc:00:00:01", role="core")
    [entry] = judged_history(inv, Criteria.of(load_packs()))
    assert entry.coverage is not None and any(c.covered == 1 for c in entry.coverage)


def test_pure_snapshot_helpers() -> None:
    def info(i: int, source: str, day: int) -> SnapshotInfo:
        return SnapshotInfo(i, source, T0 + timedelta(days=day), None, 0, 0, 0, 0, 0)

    snaps = [info(1, "pcap", 0), info(2, "probe", 1), info(3, "pcap", 2), info(4, "probe", 3)]
    assert [s.id for s in latest_per_source(snaps)] == [3, 4]
    assert [s.id for s in latest_per_source(snaps, up_to=snaps[2])] == [2, 3]
    assert find_snapshot("latest", snaps).id == 4
    assert find_snapshot("previous", snaps).id == 2  # the one before latest from the same source
    assert find_snapshot(" 3 ", snaps).id == 3
    for bad, message in (("7", "no snapshot 7"), ("x", "not a snapshot id")):
        with pytest.raises(SnapshotRefError, match=message):
            find_snapshot(bad, snaps)
    with pytest.raises(SnapshotRefError, match="no snapshots"):
        find_snapshot("latest", [])
    cover = coverage(_fake_judge(resolve(huawei_router(), identify), [], date(2025, 1, 1)))
    assert cover == [Coverage("other-pack", "anything", None, 0, 0),
                     Coverage("test-pack", "remove-huawei", date(2026, 12, 31), 1, 0)]
    assert coverage_progress(cover, []) == [coverage_progress(cover, cover)[0].__class__(
        "test-pack", "remove-huawei", date(2026, 12, 31), 1, 0)]


# ---------------------------------------------------------------- crashes and concurrency

CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from vendorscope.model import Asset, AssetKeys, Attribution, Observation, Verdict
    from vendorscope.store.inventory import open_inventory

    url, n_assets, per_asset, pause_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    assets, observations = [], []
    for i in range(n_assets):
        mac = f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        obs = [Observation("http.title", f"device {i} page {j} " + "x" * 500, "child", datetime.now(UTC),
                           AssetKeys(mac=mac),
                           {"frame": i * per_asset + j}) for j in range(per_asset)]
        att = [Attribution("huawei", "Huawei", "huawei", 0.5, "child.rule", observation=o) for o in obs]
        observations += obs
        assets.append(Asset(f"mac:{mac}", {"mac": {mac}}, obs, att, Verdict("huawei", "Huawei", "huawei", 0.5)))

    def progress(table, written):
        if table == "observation" and written >= pause_at:
            print("PAUSED", written, flush=True)
            sys.stdin.read()  # wait, mid-transaction, to be killed

    with open_inventory(url) as inventory:
        print("snapshot", inventory.write_snapshot("child", datetime.now(UTC), observations, assets, {},
                                                    progress), flush=True)
    """
)


def _wal_size(db_url: str) -> int:
    wal = Path(db_url + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_writer_killed_mid_transaction_leaves_no_trace(db_url: str, tmp_path: Path) -> None:
    with open_inventory(db_url) as inv:
        first, assets = write(inv, huawei_router() + relabelled_camera())
    wal_before = _wal_size(db_url)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), db_url, "1000", "40", "40000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("PAUSED"), line + (child.stderr.read() if child.stderr else "")
        if not db_url.startswith("postgresql"):
            assert _wal_size(db_url) > wal_before  # uncommitted pages of the big snapshot are on disk
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    with open_inventory(db_url, create=False) as inv:
        assert [s.id for s in inv.snapshots()] == [first]
        assert inv.assets() == assets
        assert scalar(inv, "SELECT count(*) FROM snapshot") == 1
        assert scalar(inv, f"SELECT count(*) FROM observation WHERE snapshot_id <> {first}") == 0
        assert scalar(inv, f"SELECT count(*) FROM asset WHERE snapshot_id <> {first}") == 0
        # and the inventory takes the next snapshot as usual
        second, _ = write(inv, huawei_router(), at=T0 + timedelta(days=1))
        assert [s.id for s in inv.snapshots()] == [first, second]


def _many_assets(prefix: str, n: int) -> list[Observation]:
    return [obs("mac", f"{prefix}:{i >> 8 & 255:02x}:{i & 255:02x}", mac=f"{prefix}:{i >> 8 & 255:02x}:{i & 255:02x}",
                frame=i) for i in range(n)]


def test_two_writers_at_once_both_land_on_postgres(pg_url: str) -> None:
    both_writing = threading.Barrier(2, timeout=120)
    ids: dict[str, int] = {}
    errors: list[BaseException] = []

    def collector(name: str, prefix: str) -> None:
        def progress(table: str, written: int) -> None:
            if table == "asset" and written <= inventory_module.BULK_CHUNK:
                both_writing.wait()  # both transactions are open and have written rows

        try:
            with open_inventory(pg_url) as inv:
                observations = _many_assets(prefix, 3000)
                assets = resolve(observations, identify)
                ids[name] = inv.write_snapshot(name, T0, observations, assets, {}, progress)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            both_writing.abort()

    threads = [threading.Thread(target=collector, args=(n, p)) for n, p in (("probe", "02:00:00:01"),
                                                                           ("pcap:b", "02:00:00:02"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with open_inventory(pg_url, create=False) as inv:
        snaps = {s.source: s for s in inv.snapshots()}
        assert {snaps["probe"].id, snaps["pcap:b"].id} == set(ids.values())
        assert snaps["probe"].assets == snaps["pcap:b"].assets == 3000
        assert len(inv.assets()) == 6000


def test_two_writers_at_once_both_land_on_sqlite(tmp_path: Path) -> None:
    url = str(tmp_path / "inventory.db")
    with open_inventory(url):
        pass
    errors: list[BaseException] = []

    def collector(name: str, prefix: str) -> None:
        try:
            with open_inventory(url) as inv:
                observations = _many_assets(prefix, 2000)
                inv.write_snapshot(name, T0, observations, resolve(observations, identify), {})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=collector, args=(n, p)) for n, p in (("a", "02:00:00:01"), ("b", "02:00:00:02"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with open_inventory(url, create=False) as inv:
        assert sorted(s.source for s in inv.snapshots()) == ["a", "b"]
        assert len(inv.assets()) == 4000


def test_concurrent_first_opens_migrate_once(pg_url: str) -> None:
    start = threading.Barrier(3, timeout=60)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            start.wait()
            with open_inventory(pg_url) as inv:
                inv.snapshots()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ---------------------------------------------------------------- schema and errors


def test_the_migrated_schema_matches_the_models(inv: Inventory) -> None:
    with inv.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": False})
        assert compare_metadata(context, Base.metadata) == []
        head = inventory_module._script_directory().get_current_head()  # the newest migration
        assert conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar() == head


def test_reopening_an_inventory_keeps_its_data(db_url: str) -> None:
    with open_inventory(db_url) as inv:
        write(inv, huawei_router())
    with open_inventory(db_url, create=False) as inv:
        assert [a.id for a in inv.assets()] == ["mac:00:e0:fc:00:00:01"]


def test_a_newer_schema_is_refused(db_url: str) -> None:
    with open_inventory(db_url) as inv, inv.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(InventoryError, match="newer vendorscope"), open_inventory(db_url):
        pass


def test_a_database_with_other_tables_is_not_an_inventory(db_url: str) -> None:
    engine = sa.create_engine(database_url(db_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE asset (id integer)")
    engine.dispose()
    with pytest.raises(NotAnInventory, match="not a vendorscope inventory"), open_inventory(db_url):
        pass


def test_reading_an_empty_database_says_so(pg_url: str) -> None:
    with pytest.raises(NotAnInventory, match="empty"), open_inventory(pg_url, create=False):
        pass


def test_unreachable_postgres_is_one_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://nobody:secret@/inventory?host={tmp_path}&port=5999"
    with pytest.raises(InventoryError) as caught, open_inventory(url):
        pass
    message = str(caught.value)
    assert message.startswith("cannot use postgresql+psycopg://nobody:***@/inventory") and "secret" not in message
    assert "\n" not in message


def test_sqlite_files_that_are_not_inventories(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(4096))
    not_a_db = r"garbage.db: not a vendorscope inventory \(file is not a database"
    with pytest.raises(NotAnInventory, match=not_a_db), open_inventory(str(garbage)):
        pass
    missing = tmp_path / "missing.db"
    with pytest.raises(InventoryNotFound, match="missing.db: no inventory there"), open_inventory(str(missing),
                                                                                                 create=False):
        pass
    assert not missing.exists()
    with pytest.raises(InventoryError, match="no such directory"), open_inventory(str(tmp_path / "no" / "x.db")):
        pass
    with pytest.raises(InventoryError, match="is a directory"), open_inventory(str(tmp_path)):
        pass
    with pytest.raises(InventoryError, match="unsupported database 'mysql'"), open_inventory("mysql://x/y"):
        pass


def test_database_urls() -> None:
    assert database_url("inv.db") == "sqlite:///inv.db"
    assert database_url("/tmp/inv.db") == "sqlite:////tmp/inv.db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


# ---------------------------------------------------------------- one asset without loading them all


def _part(kind: str, value: str, source: str, **keys: str) -> Observation:
    return Observation(kind, value, source, T0, AssetKeys(**keys), {"row": 1})


_MACS = ["00:e0:fc:00:00:01", "00:e0:fc:00:00:02", "c0:56:e3:00:00:03"]
_IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
_NAMES = ["core-1", "100%_cam\"\\1", "交换机-1"]  # LIKE wildcards, JSON escapes and non-ASCII in a key
_SERIALS = ["2102113347P0", "SN_%1"]


@st.composite
def _linked_sources(draw: st.DrawFn) -> dict[str, list[Observation]]:
    """Three sources whose parts share MACs, IPs, hostnames and serials in every way."""
    out: dict[str, list[Observation]] = {}
    for source in ("pcap:a.pcap", "probe:lab", "import:cmdb.csv"):
        parts = []
        for _ in range(draw(st.integers(1, 4))):
            keys = {name: draw(st.sampled_from(pool)) for name, pool in
                    (("mac", _MACS), ("ip", _IPS), ("hostname", _NAMES), ("serial", _SERIALS))
                    if draw(st.booleans())}
            if keys:
                parts.append(_part("ssh.banner", "SSH-2.0-HUAWEI-1.5", source, **keys))
        out[source] = parts
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_linked_sources())
def test_one_asset_is_the_same_as_in_the_whole_list(tmp_path_factory: pytest.TempPathFactory,
                                                    sources: dict[str, list[Observation]]) -> None:
    """`asset(id)` groups only the parts linked to it by shared keys (searched, not all loaded): the
    result is the asset of the whole merged list, for every id, also past the search's bound."""
    with open_inventory(str(tmp_path_factory.mktemp("one-asset") / "inv.db")) as inv:
        for source, observations in sources.items():
            if observations:
                write(inv, observations, source=source)
        everything = {a.id: a for a in inv.assets()}
        for asset_id, whole in everything.items():
            one = inv.asset(asset_id)
            assert one is not None
            assert (one.id, one.keys, sorted(str(evidence_key(o)) for o in one.observations)) == (
                whole.id, whole.keys, sorted(str(evidence_key(o)) for o in whole.observations))
        for bound in ("MAX_NEAR_PARTS", "MAX_NEAR_QUERIES"):  # past either bound all parts are grouped
            original = getattr(inventory_module, bound)
            setattr(inventory_module, bound, 0)
            try:
                for asset_id, whole in everything.items():
                    one = inv.asset(asset_id)
                    assert one is not None and (one.id, one.keys) == (whole.id, whole.keys)
            finally:
                setattr(inventory_module, bound, original)


def test_one_asset_is_found_through_a_chain_of_keys(inv: Inventory) -> None:
    """SQLite and PostgreSQL: a probe's IP, a CMDB row with that IP and a serial, a capture with the
    serial's MAC: one device, reached from any of its ids, with every part's evidence."""
    write(inv, [_part("ssh.banner", "SSH-2.0-HUAWEI-1.5", "probe:lab", ip="10.0.0.1")], source="probe:lab")
    write(inv, [_part("inventory.serial", "SN_%1", "import:cmdb.csv", ip="10.0.0.1", serial="SN_%1",
                      hostname="100%_cam\"\\1")], source="import:cmdb.csv")
    write(inv, [_part("mac", "00:e0:fc:00:00:01", "pcap:a.pcap", mac="00:e0:fc:00:00:01", serial="SN_%1"),
                _part("mac", "c0:56:e3:00:00:03", "pcap:a.pcap", mac="c0:56:e3:00:00:03", hostname="交换机-1")],
          source="pcap:a.pcap")
    [device] = [a for a in inv.assets() if "SN_%1" in a.keys.get("serial", ())]
    for asked in ("ip:10.0.0.1", "serial:SN_%1", "mac:00:e0:fc:00:00:01", device.id):
        one = inv.asset(inv.find_asset_id(asked) or asked)
        assert one is not None and one.id == device.id
        assert {o.source for o in one.observations} == {"probe:lab", "import:cmdb.csv", "pcap:a.pcap"}
    other = inv.asset("mac:c0:56:e3:00:00:03")
    assert other is not None and {o.kind for o in other.observations} == {"mac"}
