"""Benchmark of `history` and `diff` over many snapshots (not a test).

Writes 100 weekly snapshots of one source, each of 10,000 assets (realistic
kinds and values, from bench_store.py's generator), ten assets replaced from
one week to the next, into SQLite (a temporary file), then times:

  1. the uncached path: every snapshot loaded, merged and judged
     (``history(..., cached=False)``), the baseline measured in the same run;
  2. the first (cold) cached `history`: the same work, plus keeping each judged
     snapshot in the store;
  3. the second (warm) `history`: read back; target (issue 12) < 2 s;
  4. `diff` first → last: uncached, cold and warm.

Judging uses every bundled policy pack unless --policy names some (judging is
~2.6 ms per asset with all 22 packs, so the uncached path at full size takes
most of an hour; --policy with a few packs keeps the same shape quicker).

    python benchmarks/bench_history.py                          # 100 snapshots x 10,000 assets
    python benchmarks/bench_history.py --quick                  # 20 snapshots x 2,000 assets
    python benchmarks/bench_history.py --policy us-fcc-covered-list --policy de-5g-2024
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import generate  # noqa: E402

from vendorscope.assess import Criteria, diff, history  # noqa: E402
from vendorscope.judge.packs import load_packs  # noqa: E402
from vendorscope.model import Asset  # noqa: E402
from vendorscope.pipeline import to_assets  # noqa: E402
from vendorscope.store.inventory import Inventory, open_inventory  # noqa: E402

SOURCE = "scan:weekly"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
CHURN = 10  # assets replaced from one snapshot to the next
OBSERVATIONS_PER_ASSET = 6


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn``; print and return its wall-clock seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {label}: {seconds:.3f} s (CPU {cpu:.2f} s)", flush=True)
    return value, seconds


def pool_of(n_assets: int, n_snapshots: int) -> list[Asset]:
    """Enough distinct assets for every snapshot's window, sorted by id."""
    total = n_assets + CHURN * n_snapshots
    observations = generate(total * OBSERVATIONS_PER_ASSET, total)
    return sorted(to_assets(observations), key=lambda a: a.id)


def write_snapshots(inventory: Inventory, pool: list[Asset], n_assets: int, n_snapshots: int) -> list[int]:
    """Snapshot k holds the window pool[k*CHURN : k*CHURN + n_assets], a week after snapshot k-1."""
    ids = []
    for k in range(n_snapshots):
        window = pool[k * CHURN:k * CHURN + n_assets]
        observations = [o for a in window for o in a.observations]
        ids.append(inventory.write_snapshot(SOURCE, T0 + timedelta(weeks=k), observations, window))
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 snapshots of 2,000 assets")
    parser.add_argument("--snapshots", type=int, default=None)
    parser.add_argument("--assets", type=int, default=None)
    parser.add_argument("--policy", action="append", default=[], help="Judge with only this pack. Repeatable.")
    args = parser.parse_args(argv)
    n_snapshots = args.snapshots or (20 if args.quick else 100)
    n_assets = args.assets or (2_000 if args.quick else 10_000)
    packs = [p for p in load_packs() if not args.policy or p.id in args.policy]
    criteria = Criteria.of(packs)
    print(f"{n_snapshots} snapshots x {n_assets:,} assets, judged with {len(packs)} pack(s)", flush=True)
    pool, _ = timed("generate, identify, resolve", lambda: pool_of(n_assets, n_snapshots))
    with tempfile.TemporaryDirectory() as tmp, open_inventory(str(Path(tmp) / "history.db")) as inventory:
        ids, _ = timed(f"write {n_snapshots} snapshots", lambda: write_snapshots(inventory, pool, n_assets,
                                                                                   n_snapshots))
        pool.clear()
        print("history:", flush=True)
        plain, uncached = timed("uncached (every snapshot judged)", lambda: history(inventory, criteria, cached=False))
        cold_entries, cold = timed("first, cold (judged and kept)", lambda: history(inventory, criteria))
        warm_entries, warm = timed("second, warm (read back)", lambda: history(inventory, criteria))
        same = plain == cold_entries == warm_entries
        print("diff first -> last:", flush=True)
        plain_diff, diff_uncached = timed("uncached", lambda: diff(inventory, ids[0], ids[-1], criteria, cached=False))
        cold_diff, diff_cold = timed("first, cold", lambda: diff(inventory, ids[0], ids[-1], criteria))
        warm_diff, diff_warm = timed("second, warm", lambda: diff(inventory, ids[0], ids[-1], criteria))
        same_diff = plain_diff == cold_diff == warm_diff

    covered = max((c.covered for c in plain[-1].coverage or []), default=0)
    print("\nsummary")
    print(f"  history over {n_snapshots} snapshots x {n_assets:,} assets ({len(packs)} packs, up to {covered:,} "
          f"covered assets per requirement):")
    print(f"    uncached {uncached:.2f} s, cold {cold:.2f} s ({cold / uncached:.2f}x the uncached time), "
          f"warm {warm:.3f} s ({uncached / warm:,.0f}x faster than uncached)")
    print(f"    warm target < 2 s: {'met' if warm < 2 else 'NOT met'}; same entries on every path: {same}")
    print(f"  diff: uncached {diff_uncached:.2f} s, cold {diff_cold:.2f} s, warm {diff_warm:.2f} s "
          f"({diff_uncached / diff_warm:.1f}x faster; it still loads both snapshots); same diff: {same_diff}")
    return 0 if same and same_diff else 1


if __name__ == "__main__":
    sys.exit(main())
