"""Benchmark: `vendorscope probe` against `nmap -sV` over the same lab.

Starts the lab (200 emulated devices on loopback by default), then runs, one
after the other, over the same addresses and TCP ports:

  1. `vendorscope probe --no-db` (a subprocess: start-up and identify engine included)
  2. `nmap -sV -Pn -n -p PORTS -oX FILE ADDRESSES` (Debian's nmap)

nmap's findings are attributed by the same engine vendorscope uses: its product
names through the vendor registry, its CPEs, and the raw banners it prints for
services it could not name. A device counts as correct when the verdict's
vendor group is the registry's group of the lab's vendor.

Targets: vendorscope at least 5 times faster, with at least as many correct
attributions. nmap is given the TCP ports only (a UDP scan would only slow it
down), while vendorscope also queries SNMP on the scope's UDP ports.

    python benchmarks/bench_probe.py             # 200 devices
    python benchmarks/bench_probe.py --quick     # 54 devices
    python benchmarks/bench_probe.py --count 400 --udp   # nmap also scans the UDP ports (-sU)

Only 127.0.0.0/8 is ever touched: the lab refuses any other base.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET

from vendorscope.collect.probe import http as probe_http
from vendorscope.evidence import greeting as banners
from vendorscope.identify.registry import default_registry
from vendorscope.lab.runner import Lab, LabError
from vendorscope.model import AssetKeys, Observation
from vendorscope.pipeline import to_assets

HERE = Path(__file__).parent
OUT = HERE / "out"
BASES = [f"127.{octet}.0.0/16" for octet in range(120, 140)]
_FP_RESPONSE = re.compile(r'r\(([A-Za-z0-9]+),([0-9A-Fa-f]+),"(.*?)"\);?', re.S)
_FP_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.S)
BANNER_KINDS = {"ssh": "ssh.banner", "ftp": "ftp.banner", "smtp": "smtp.banner", "telnet": "telnet.banner"}


def start_lab(count: int) -> Lab:
    last: Exception | None = None
    for base in BASES:
        try:
            return Lab(count=count, base=base).start()
        except LabError as exc:
            if "already in use" not in str(exc):
                raise
            last = exc
    raise SystemExit(f"no free loopback /16 for the lab: {last}")


def vendorscope_command() -> list[str]:
    script = Path(sys.executable).with_name("vendorscope")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from vendorscope.cli import main; main()"]


def run_vendorscope(scope: Path, addresses: list[str], work: Path) -> dict[str, Any]:
    command = [*vendorscope_command(), "probe", "--scope", str(scope), *addresses, "--no-db", "--format", "jsonl",
               "--audit-log", str(work / "audit.jsonl"), "--observations", str(work / "observations.jsonl")]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"vendorscope probe failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    groups: dict[str, str | None] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            for ip in row["ips"]:
                groups[ip] = row["group"]
    m = re.search(r"probed \d+ hosts in ([\d.]+)s", done.stderr)
    return {"wall": wall, "probe_seconds": float(m.group(1)) if m else None, "groups": groups,
            "audit_lines": sum(1 for _ in (work / "audit.jsonl").open())}


def run_nmap(nmap: str, addresses: list[str], tcp: list[int], udp: list[int], work: Path) -> dict[str, Any]:
    xml = work / "nmap.xml"
    ports = ",".join(str(p) for p in tcp)
    command = [nmap, "-sV", "-Pn", "-n", "-oX", str(xml)]
    if udp:
        command += ["-sS", "-sU", "-p", f"T:{ports},U:{','.join(str(p) for p in udp)}"]
    else:
        command += ["-p", ports]
    started = time.monotonic()
    done = subprocess.run([*command, *addresses], capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"nmap failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    observations = list(nmap_observations(xml.read_bytes()))
    groups: dict[str, str | None] = {}
    for asset in to_assets(observations):
        for ip in asset.keys.get("ip", ()):
            groups[ip] = asset.verdict.group
    return {"wall": wall, "groups": groups, "observations": len(observations)}


def unescape_fingerprint(text: str) -> bytes:
    """nmap's service fingerprint escaping (\\xHH, \\r, \\n, \\0, \\. ...) back to bytes."""
    simple = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0"}

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        return simple.get(code, code.encode("latin-1")).decode("latin-1")

    return _FP_ESCAPE.sub(one, text).encode("latin-1", "replace")


def nmap_observations(xml: bytes) -> Iterator[Observation]:
    """What nmap found, as observations the identify engine can judge."""
    root = SafeET.fromstring(xml)
    for host in root.iter("host"):
        address = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")), None)
        if address is None:
            continue
        keys = AssetKeys(ip=address)
        for port in host.iter("port"):
            state = port.find("state")
            service = port.find("service")
            if state is None or state.get("state") != "open" or service is None:
                continue
            context = {"port": int(port.get("portid", "0")), "tool": "nmap"}
            yield Observation("tcp.open", port.get("portid", ""), "nmap", keys=keys, context=context)
            product = service.get("product")
            if product:
                yield Observation("scan.product_vendor", product, "nmap", keys=keys, context=context)
            for cpe in service.iter("cpe"):
                if cpe.text:
                    yield Observation("cpe", cpe.text, "nmap", keys=keys, context=context)
            fingerprint = service.get("servicefp")
            if fingerprint:
                yield from fingerprint_observations(service.get("name", ""), fingerprint, keys, context)


