"""Benchmark of one asset's evidence chain (`asset ID`, the web's asset page) in a big inventory (not a test).

Writes two sources (a capture and a CMDB import) of N devices each into SQLite, the same devices
seen by both (their MAC and IP), then times `Inventory.asset` for devices spread over the list:

  1. the key search: only the parts linked to the asked id by shared keys are loaded and grouped;
  2. the baseline, measured in the same run: every part of every current snapshot loaded and
     grouped (what `asset` did before, and still does past MAX_NEAR_PARTS linked parts).

    python benchmarks/bench_asset_page.py                 # 100,000 devices per source
    python benchmarks/bench_asset_page.py --quick         # 20,000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vendorscope.model import AssetKeys, Observation
from vendorscope.resolve import resolve
from vendorscope.store import inventory as inventory_module
from vendorscope.store.inventory import Inventory, open_inventory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def device_keys(i: int) -> AssetKeys:
    return AssetKeys(mac=f"02:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01",
                     ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")


def fill(inv: Inventory, devices: int) -> None:
    for source, kind, value in (("pcap:site.pcapng", "ssh.banner", "SSH-2.0-HUAWEI-1.5"),
                                ("import:cmdb.csv", "inventory.model", "S5735-L48T4X-A1")):
        observations = [Observation(kind, f"{value} #{i}", source, T0, device_keys(i), {"row": i})
                        for i in range(devices)]
        inv.write_snapshot(source, T0, observations, resolve(observations, lambda o: []), {})


def time_lookups(inv: Inventory, ids: list[str]) -> list[float]:
    out = []
    for asset_id in ids:
        start = time.perf_counter()
        found = inv.asset(asset_id)
        out.append(time.perf_counter() - start)
        assert found is not None and len({o.source for o in found.observations}) == 2, asset_id
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000, help="devices per source (default 100,000)")
    parser.add_argument("--lookups", type=int, default=5, help="assets looked up (default 5)")
    parser.add_argument("--quick", action="store_true", help="20,000 devices")
    args = parser.parse_args()
    devices = 20_000 if args.quick else args.devices
    with tempfile.TemporaryDirectory() as tmp, open_inventory(str(Path(tmp) / "inventory.db")) as inv:
        start = time.perf_counter()
        fill(inv, devices)
        print(f"wrote 2 sources x {devices:,} devices in {time.perf_counter() - start:.1f} s")
        ids = [f"mac:{device_keys(i).mac}" for i in range(0, devices, max(1, devices // args.lookups))][:args.lookups]
        searched = time_lookups(inv, ids)
        original = inventory_module.MAX_NEAR_PARTS
        inventory_module.MAX_NEAR_PARTS = 0  # every lookup takes the group-everything path
        try:
            grouped = time_lookups(inv, ids)
        finally:
            inventory_module.MAX_NEAR_PARTS = original
    s, g = statistics.median(searched), statistics.median(grouped)
    print(f"asset lookup, median of {len(ids)}: key search {s * 1000:.0f} ms, "
          f"all parts grouped (baseline) {g * 1000:.0f} ms: {g / s:.1f}x faster")


if __name__ == "__main__":
    main()
