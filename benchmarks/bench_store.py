"""Benchmark of the store stage (not a test).

Generates 1,000,000 observations of about 50,000 assets (realistic kinds and
values: MACs of covered and other vendors, SSH/HTTP/RTSP/SNMP banners, TLS
subjects, DHCP hostnames, inventory labels), resolves them into assets once,
then:

  1. ingests them as one snapshot into SQLite (a temporary file) and into
     PostgreSQL (a temporary cluster, see tests/pg.py): observations/s;
  2. loads the assets back and judges them against all policy packs: assets/s;
  3. renders the report: seconds (when the report stage exists).

Targets (issue 5): ingest ≥ 100,000 observations/s on SQLite and ≥ 50,000/s on
PostgreSQL. "Ingest" is the store write: one snapshot, one transaction.

    python benchmarks/bench_store.py            # 1,000,000 observations
    python benchmarks/bench_store.py --quick    # 100,000 observations
    python benchmarks/bench_store.py --no-postgres
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from vendorscope.assess import Criteria, assess_inventory  # noqa: E402
from vendorscope.judge.packs import load_packs  # noqa: E402
from vendorscope.model import AssetKeys, Observation  # noqa: E402
from vendorscope.pipeline import to_assets  # noqa: E402
from vendorscope.store.inventory import open_inventory  # noqa: E402

# (OUI, device families) for each maker; the families pick banners below.
MAKERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("huawei", "00:e0:fc", ("router", "switch", "ont")),
    ("huawei", "28:6e:d4", ("router", "switch")),
    ("zte", "00:19:c6", ("router", "ont")),
    ("hikvision", "c0:56:e3", ("camera",)),
    ("hikvision", "bc:ad:28", ("camera",)),
    ("dahua", "3c:ef:8c", ("camera",)),
    ("hytera", "00:1b:f5", ("radio",)),
    ("cisco", "00:1b:54", ("router", "switch")),
    ("juniper", "00:05:85", ("router",)),
    ("axis", "00:40:8c", ("camera",)),
    ("dell", "00:14:22", ("server",)),
    ("hp", "00:1e:0b", ("server", "printer")),
    ("apple", "00:1c:b3", ("laptop",)),
    ("intel", "00:1b:21", ("laptop", "server")),
]
BANNERS: dict[str, list[tuple[str, str]]] = {
    "router": [
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5"),
        ("ssh.banner", "SSH-2.0-Cisco-1.25"),
        ("snmp.sysdescr",
         "Huawei Versatile Routing Platform Software VRP (R) software, Version 8.180 (NE40E V800R011C10SPC100)"),
        ("snmp.sysdescr", "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5"),
        ("snmp.sysdescr", "ZXR10 ROS Version V4.08.23 ZTE ZXR10 M6000"),
        ("snmp.sysobjectid", "1.3.6.1.4.1.2011.2.224.279"),
        ("snmp.sysobjectid", "1.3.6.1.4.1.9.1.1041"),
        ("http.server", "Huawei Auth-Http Server 1.0"),
        ("tls.cert.subject", "CN=Huawei Web Server,O=Huawei,C=CN"),
    ],
    "switch": [
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5"),
        ("lldp.sysdescr", "S5720-28X-SI-AC Huawei Versatile Routing Platform Software VRP (R) software, Version 5.170"),
        ("snmp.sysdescr", "Cisco IOS Software, C3750E Software (C3750E-UNIVERSALK9-M), Version 15.0(2)SE11"),
        ("cdp.platform", "cisco WS-C2960X-48FPD-L"),
    ],
    "ont": [
        ("http.server", "GoAhead-Webs"),
        ("http.title", "HG8245H"),
        ("telnet.banner", "Welcome Visiting Huawei Home Gateway\r\nCopyright by Huawei Technologies Co., Ltd."),
        ("dhcp.vendor_class", "HuaweiSymantecHomeGateway"),
    ],
    "camera": [
        ("http.server", "App-webs/"),
        ("http.server", "DNVRS-Webs"),
        ("http.server", "Webs"),
        ("rtsp.server", "Hikvision-Webs"),
        ("rtsp.server", "Dahua Rtsp Server"),
        ("http.www_authenticate", 'Digest realm="IP Camera(C6193)"'),
        ("onvif.manufacturer", "HIKVISION"),
        ("onvif.manufacturer", "Dahua"),
        ("upnp.manufacturer", "Acme Security"),
        ("inventory.manufacturer", "Acme Security"),
        ("http.server", "Boa/0.94.14rc21"),
    ],
    "radio": [
        ("sip.user_agent", "Hytera MD785G"),
        ("snmp.sysdescr", "Hytera Repeater RD985"),
    ],
    "server": [
        ("ssh.banner", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"),
        ("http.server", "nginx/1.24.0"),
        ("http.server", "Apache/2.4.57 (Debian)"),
        ("tls.cert.subject", "CN=intranet.example.org"),
    ],
    "printer": [("http.server", "HP HTTP Server; HP LaserJet MFP M428fdw"),
                ("snmp.sysdescr", "HP ETHERNET MULTI-ENVIRONMENT")],
    "laptop": [("dhcp.vendor_class", "MSFT 5.0"), ("mdns.txt", "model=MacBookPro18,3")],
}
SOURCE = "bench:generated"


def generate(n_observations: int, n_assets: int, seed: int = 5) -> list[Observation]:
    """About n_observations observations of n_assets devices, shuffled like a capture."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    per_asset = max(1, n_observations // n_assets)
    observations: list[Observation] = []
    for i in range(n_assets):
        _, oui, families = rng.choice(MAKERS)
        family = rng.choice(families)
        mac = f"{oui}:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"
        ip = f"10.{(i >> 16) & 0xFF}.{(i >> 8) & 0xFF}.{i & 0xFF}"
        keys = AssetKeys(mac=mac, ip=ip)
        evidence = rng.sample(BANNERS[family], k=min(len(BANNERS[family]), rng.randint(1, 3)))
        for j in range(per_asset):
            seen = start + timedelta(seconds=rng.randint(0, 86_400))
            frame = i * per_asset + j
            if j % 4 == 0:
                kind, value = "mac", mac
            else:
                kind, value = evidence[j % len(evidence)]
            port = {"ssh": 22, "http": 80, "rtsp": 554, "snmp": 161, "tls": 443}.get(kind.split(".")[0])
            context: dict[str, Any] = {"file": "capture-2025-03-01.pcapng", "frame": frame}
            if port:
                context["port"] = port
            observations.append(Observation(kind, value, "pcap:capture-2025-03-01.pcapng", seen, keys, context))
    rng.shuffle(observations)
    return observations[:n_observations]


