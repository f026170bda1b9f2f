"""pipeline.ingest in batches: each batch its own transaction, devices spanning batches merged through the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from vendorscope.identify.engine import Engine
from vendorscope.model import Asset, AssetKeys, Observation
from vendorscope.pipeline import ingest, stored_assets, to_assets
from vendorscope.store.inventory import open_inventory
from vendorscope.store.models import asset_key_table, asset_table, snapshot_table

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obs(kind: str, value: str, **keys: str) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=T0, keys=AssetKeys(**keys))


def spread_network(devices: int) -> list[Observation]:
    """Each device's evidence far apart in the stream: all MACs first, then labels, then host names."""
    macs = [f"e0:06:30:00:{i >> 8:02x}:{i & 255:02x}" for i in range(devices)]
    stream = [obs("mac", mac, mac=mac) for mac in macs]
    stream += [obs("inventory.manufacturer", "Hikvision" if i % 2 else "Huawei", mac=mac, serial=f"SN{i}")
               for i, mac in enumerate(macs)]
    stream += [obs("inventory.model", f"model-{i}", serial=f"SN{i}", hostname=f"Host-{i}") for i in range(devices)]
    stream += [obs("http.server", "App-webs/", hostname=f"host-{i}", ip=f"192.0.2.{i}") for i in range(0, devices, 3)]
    return stream


def shape(assets: list[Asset]) -> list[tuple[object, ...]]:
    return sorted(
        (a.id, sorted((k, sorted(v)) for k, v in a.keys.items()), a.verdict, sorted(a.conflicts, key=str),
         sorted((o.kind, o.value) for o in a.observations),
         sorted((x.rule, x.vendor, x.confidence, x.observation.kind if x.observation else None)
                for x in a.attributions), a.first_seen, a.last_seen)
        for a in assets
    )


def stored(url: str, snapshot_id: int) -> list[Asset]:
    with open_inventory(url, create=False) as inv:
        return inv.assets(snapshot_id)


def test_batches_store_the_same_assets_as_one_batch(db_url: str, engine: Engine) -> None:
    network = spread_network(40)
    whole = ingest(network, source="one", db=db_url, engine=engine, started_at=T0)
    batched = ingest(network, source="batched", db=db_url, engine=engine, started_at=T0, batch_size=7)
    assert whole.complete and not batched.complete
    assert whole.asset_count == batched.asset_count == 40
    assert whole.identified == batched.identified == 40
    assert shape(stored(db_url, batched.snapshot_id or 0)) == shape(stored(db_url, whole.snapshot_id or 0))
    assert shape(list(stored_assets(batched))) == shape(whole.assets)
    with open_inventory(db_url, create=False) as inv:
        one, many = (s for s in inv.snapshots() if s.source in ("one", "batched"))
    assert (one.observations, one.assets, one.attributed, one.attributions, one.conflicts) == (
        many.observations, many.assets, many.attributed, many.attributions, many.conflicts)


def test_a_later_batch_bridging_two_stored_assets_makes_one(db_url: str, engine: Engine) -> None:
    network = [
        obs("mac", "e0:06:30:aa:00:01", mac="e0:06:30:aa:00:01", hostname="cam-1"),
        obs("inventory.serial", "x", serial="SN-9"),
        obs("http.server", "App-webs/", mac="e0:06:30:aa:00:01", serial="SN-9"),  # second batch
    ]
    result = ingest(network, source="bridge", db=db_url, engine=engine, started_at=T0, batch_size=2)
    [asset] = stored(db_url, result.snapshot_id or 0)
    assert asset.keys == {"mac": {"e0:06:30:aa:00:01"}, "hostname": {"cam-1"}, "serial": {"SN-9"}}
    assert len(asset.observations) == 3 and asset.verdict.group == "hikvision"
    assert result.asset_count == 1


def test_a_shared_host_name_across_batches_never_merges_two_macs(db_url: str, engine: Engine) -> None:
    network = [obs("mac", "e0:06:30:00:00:01", mac="e0:06:30:00:00:01", hostname="ipc"),
               obs("mac", "e0:06:30:00:00:02", mac="e0:06:30:00:00:02", hostname="ipc")]
    result = ingest(network, source="twins", db=db_url, engine=engine, started_at=T0, batch_size=1)
    assert sorted(a.id for a in stored(db_url, result.snapshot_id or 0)) == [
        "mac:e0:06:30:00:00:01", "mac:e0:06:30:00:00:02"]


def test_stats_are_stored_as_they_stand_at_the_end(db_url: str, engine: Engine) -> None:
    stats: dict[str, object] = {"records": 0}

    def stream() -> Iterator[Observation]:
        for i in range(5):
            stats["records"] = i + 1
            yield obs("mac", f"e0:06:30:00:01:{i:02x}", mac=f"e0:06:30:00:01:{i:02x}")

    ingest(stream(), source="s", db=db_url, engine=engine, started_at=T0, stats=stats, batch_size=2)
    with open_inventory(db_url, create=False) as inv:
        [snapshot] = inv.snapshots()
    assert snapshot.stats == {"records": 5} and snapshot.assets == 5


def test_keys_kept_while_writing_are_gone_once_complete(db_url: str, engine: Engine) -> None:
    ingest(spread_network(10), source="k", db=db_url, engine=engine, started_at=T0, batch_size=4)
    with open_inventory(db_url, create=False) as inv, inv.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(asset_key_table)).scalar() == 0


