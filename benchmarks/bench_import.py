"""Benchmark of the streaming importers (not a test): nmap XML and scan-data JSON lines,
then whole `vendorscope import` runs (read → identify → resolve → store in SQLite) per importer.

Generates a 500 MB nmap XML file (hosts copied from the lab scan in
tests/fixtures/nmap/, each with its own address) and a 1 GB scan-data file
(Shodan banners, Censys hosts and ZGrab2 results from tests/fixtures/scandata/,
each with its own address), then reads each at two sizes — a quarter of the
file and all of it — in a fresh process, and prints records/s, observations/s
and the peak memory of each run. The importers stream, so the two peaks must
be about the same: memory stays flat as the file grows.

Measured is the importer alone (file → observations, each one discarded); the
`import` command then keeps the observations for identify → resolve → store,
which grows with the evidence, not with the file.

    python benchmarks/bench_import.py            # 500 MB nmap, 1 GB scan data
    python benchmarks/bench_import.py --quick    # 40 MB and 80 MB

``--pipeline`` measures the whole command instead, each run in a fresh child
process (peak RSS from ``os.wait4``, the child's own rusage), at two sizes per
importer: a table CSV (hostname, ip, mac, manufacturer, model, site) of
``--rows`` rows and a quarter of it, nmap XML, scan-data JSON lines, SBOM files
(many small ones, then one large document), and a NetBox stand-in on 127.0.0.1
(tests/netbox_replay.py) serving ``--devices`` devices. The import stores batch
by batch, so peak RSS must stay about the same as the input grows (an SBOM is
one document read whole, up to its 128 MB limit: that one grows with the
document). Peak RSS is the child's own (VmHWM), see ``run_import``.

    python benchmarks/bench_import.py --pipeline --rows 1000000
    python benchmarks/bench_import.py --pipeline --quick    # 100,000 rows, small files
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
NMAP_FIXTURE = ROOT / "tests" / "fixtures" / "nmap" / "lab-sV.xml"
SCAN_FIXTURES = [ROOT / "tests" / "fixtures" / "scandata" / n
                 for n in ("shodan-banners.jsonl", "censys-hosts.jsonl", "zgrab2-results.jsonl")]
MB = 1 << 20
# Peak memory may differ this much between the small and the large run and still count as flat.
FLAT_SLACK = 1.25
FLAT_SLACK_MB = 24


def _address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def nmap_hosts() -> list[str]:
    """The lab scan's hosts that have open ports, with their address as a placeholder."""
    text = NMAP_FIXTURE.read_text("utf-8")
    hosts = [h for h in re.findall(r"<host .*?</host>", text, re.S) if 'state="open"' in h]
    return [re.sub(r'addr="127\.77\.5\.\d+"', 'addr="{ip}"', h, count=1) for h in hosts]


def write_nmap(path: Path, size: int) -> int:
    text = NMAP_FIXTURE.read_text("utf-8")
    head = text[: text.index("<host ")]
    templates = nmap_hosts()
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        written = len(head)
        while written < size:
            chunk = "\n".join(templates[(count + k) % len(templates)].replace("{ip}", _address(count + k))
                              for k in range(200))
            out.write(chunk + "\n")
            written += len(chunk) + 1
            count += 200
        out.write('<runstats><finished time="1795960682"/></runstats>\n</nmaprun>\n')
    return count


def scan_records() -> list[str]:
    lines = []
    for path in SCAN_FIXTURES:
        for line in path.read_text("utf-8").splitlines():
            record = json.loads(line)
            text = json.dumps(record, ensure_ascii=False)
            for ip in set(re.findall(r'"(?:ip_str|ip)": "([0-9.]+)"', text)):
                text = text.replace(f'"{ip}"', '"{ip}"')
            lines.append(text)
    return lines


def write_scandata(path: Path, size: int) -> int:
    templates = scan_records()
    count = 0
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < size:
            chunk = "\n".join(templates[(count + k) % len(templates)].replace("{ip}", _address(count + k))
                              for k in range(500)) + "\n"
            out.write(chunk)
            written += len(chunk)
            count += 500
    return count