def fingerprint_observations(name: str, fingerprint: str, keys: AssetKeys,
                             context: dict[str, Any]) -> Iterator[Observation]:
    for _probe, _length, body in _FP_RESPONSE.findall(fingerprint):
        data = unescape_fingerprint(body)
        if name in BANNER_KINDS or not data.startswith((b"HTTP/", b"RTSP/")):
            found = banners.classify(context["port"], data)
            if found:
                yield Observation(found.kind, found.value, "nmap", keys=keys, context=context)
            continue
        try:
            protocol, _, _, _, headers = probe_http.parse_head(data.split(b"\r\n\r\n", 1)[0])
        except probe_http.Malformed:
            continue
        response = probe_http.HttpResponse(protocol, "1.1", 0, "", headers)
        server = response.header("Server")
        if server:
            yield Observation("rtsp.server" if protocol == "RTSP" else "http.server", server, "nmap", keys=keys,
                              context=context)
        for challenge in response.all("WWW-Authenticate"):
            yield Observation("http.www_authenticate", challenge, "nmap", keys=keys, context=context)
        title = probe_http.title_of(data)
        if title:
            yield Observation("http.title", title, "nmap", keys=keys, context=context)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="lab devices (default 200)")
    parser.add_argument("--quick", action="store_true", help="54 devices: two of each profile")
    parser.add_argument("--udp", action="store_true", help="let nmap scan the UDP ports too (-sU)")
    parser.add_argument("--nmap", default=shutil.which("nmap"), help="the nmap binary")
    args = parser.parse_args()
    count = 54 if args.quick else args.count
    if not args.nmap:
        print("nmap not found: apt-get install -y nmap (or scripts/install-system-deps.sh bench)")
        return 1
    registry = default_registry()
    work = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    lab = start_lab(count)
    try:
        scope = lab.write_scope(work / "scope.toml")
        addresses = [d.ip for d in lab.devices]
        tcp, udp = lab.tcp_ports(), lab.udp_ports()
        print(f"lab: {len(addresses)} devices on {lab.scope_network()}, TCP ports {tcp}, UDP ports {udp}",
              flush=True)
        ours = run_vendorscope(scope, addresses, work)
        print(f"vendorscope probe: {ours['wall']:.1f}s wall ({ours['probe_seconds']}s probing), "
              f"{ours['audit_lines']} audited probes", flush=True)
        theirs = run_nmap(args.nmap, addresses, tcp, udp if args.udp else [], work)
        print(f"nmap -sV:          {theirs['wall']:.1f}s wall", flush=True)
    finally:
        lab.stop()
    expected = {d.ip: registry.group_of(d.vendor) for d in lab.devices if d.vendor}
    right = {name: sorted(ip for ip, group in expected.items() if result["groups"].get(ip) == group)
             for name, result in (("vendorscope", ours), ("nmap", theirs))}
    misses = {name: sorted((ip, expected[ip], result["groups"].get(ip)) for ip in expected
                           if result["groups"].get(ip) != expected[ip])
              for name, result in (("vendorscope", ours), ("nmap", theirs))}
    ratio = theirs["wall"] / ours["wall"]
    print(f"\nspeed: vendorscope is {ratio:.1f}x faster than nmap -sV (target >= 5x): "
          f"{'met' if ratio >= 5 else 'MISSED'}")
    print(f"correct vendor group: vendorscope {len(right['vendorscope'])}/{len(expected)}, "
          f"nmap {len(right['nmap'])}/{len(expected)} (target: vendorscope >= nmap): "
          f"{'met' if len(right['vendorscope']) >= len(right['nmap']) else 'MISSED'}")
    names = {d.ip: d.name for d in lab.devices}
    for ip, want, got in misses["vendorscope"]:
        print(f"  vendorscope missed {names[ip]} ({ip}): expected {want}, got {got}")
    OUT.mkdir(exist_ok=True)
    summary = {
        "devices": len(addresses), "expected": len(expected), "vendorscope_seconds": round(ours["wall"], 2),
        "vendorscope_probe_seconds": ours["probe_seconds"], "nmap_seconds": round(theirs["wall"], 2),
        "ratio": round(ratio, 2), "vendorscope_correct": len(right["vendorscope"]),
        "nmap_correct": len(right["nmap"]), "nmap_udp": args.udp,
        "vendorscope_missed": [names[ip] for ip, _, _ in misses["vendorscope"]],
        "nmap_missed": [names[ip] for ip, _, _ in misses["nmap"]],
    }
    (OUT / "bench_probe.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary: {OUT / 'bench_probe.json'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
