"""Benchmark of the web API's asset list (not a test).

Stores 100,000 generated assets (the devices of bench_store.py) as one
snapshot, starts `vendorscope serve` on 127.0.0.1 over that inventory, and
sends GET /api/v1/assets from 50 concurrent clients on loopback: pages of the
whole list, filters (vendor group, verdict, text search) and sorts. Reports
the first request (which judges the inventory once per snapshot) separately,
then p50/p95/p99 latency and throughput of the rest.

Target (issue 13): p95 < 200 ms, on SQLite and on PostgreSQL.
Bounded: at most --requests requests and --seconds seconds per database.

    python benchmarks/bench_web.py                 # 100,000 assets
    python benchmarks/bench_web.py --quick         # 10,000 assets
    python benchmarks/bench_web.py --no-postgres
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from bench_store import _postgres, generate  # noqa: E402

from vendorscope.pipeline import to_assets  # noqa: E402
from vendorscope.store.accounts import Accounts  # noqa: E402
from vendorscope.store.inventory import open_inventory  # noqa: E402

TARGET_P95_MS = 200.0
QUERIES = [
    "/api/v1/assets?page={page}",
    "/api/v1/assets?page={page}&size=100&sort=confidence&desc=true",
    "/api/v1/assets?group=huawei&page={page}",
    "/api/v1/assets?verdict=covered&page={page}",
    "/api/v1/assets?group=hikvision&sort=last_seen&page={page}",
    "/api/v1/assets?q=10.0.{third}&page=1",
    "/api/v1/assets?source=pcap&min_confidence=0.5&page={page}",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(url: str, n_assets: int) -> str:
    """Store ``n_assets`` assets as one snapshot; returns a viewer token."""
    observations = generate(n_assets * 3, n_assets)
    t0 = time.perf_counter()
    assets = to_assets(observations)
    print(f"  identify + resolve {len(assets):,} assets: {time.perf_counter() - t0:.1f} s", flush=True)
    with open_inventory(url) as inventory:
        t0 = time.perf_counter()
        inventory.write_snapshot("pcap:bench.pcapng", datetime.now(UTC), observations, assets, {"bench": True})
        print(f"  store: {time.perf_counter() - t0:.1f} s", flush=True)
        return Accounts(inventory.engine).create_token("bench", "viewer")[1]


def serve(url: str, port: int) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("vendorscope")
    proc = subprocess.Popen([str(exe), "serve", "--db", url, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("serve did not start")
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def load(base: str, token: str, clients: int, requests: int, seconds: float, pages: int) -> dict[str, float]:
    latencies: list[float] = []
    by_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    errors = [0]
    lock = threading.Lock()
    remaining = [requests]
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            while time.monotonic() < stop_at:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                query = rng.choice(QUERIES)
                path = query.format(page=rng.randint(1, pages), third=rng.randint(0, 255))
                t0 = time.perf_counter()
                r = http.get(path)
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(elapsed)
                    by_query[query].append(elapsed)
                    if r.status_code != 200:
                        errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ordered = sorted(latencies)
    for query, values in by_query.items():
        if values:
            values.sort()
            print(f"    {query}: {len(values)} requests, p50 {values[len(values) // 2]:.1f} ms, "
                  f"p95 {values[min(len(values) - 1, int(0.95 * len(values)))]:.1f} ms")

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")

    return {"requests": len(ordered), "errors": errors[0], "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "mean_ms": statistics.fmean(ordered) if ordered else float("nan"),
            "per_s": len(ordered) / wall if wall else 0.0}


def bench_database(name: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    print(f"{name}:", flush=True)
    token = fill(url, args.assets)
    port = free_port()
    proc = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
            t0 = time.perf_counter()
            first = http.get("/api/v1/assets")
            first.raise_for_status()
            warm = time.perf_counter() - t0
            print(f"  first request (loads and judges {first.json()['total']:,} assets): {warm:.1f} s", flush=True)
            # Each distinct filter is computed once, then kept: warm them as users would.
            for q in QUERIES:
                http.get(q.format(page=1, third=1)).raise_for_status()
        result = load(base, token, args.clients, args.requests, args.seconds, pages=max(1, args.assets // 50))
        result["first_request_s"] = warm
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"  {result['requests']:,} requests from {args.clients} clients: p50 {result['p50_ms']:.1f} ms, "
          f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, {result['per_s']:.0f} requests/s, "
          f"{result['errors']} errors", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 assets instead of 100,000")
    parser.add_argument("--assets", type=int, default=None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000, help="at most this many requests per database")
    parser.add_argument("--seconds", type=float, default=120.0, help="at most this long per database")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    args.assets = args.assets or (10_000 if args.quick else 100_000)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            results["sqlite"] = bench_database("sqlite", str(Path(tmp) / "web.db"), args)
    if not args.no_postgres:
        with _postgres() as server:
            if server is not None:
                results["postgresql"] = bench_database("postgresql", server.create_database("web"), args)
    print("\nsummary")
    for name, r in results.items():
        verdict = "meets" if r["p95_ms"] < TARGET_P95_MS else "MISSES"
        print(f"  {name}: asset list p95 {r['p95_ms']:.1f} ms with {args.clients} clients ({verdict} target "
              f"{TARGET_P95_MS:.0f} ms); first request {r['first_request_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