def child(kind: str, path: Path, limit: int) -> dict[str, float]:
    """Read ``limit`` bytes of the file with the importer; runs in its own process."""
    from vendorscope.collect.imports.common import Collector
    from vendorscope.collect.imports.nmap import read_nmap
    from vendorscope.collect.imports.scandata import read_scandata

    class Limited:
        def __init__(self, raw: object, left: int) -> None:
            self.raw, self.left = raw, left

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            data = self.raw.read(n)  # type: ignore[attr-defined]
            self.left -= len(data)
            return data

        def readline(self, n: int = -1) -> bytes:
            if self.left <= 0:
                return b""
            n = self.left if n < 0 else min(n, self.left)
            data = self.raw.readline(n)  # type: ignore[attr-defined]
            self.left -= len(data)
            return data

    collector = Collector()
    now = datetime.now(UTC)
    start = time.perf_counter()
    observations = 0
    with path.open("rb") as raw:
        stream = Limited(raw, limit)
        reader = read_nmap if kind == "nmap" else read_scandata
        for _ in reader(stream, path.name, "bench", collector, now):  # type: ignore[arg-type]
            observations += 1
    seconds = time.perf_counter() - start
    return {"records": collector.records, "observations": observations, "bad": collector.bad_count,
            "seconds": seconds, "bytes": limit, "peak_mb": own_peak_mb()}


