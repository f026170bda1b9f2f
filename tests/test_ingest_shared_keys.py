"""Later batches and stored devices that share a host name or address: the batch writer loads only
the first stored holder of such a key (the one group_assets tries it against), and stores exactly
what loading every holder stores."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_batches import shape, stored

from vendorscope.identify.engine import Engine
from vendorscope.model import AssetKeys, Observation
from vendorscope.pipeline import ingest
from vendorscope.store import inventory as inventory_module

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MACS = [f"e0:06:30:00:00:{i:02x}" for i in range(4)] + [f"00:e0:fc:00:00:{i:02x}" for i in range(2)]


def obs(kind: str, value: str, keys: dict[str, str]) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=T0, keys=AssetKeys(**keys))


@pytest.fixture
def load_every_holder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def switch(on: bool) -> None:
        monkeypatch.setattr(inventory_module, "_LOAD_EVERY_HOLDER", on)
    yield switch


def loaded_numbers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the stored assets the batch writer reads back to merge with (each batch's count)."""
    counts: list[int] = []
    original = inventory_module.Inventory._load_snapshot_rows

    def counting(self: Any, conn: Any, snapshot_id: int, *args: Any, asset_nos: Any = None, **kw: Any) -> Any:
        if asset_nos is not None:
            counts.append(len(asset_nos))
        return original(self, conn, snapshot_id, *args, asset_nos=asset_nos, **kw)

    monkeypatch.setattr(inventory_module.Inventory, "_load_snapshot_rows", counting)
    return counts


def devices_behind_one_address(n: int) -> list[Observation]:
    """n cameras, each with its own MAC and serial, all reported at one address (a NAT, a
    recorder answering for its cameras), then a last sighting of the address alone."""
    stream = [obs("mac", f"e0:06:30:01:{i >> 8:02x}:{i & 255:02x}",
                  {"mac": f"e0:06:30:01:{i >> 8:02x}:{i & 255:02x}", "ip": "198.51.100.7", "serial": f"SN{i}"})
              for i in range(n)]
    stream.append(obs("http.server", "App-webs/", {"ip": "198.51.100.7"}))
    return stream


def test_devices_sharing_an_address_cost_later_batches_one_row_each(
        db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, load_every_holder: Any) -> None:
    network = devices_behind_one_address(120)
    counts = loaded_numbers(monkeypatch)
    load_every_holder(True)
    every = ingest(network, source="every", db=db_url, engine=engine, started_at=T0, batch_size=10)
    every_counts, counts[:] = list(counts), []
    load_every_holder(False)
    first = ingest(network, source="first", db=db_url, engine=engine, started_at=T0, batch_size=10)
    assert max(every_counts) >= 100  # loading every holder: the last batches read back ~all of them
    assert counts and max(counts) == 1  # the first holder only
    assert shape(stored(db_url, first.snapshot_id or 0)) == shape(stored(db_url, every.snapshot_id or 0))
    assets = stored(db_url, first.snapshot_id or 0)
    assert len(assets) == 120  # their own MACs keep them apart; the bare sighting joins the first
    [joined] = [a for a in assets if any(o.kind == "http.server" for o in a.observations)]
    assert joined.keys["serial"] == {"SN0"}


def test_an_address_reused_days_later_does_not_join_the_devices_stored_apart(db_url: str, engine: Engine) -> None:
    """Two devices at one address three days apart are stored apart (the IP window); a later batch
    that sights the address merges into the first of them only, as one batch keeps them apart.
    (Loading every holder merged all three.)"""
    def sighting(kind: str, value: str, days: int) -> Observation:
        return Observation(kind=kind, value=value, source="test", seen_at=T0 + timedelta(days=days),
                           keys=AssetKeys(ip="192.0.2.9"))

    stream = [sighting("http.server", "App-webs/", 0), sighting("ssh.banner", "SSH-2.0-HUAWEI-1.5", 3),
              sighting("inventory.manufacturer", "Hikvision", 0)]
    batched = ingest(stream, source="batched", db=db_url, engine=engine, started_at=T0, batch_size=2)
    whole = ingest(stream, source="whole", db=db_url, engine=engine, started_at=T0)
    kinds = [sorted(sorted(o.kind for o in a.observations) for a in stored(db_url, r.snapshot_id or 0))
             for r in (batched, whole)]
    assert kinds[0] == kinds[1] == [["http.server", "inventory.manufacturer"], ["ssh.banner"]]


key_values = {
    "mac": st.sampled_from(MACS),
    "serial": st.sampled_from(["SN1", "SN2", "SN3"]),
    "hostname": st.sampled_from(["ipc", "hgw", "router"]),
    "ip": st.sampled_from(["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
}
observation_keys = st.fixed_dictionaries({}, optional=key_values).filter(bool)
evidence = st.sampled_from([("inventory.manufacturer", "Hikvision"), ("inventory.manufacturer", "Huawei"),
                            ("http.server", "App-webs/"), ("inventory.model", "DS-2CD2143G0-I"),
                            ("ssh.banner", "SSH-2.0-OpenSSH_9.2")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(evidence, observation_keys), min_size=1, max_size=24), st.integers(1, 5))
def test_first_holder_stores_what_every_holder_stores(
        engine: Engine, stream: list[tuple[tuple[str, str], dict[str, str]]], batch_size: int) -> None:
    observations = [obs(kind, value, keys) for (kind, value), keys in stream]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "inventory.db")
        results = []
        for every, source in ((True, "every"), (False, "first")):
            inventory_module._LOAD_EVERY_HOLDER = every
            try:
                results.append(ingest(observations, source=source, db=db, engine=engine, started_at=T0,
                                      batch_size=batch_size))
            finally:
                inventory_module._LOAD_EVERY_HOLDER = False
        every_assets, first_assets = (stored(db, r.snapshot_id or 0) for r in results)
        assert shape(first_assets) == shape(every_assets)
        assert sum(len(a.observations) for a in first_assets) == len(observations)