def test_an_error_mid_stream_stores_nothing_and_the_inventory_goes_on(db_url: str, engine: Engine) -> None:
    ingest(spread_network(3), source="before", db=db_url, engine=engine, started_at=T0)

    def failing() -> Iterator[Observation]:
        yield from spread_network(10)[:25]
        raise RuntimeError("reader broke")

    with pytest.raises(RuntimeError, match="reader broke"):
        ingest(failing(), source="broken", db=db_url, engine=engine, started_at=T0, batch_size=10)
    with open_inventory(db_url, create=False) as inv:
        assert [s.source for s in inv.snapshots()] == ["before"]
        assert len(inv.assets()) == 3
        with inv.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_table)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(asset_table)).scalar() == 3
    again = ingest(spread_network(10), source="broken", db=db_url, engine=engine, started_at=T0, batch_size=10)
    assert again.asset_count == 10


def test_without_a_store_nothing_is_batched(engine: Engine) -> None:
    result = ingest(spread_network(5), source="x", db=None, engine=engine, batch_size=2)
    assert result.complete and result.asset_count == len(result.assets) == 5 and result.snapshot_id is None


# ---------------------------------------------------------------- snapshots abandoned by a killed writer


def _write_unfinished_in_a_child(url: str) -> None:
    """A writer in another process that commits one batch and is killed (SIGKILL) before finishing."""
    code = (
        "import os, signal, sys\n"
        "from datetime import UTC, datetime\n"
        "from vendorscope.model import AssetKeys, Observation\n"
        "from vendorscope.pipeline import to_assets\n"
        "from vendorscope.store.inventory import open_inventory\n"
        "o = [Observation(kind='mac', value='e0:06:30:00:00:01', source='t', seen_at=datetime.now(UTC),\n"
        "                 keys=AssetKeys(mac='e0:06:30:00:00:01'))]\n"
        "with open_inventory(sys.argv[1]) as inv:\n"
        "    inv.snapshot_writer('killed', datetime.now(UTC), {}).add(o, to_assets(o))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    if not url.startswith("postgresql"):
        return
    # PostgreSQL frees a killed client's session locks when its server process sees the connection close.
    held = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    with open_inventory(url, create=False) as inv:
        for _ in range(600):
            with inv.engine.connect() as conn:
                if not conn.execute(held).scalar():
                    return
            time.sleep(0.05)
    raise AssertionError("the killed writer's advisory lock was never released")


def _incomplete(url: str) -> list[str]:
    with open_inventory(url, create=False) as inv, inv.engine.connect() as conn:
        s = snapshot_table.c
        return [row[0] for row in conn.execute(sa.select(s.source).where(s.complete.is_(False)).order_by(s.id))]


def _rows(url: str) -> int:
    with open_inventory(url, create=False) as inv, inv.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(asset_table)).scalar() or 0)


def test_a_killed_writers_snapshot_is_removed_and_a_live_ones_kept(db_url: str, engine: Engine) -> None:
    ingest(spread_network(3), source="before", db=db_url, engine=engine, started_at=T0)
    _write_unfinished_in_a_child(db_url)
    assert _incomplete(db_url) == ["killed"] and _rows(db_url) == 4
    with open_inventory(db_url) as inv:
        live = inv.snapshot_writer("live", T0, {})
        batch = spread_network(2)
        live.add(batch, to_assets(batch, engine))  # its first batch cleans up after the killed one
        assert _incomplete(db_url) == ["live"] and _rows(db_url) == 3 + 2
        # another cleaner (another process, another import) leaves the writer that is still at work alone
        assert inv.remove_abandoned_snapshots() == []
        with open_inventory(db_url) as other:
            assert other.remove_abandoned_snapshots() == []
        live.finish()
    assert _incomplete(db_url) == []
    with open_inventory(db_url, create=False) as inv:
        assert sorted(s.source for s in inv.snapshots()) == ["before", "live"]
        assert all("_writer" not in s.stats for s in inv.snapshots())


def test_a_writer_mark_is_judged_gone_only_when_provably_gone() -> None:
    from vendorscope.store.inventory import writer_gone, writer_mark

    mine = writer_mark()
    assert not writer_gone(mine)  # this process
    assert not writer_gone({**mine, "host": mine["host"] + "-elsewhere", "pid": 2**22 + 1})  # cannot tell
    assert not writer_gone(None) and not writer_gone({"host": mine["host"], "pid": "1"})
    parent = {**writer_mark(), "pid": os.getppid()}
    assert writer_gone({**parent, "start": -1})  # that process id now belongs to a later process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert writer_gone({**mine, "pid": child.pid})  # ended


def test_a_snapshot_read_back_in_small_chunks_is_every_asset_in_order(db_url: str, engine: Engine) -> None:
    result = ingest(spread_network(10), source="chunks", db=db_url, engine=engine, started_at=T0, batch_size=7)
    assert result.snapshot_id is not None and not result.complete
    with open_inventory(db_url, create=False) as inv:
        whole = inv.assets(result.snapshot_id)
        for chunk in (1, 3, 1000):
            read = list(inv.iter_snapshot_assets(result.snapshot_id, chunk=chunk))
            assert shape(read) == shape(whole) and len(read) == 10
            assert all(a.observations and a.attributions for a in read)