def timed(label: str) -> Callable[[Callable[[], Any]], tuple[Any, float]]:
    """Run and time ``fn``: wall-clock seconds (printed with this process's CPU seconds)."""

    def run(fn: Callable[[], Any]) -> tuple[Any, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"  {label}: {seconds:.2f} s (CPU {cpu:.2f} s in this process)", flush=True)
        return value, seconds

    return run


def bench_database(name: str, url: str, observations: list[Observation], assets: list[Any]) -> dict[str, float]:
    print(f"{name}:", flush=True)
    results: dict[str, float] = {}
    with open_inventory(url) as inventory:
        snapshot_id, seconds = timed("ingest (one snapshot)")(
            lambda: inventory.write_snapshot(SOURCE, datetime.now(UTC), observations, assets, {"bench": True})
        )
        results["ingest_obs_per_s"] = len(observations) / seconds
        print(f"  ingest: {len(observations) / seconds:,.0f} observations/s (snapshot {snapshot_id})", flush=True)
        loaded, seconds = timed("load assets for judging")(lambda: inventory.assets(all_observations=False))
        results["load_assets_per_s"] = len(loaded) / seconds
        print(f"  load: {len(loaded) / seconds:,.0f} assets/s ({len(loaded):,} assets)", flush=True)
        criteria = Criteria.of(load_packs())
        packs = criteria.packs
        findings, seconds = timed("judge all assets against all packs")(
            lambda: criteria.findings(loaded, date.today())
        )
        results["judge_assets_per_s"] = len(loaded) / seconds
        print(f"  judge: {len(loaded) / seconds:,.0f} assets/s ({len(findings):,} findings)", flush=True)
        assessment, seconds = timed("assess (condensed read + judge)")(
            lambda: assess_inventory(inventory, criteria, date.today())
        )
        results["assess_assets_per_s"] = len(assessment.assets) / seconds
        print(f"  assess: {len(assessment.assets) / seconds:,.0f} assets/s (what `report` does)", flush=True)
        # ---- REPORT TIMING ------------------------------------------------------------------------
        # The report stage: build the report data from the judged assets and render the HTML.
        # If the report's entry points change, this is the one place to adapt.
        report = _report_renderer()
        if report is None:
            print("  report: skipped (vendorscope.report.data / .html not installed yet)")
        else:
            html, seconds = timed("render report (build data + HTML)")(
                lambda: report(loaded, findings, packs, inventory.snapshots())
            )
            results["report_s"] = seconds
            print(f"  report: {seconds:.2f} s ({len(html) / 1e6:.1f} MB of HTML)", flush=True)
            opened = _open_in_chromium(html)
            if opened is not None:
                results["report_open_s"] = opened
                verdict = "met" if opened < 3 else "NOT met"
                print(f"  report opens in Chromium in {opened:.2f} s (target < 3 s: {verdict})", flush=True)
        # -------------------------------------------------------------------------------------------
    return results