def measure(kind: str, path: Path, limit: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(limit)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(kind: str, path: Path, size: int) -> bool:
    runs = [measure(kind, path, size // 4), measure(kind, path, size)]
    for run in runs:
        print(f"  {kind:8} {run['bytes'] / MB:7.0f} MB: {run['records']:>9,.0f} records "
              f"({run['records'] / run['seconds']:>9,.0f}/s), {run['observations']:>10,.0f} observations "
              f"({run['observations'] / run['seconds']:>9,.0f}/s), {run['bytes'] / MB / run['seconds']:6.1f} MB/s, "
              f"bad {run['bad']:.0f}, peak memory {run['peak_mb']:6.1f} MB", flush=True)
    small, large = runs[0]["peak_mb"], runs[1]["peak_mb"]
    flat = large <= small * FLAT_SLACK or large - small <= FLAT_SLACK_MB
    print(f"  {kind}: peak memory {small:.1f} MB at {runs[0]['bytes'] / MB:.0f} MB of input, "
          f"{large:.1f} MB at {runs[1]['bytes'] / MB:.0f} MB: {'flat' if flat else 'GROWS WITH THE FILE'}")
    # the quarter run may stop inside a record (one bad record); the whole file must have none
    return flat and runs[1]["bad"] == 0


# ---------------------------------------------------------------- the whole command

SBOM_FIXTURES = ROOT / "tests" / "fixtures" / "sbom"
NETBOX_FIXTURES = ROOT / "tests" / "fixtures" / "netbox"
TABLE_DEVICES = [("Hikvision", "DS-2CD2143G0-I"), ("Cisco", "C9300-48P"), ("Huawei", "S5735-L48T4X"),
                 ("Dahua", "IPC-HFW2431S"), ("HP", "LaserJet M404"), ("Juniper", "EX4300")]


def write_table(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        out.write("hostname,ip,mac,manufacturer,model,site\n")
        for start in range(0, rows, 10_000):
            lines = []
            for i in range(start, min(rows, start + 10_000)):
                maker, model = TABLE_DEVICES[i % len(TABLE_DEVICES)]
                mac = ":".join(f"{b:02x}" for b in (2, 0, i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255))
                lines.append(f"host-{i},{_address(i)},{mac},{maker},{model},site-{i % 50}\n")
            out.write("".join(lines))
    return rows


def write_sboms(folder: Path, count: int, shared_address: bool = False) -> list[Path]:
    """``count`` copies of the SBOM fixtures, each made its own product (document id, serial number, host name,
    address and MAC address changed), as an export of many devices' SBOMs would be; with ``shared_address``
    all keep the fixture's one address (devices behind one NAT address: the worst case for merging)."""
    folder.mkdir(exist_ok=True)
    fixtures = sorted(p for p in SBOM_FIXTURES.iterdir() if p.is_file())
    paths = []
    for i in range(count):
        fixture = fixtures[i % len(fixtures)]
        path = folder / f"{i:06d}-{fixture.name}"
        path.write_bytes(own_copy(fixture.read_bytes(), i, shared_address))
        paths.append(path)
    return paths


def own_copy(data: bytes, i: int, shared_address: bool = False) -> bytes:
    data = re.sub(rb"urn:uuid:[0-9a-f-]+", lambda m: m.group(0) + f"-{i}".encode(), data)
    data = re.sub(rb'("documentNamespace":\s*"[^"]+)"', lambda m: m.group(1) + f'-{i}"'.encode(), data)
    for serial in (b"AAWRJ12345678", b"2102311TUJ10L9000123"):  # the devices' serial numbers
        data = data.replace(serial, serial[:-8] + f"{i:08d}".encode())
    data = data.replace(b"OLT-MA5800-01", f"OLT-MA5800-{i}".encode())
    # Left shared, the fixture's address makes every copy a candidate for merging with the stored ones
    # (they never merge: their serial numbers differ); the store reads back only the first of them.
    if not shared_address:
        data = data.replace(b"10.20.30.41", _address(i).encode())
    return data.replace(b"4C-BD-8F-12-34-56", f"4C-BD-8F-{i >> 16 & 255:02X}-{i >> 8 & 255:02X}-{i & 255:02X}".encode())


def write_big_sbom(path: Path, components: int) -> Path:
    """One CycloneDX document of ``components`` libraries (each with a description and hashes the reader skips)."""
    parts = [{"type": "library", "name": f"lib{i}", "version": "1.0",
              "purl": f"pkg:maven/com.vendor{i % 500}/lib{i}@1.0",
              "supplier": {"name": f"Supplier {i % 300}"}, "description": "x" * 200,
              "hashes": [{"alg": "SHA-256", "content": "ab" * 32}], "licenses": [{"license": {"id": "MIT"}}]}
             for i in range(components)]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": f"urn:uuid:bench-{components}",
           "metadata": {"component": {"type": "device", "name": "Camera", "manufacturer": {"name": "Hikvision"}}},
           "components": parts}
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def netbox_device(template: dict[str, object], i: int) -> dict[str, object]:
    """Device ``i`` of the stand-in: a recorded device renamed, without an address (each its own asset)."""
    device = dict(template)
    device.update(id=i + 1, name=f"dev-{i}", display=f"dev-{i}", serial=f"SN{i:08d}", asset_tag=f"AT-{i}",
                  primary_ip=None, primary_ip4=None)
    return device


def netbox_server(devices: int) -> object:
    """The loopback NetBox stand-in (tests/netbox_replay.py) serving ``devices`` generated devices a page at a
    time: no file of them is written or parsed per request, so any size serves at the same speed."""
    sys.path.insert(0, str(ROOT / "tests"))
    from netbox_replay import NetboxReplay

    recorded = json.loads((NETBOX_FIXTURES / "dcim-devices.json").read_text("utf-8"))["results"]

    class GeneratedNetbox(NetboxReplay):  # type: ignore[misc]
        def answer(self, raw_path: str, authorization: str | None, host: str) -> tuple[int, object, dict[str, str]]:
            parts = urlsplit(raw_path)
            if parts.path.rstrip("/") != "/api/dcim/devices" or authorization != f"Token {self.token}":
                return super().answer(raw_path, authorization, host)  # type: ignore[no-any-return]
            query = parse_qs(parts.query)
            limit = min(int(query.get("limit", ["50"])[0]) or self.max_page_size, self.max_page_size)
            offset = int(query.get("offset", ["0"])[0])
            page = [netbox_device(recorded[i % len(recorded)], i) for i in range(offset, min(devices, offset + limit))]
            following = offset + limit
            next_url = f"http://{host}{parts.path}?limit={limit}&offset={following}" if following < devices else None
            return 200, {"count": devices, "next": next_url, "previous": None, "results": page}, {}

    return GeneratedNetbox(max_page_size=1000)


# The child's own peak: ``VmHWM`` of its address space after exec. ``ru_maxrss`` (from ``wait4`` or
# ``getrusage``) is not it: Linux carries the spawning process's peak across fork/vfork + exec, so a
# child of a 500 MB parent "peaks" at 500 MB however little it uses.
PEAK_WRAPPER = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            open(out, 'w').write(line.split()[1])
atexit.register(peak)
sys.argv[0] = 'vendorscope'
runpy.run_module('vendorscope', run_name='__main__', alter_sys=True)
"""


def own_peak_mb() -> float:
    """This process's peak RSS since its exec (VmHWM), in MB; ru_maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_import(args: list[str], db: Path) -> dict[str, float]:
    """One `vendorscope import` in a fresh process: seconds, peak RSS (MB) and what it said it stored."""
    db.unlink(missing_ok=True)
    peak_file = db.with_suffix(".peak")
    peak_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", PEAK_WRAPPER, str(peak_file), "-q", "import", *args,
                             "--db", str(db), "--format", "jsonl", "--output", os.devnull],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"import failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else usage.ru_maxrss / 1024
    from vendorscope.store.inventory import open_inventory

    with open_inventory(str(db), create=False) as inv:
        [snapshot] = inv.snapshots()
    return {"seconds": seconds, "peak_mb": peak_mb, "records": float(snapshot.stats.get("records", 0)),
            "observations": snapshot.observations, "assets": snapshot.assets, "cpu": usage.ru_utime + usage.ru_stime}


def pipeline_line(kind: str, label: str, run: dict[str, float]) -> None:
    print(f"  {kind:8} {label:>16}: {run['records']:>10,.0f} records ({run['records'] / run['seconds']:>7,.0f}/s), "
          f"{run['observations']:>10,.0f} observations ({run['observations'] / run['seconds']:>7,.0f}/s), "
          f"{run['assets']:>9,.0f} devices, {run['seconds']:6.1f} s, peak RSS {run['peak_mb']:6.1f} MB", flush=True)


def pipeline_pair(kind: str, runs: list[tuple[str, dict[str, float]]]) -> bool:
    for label, run in runs:
        pipeline_line(kind, label, run)
    small, large = runs[0][1]["peak_mb"], runs[-1][1]["peak_mb"]
    flat = large <= small * FLAT_SLACK or large - small <= FLAT_SLACK_MB
    print(f"  {kind}: peak RSS {small:.1f} MB → {large:.1f} MB: {'flat' if flat else 'GROWS WITH THE INPUT'}",
          flush=True)
    return flat


PIPELINE_KINDS = ("table", "nmap", "scandata", "sbom", "netbox")


def pipeline(rows: int, scan_size: int, nmap_size: int, sboms: int, devices: int,
             kinds: tuple[str, ...] = PIPELINE_KINDS, sbom_components: int = 100_000,
             sbom_shared_address: bool = False) -> bool:
    ok = True
    with tempfile.TemporaryDirectory(prefix="vs-bench-import-") as tmp_text:
        tmp = Path(tmp_text)
        db = tmp / "inventory.db"
        runs = []
        for n in (rows // 4, rows) if "table" in kinds else ():
            path = tmp / f"table-{n}.csv"
            write_table(path, n)
            runs.append((f"{n:,} rows", run_import(["table", str(path)], db)))
            path.unlink()
        ok = (not runs or pipeline_pair("table", runs)) and ok
        for kind, size, write in (("nmap", nmap_size, write_nmap), ("scandata", scan_size, write_scandata)):
            if kind not in kinds:
                continue
            runs = []
            for part in (size // 4, size):
                path = tmp / f"{kind}-{part}"
                write(path, part)
                runs.append((f"{path.stat().st_size / MB:,.0f} MB", run_import([kind, str(path)], db)))
                path.unlink()
            ok = pipeline_pair(kind, runs) and ok
        runs = []
        for n in (sboms // 4, sboms) if "sbom" in kinds else ():
            paths = write_sboms(tmp / f"sbom-{n}", n, sbom_shared_address)
            runs.append((f"{n:,} files", run_import(["sbom", *map(str, paths)], db)))
        ok = (not runs or pipeline_pair("sbom", runs)) and ok
        runs = []
        for n in (sbom_components // 4, sbom_components) if "sbom" in kinds else ():
            path = write_big_sbom(tmp / f"sbom-{n}.cdx.json", n)
            runs.append((f"{path.stat().st_size / MB:,.0f} MB doc", run_import(["sbom", str(path)], db)))
            path.unlink()
        ok = (not runs or pipeline_pair("sbom", runs)) and ok
        if "netbox" not in kinds:
            return ok
        runs = []
        for n in (devices // 4, devices):
            with netbox_server(n) as server:  # type: ignore[attr-defined]
                os.environ["VENDORSCOPE_NETBOX_TOKEN"] = server.token
                runs.append((f"{n:,} devices", run_import(["netbox", server.url], db)))
        ok = pipeline_pair("netbox", runs) and ok
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 MB of nmap XML and 80 MB of scan data")
    parser.add_argument("--pipeline", action="store_true", help="whole `vendorscope import` runs into SQLite")
    parser.add_argument("--rows", type=int, default=1_000_000, help="--pipeline: table rows (default 1,000,000)")
    parser.add_argument("--scan-mb", type=int, default=1024, help="--pipeline: scan data MB (default 1024)")
    parser.add_argument("--nmap-mb", type=int, default=200, help="--pipeline: nmap XML MB (default 200)")
    parser.add_argument("--devices", type=int, default=40_000, help="--pipeline: NetBox devices (default 40,000)")
    parser.add_argument("--sboms", type=int, default=2000, help="--pipeline: SBOM files (default 2,000)")
    parser.add_argument("--sbom-components", type=int, default=100_000,
                        help="--pipeline: components of the one large SBOM (default 100,000; 61 MB)")
    parser.add_argument("--sbom-shared-address", action="store_true",
                        help="--pipeline: the SBOM copies keep one address (devices behind one NAT address)")
    parser.add_argument("--kinds", default=",".join(PIPELINE_KINDS), help="--pipeline: importers to run")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FILE", "BYTES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, limit = args.child
        print(json.dumps(child(kind, Path(path), int(limit))))
        return 0
    if args.pipeline:
        kinds = tuple(args.kinds.split(","))
        if args.quick:
            return 0 if pipeline(100_000, 40 * MB, 20 * MB, 200, 4000, kinds, 20_000) else 1
        return 0 if pipeline(args.rows, args.scan_mb * MB, args.nmap_mb * MB, args.sboms, args.devices, kinds,
                                 args.sbom_components, args.sbom_shared_address) else 1
    nmap_size, scan_size = (40 * MB, 80 * MB) if args.quick else (500 * MB, 1024 * MB)
    ok = True
    with tempfile.TemporaryDirectory(prefix="vs-bench-import-") as tmp:
        for kind, size, write in (("nmap", nmap_size, write_nmap), ("scandata", scan_size, write_scandata)):
            path = Path(tmp) / ("scan.xml" if kind == "nmap" else "scan.jsonl")
            start = time.perf_counter()
            count = write(path, size)
            print(f"{kind}: generated {path.stat().st_size / MB:.0f} MB ({count:,} records) in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
            ok = report(kind, path, path.stat().st_size) and ok
            path.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