def _report_renderer() -> Callable[[list[Any], list[Any], Any, list[Any]], str] | None:
    """Build and render the HTML report, if the report stage is installed."""
    try:
        data_module = importlib.import_module("vendorscope.report.data")
        html_module = importlib.import_module("vendorscope.report.html")
    except ImportError:
        return None

    def render(assets: list[Any], findings: list[Any], packs: Any, snapshots: list[Any]) -> str:
        data = data_module.build_report(assets, findings, date.today(), packs=packs, snapshots=snapshots)
        return str(html_module.render_html(data))

    return render


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _open_in_chromium(html: str) -> float | None:
    """Seconds from navigation until the findings table shows its first rows."""
    import tempfile
    import time as _time
    from pathlib import Path as _Path

    if not _Path(CHROMIUM).exists():
        print("  chromium: skipped (install Debian's chromium)")
        return None
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = _Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(_Path(tmp) / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = context.new_page()
            page.goto("about:blank")
            start = _time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_selector("#findings-body tr.finding", timeout=120_000)
            seconds = _time.perf_counter() - start
            context.close()
    return seconds


def _postgres() -> AbstractContextManager[Any]:
    from pg import find_pg_bin, postgres_server

    if find_pg_bin() is None:
        print("postgresql: skipped (no server binaries; run .ci/install-postgres.sh)")
        return nullcontext(None)
    return postgres_server()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 observations instead of 1,000,000")
    parser.add_argument("--observations", type=int, default=None)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    n = args.observations or (100_000 if args.quick else 1_000_000)
    n_assets = max(1, n // 20)
    print(f"generating {n:,} observations of {n_assets:,} assets", flush=True)
    observations, _ = timed("generate")(lambda: generate(n, n_assets))
    assets, seconds = timed("identify + resolve (not part of the store target)")(lambda: to_assets(observations))
    print(f"  {len(assets):,} assets; identify + resolve {len(observations) / seconds:,.0f} observations/s")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            results["sqlite"] = bench_database("sqlite", str(Path(tmp) / "bench.db"), observations, assets)
    if not args.no_postgres:
        with _postgres() as server:
            if server is not None:
                results["postgresql"] = bench_database("postgresql", server.create_database("bench"),
                                                       observations, assets)
    print("\nsummary")
    targets = {"sqlite": 100_000, "postgresql": 50_000}
    for name, r in results.items():
        verdict = "meets" if r["ingest_obs_per_s"] >= targets[name] else "MISSES"
        print(f"  {name}: ingest {r['ingest_obs_per_s']:,.0f} obs/s ({verdict} target {targets[name]:,}/s)"
              + "".join(f", {k} {v:,.1f}" for k, v in r.items() if k != "ingest_obs_per_s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
