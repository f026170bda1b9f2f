"""Benchmark: identify throughput, compiled matcher vs the naive `re` loop, and the jsonl stream
against the msgspec floor.

Part 1 (cache-friendly): N mixed observations (banners from the rules' own
examples with varied versions, ordinary software banners that match nothing,
MAC addresses, sysObjectIDs, inventory names), each engine in its own process
(so peak memory is its own); all must give identical attributions.

Part 2 (realistic stream): --realistic JSON lines of real strings (the rules'
examples and counterexamples, plus ../shared/recog/xml examples when that
checkout is present: real device strings, read here and never committed),
half of them with a value seen only once (new versions, serials, hostnames).
``identify_lines`` + msgspec encoding of every output record is timed against
the floor: msgspec decoding and re-encoding the same lines, in the same process.

    python benchmarks/bench_identify.py            # 1,000,000 + 500,000 observations
    python benchmarks/bench_identify.py --n 100000 --realistic 100000 # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vendorscope.identify.matcher import RuleMatch, clean_text
from vendorscope.identify.rules import Rule

ORDINARY = [
    ("ssh.banner", "SSH-2.0-OpenSSH_{v}p1 Debian-2+deb12u{n}"),
    ("ssh.banner", "SSH-2.0-OpenSSH_{v}"),
    ("http.server", "nginx/1.{n}.{m}"),
    ("http.server", "Apache/2.4.{n} (Debian)"),
    ("http.server", "Microsoft-IIS/10.0"),
    ("http.title", "Welcome to nginx!"),
    ("http.title", "Index of /files/{n}"),
    ("smtp.banner", "220 mail{n}.example.org ESMTP Postfix (Debian/GNU)"),
    ("ftp.banner", "220 (vsFTPd 3.0.{n})"),
    ("snmp.sysdescr", "Linux host{n} 6.1.0-{m}-amd64 #1 SMP PREEMPT_DYNAMIC Debian x86_64"),
    ("tls.cert.subject", "CN=www{n}.example.com"),
    ("dhcp.vendor_class", "MSFT 5.0"),
    ("dhcp.vendor_class", "android-dhcp-{n}"),
    ("inventory.manufacturer", "Acme Widgets {n} Ltd"),
]


# ../shared/recog of the checkout (or of the folder holding several worktrees), when present.
RECOG_XML = next((p / "shared" / "recog" / "xml" for p in Path(__file__).resolve().parents[1:4]
                  if (p / "shared" / "recog" / "xml").is_dir()), Path("shared/recog/xml"))
_EXAMPLE = re.compile(r"<example(?:\s[^>]*)?>([^<]{1,400})</example>")
_MATCHES = re.compile(r'<fingerprints\s[^>]*matches="([^"]+)"')
_DIGITS = re.compile(r"\d+")
HOST_WORDS = ("core", "edge", "cam", "olt", "sw", "rtr", "ap", "nvr", "fw", "bras")


def recog_examples(folder: Path = RECOG_XML) -> list[tuple[str, str]]:
    """(kind, value) of every recog example whose file maps to a vendorscope kind (real device strings;
    read from the local checkout, never committed)."""
    if not folder.is_dir():
        return []
    from html import unescape

    from vendorscope.identify.recog import recog_config

    config = recog_config()
    out = []
    for path in sorted(folder.glob("*.xml")):
        text = path.read_text("utf-8", errors="replace")
        m = _MATCHES.search(text)
        mapping = config.kinds.get(m.group(1) if m else "") or config.kinds.get(path.stem)
        if mapping is None:
            continue
        out += [(mapping.kind, mapping.value_prefix + unescape(e)) for e in _EXAMPLE.findall(text)]
    return out


def vary(value: str, rng: random.Random) -> str:
    """A new device's string of the same shape: other versions, serials, hostnames."""
    varied = _DIGITS.sub(lambda m: str(rng.randrange(10 ** min(len(m.group()) + 1, 9))), value)
    if varied == value or rng.random() < 0.3:
        host = f"{rng.choice(HOST_WORDS)}-{rng.randrange(1000):03d}.site{rng.randrange(100)}.example.net"
        varied = f"{varied} {host}" if rng.random() < 0.5 else varied.replace(" ", f" {host} ", 1)
    return varied


def make_realistic(n: int, seed: int = 2) -> tuple[list[tuple[str, str]], int]:
    """n observations of real strings (rule examples, recog examples), half of them with a value seen
    only once (new versions, serials, hostnames), the rest repeats of a few thousand common strings.
    Returns the observations and how many base strings came from recog."""
    from vendorscope.identify.oui import default_oui_table
    from vendorscope.identify.rules import default_rules

    rng = random.Random(seed)
    rules_part = [(k, e) for r in default_rules() for e in (*r.examples, *r.counterexamples) for k in r.kinds]
    recog_part = recog_examples()
    ordinary = [(k, t.format(v=f"{rng.randint(7, 9)}.{rng.randint(0, 9)}", n=rng.randint(0, 30),
                             m=rng.randint(0, 20))) for k, t in ORDINARY for _ in range(20)]
    base = rules_part + recog_part + ordinary
    ouis = [key[1] for key in default_oui_table()._entries if key[0] == 24]
    common = [rng.choice(base) for _ in range(5000)]
    common += [("mac", f"{rng.choice(ouis):06x}{rng.getrandbits(24):06x}") for _ in range(500)]
    seen: set[tuple[str, str]] = set(common)
    out: list[tuple[str, str]] = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(rng.choice(common))
            continue
        while True:
            if rng.random() < 0.1:
                obs = ("mac", f"{rng.choice(ouis):06x}{rng.getrandbits(24):06x}")
            else:
                kind, value = rng.choice(base)
                obs = (kind, vary(value, rng))
            if obs not in seen:
                break
        seen.add(obs)
        out.append(obs)
    return out, len(recog_part)


def make_observations(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """Sightings of a network of devices: each device has its own MAC and evidence,
    and is seen many times, as in a capture or a series of scans."""
    from vendorscope.identify.oui import default_oui_table
    from vendorscope.identify.registry import default_registry
    from vendorscope.identify.rules import default_rules

    rng = random.Random(seed)
    examples = [(k, e) for r in default_rules() for e in r.examples for k in r.kinds]
    registry = default_registry()
    ouis = [key[1] for key in default_oui_table()._entries if key[0] == 24]
    pens = list(registry.enterprise_numbers)
    names = [n for v in registry.vendors.values() for n in v.all_names]

    def evidence() -> tuple[str, str]:
        r = rng.random()
        if r < 0.45:  # most devices run software that names no device vendor
            kind, tpl = rng.choice(ORDINARY)
            return kind, tpl.format(v=f"{rng.randint(7, 9)}.{rng.randint(0, 9)}", n=rng.randint(0, 30),
                                    m=rng.randint(0, 20))
        if r < 0.80:
            return rng.choice(examples)
        if r < 0.92:
            return "snmp.sysobjectid", f"1.3.6.1.4.1.{rng.choice(pens)}.{rng.randint(1, 3)}.{rng.randint(1, 20)}"
        return "inventory.manufacturer", rng.choice(names)

    devices = []
    for _ in range(max(1, n // 10)):
        mac = ("mac", f"{rng.choice(ouis):06x}{rng.getrandbits(24):06x}")
        devices.append([mac] + [evidence() for _ in range(rng.randint(1, 4))])
    return [rng.choice(rng.choice(devices)) for _ in range(n)]


class NaiveLoop:
    """The baseline: every rule's `re` pattern in turn, for every observation."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = [(r, re.compile(r.pattern, r.re_flags)) for r in rules]

    def kinds(self) -> set[str]:
        return {k for r, _ in self._rules for k in r.kinds}

    def match_many(self, kind: str, values: Sequence[str]) -> list[list[RuleMatch]]:
        return [self.match(kind, value) for value in values]

    def match(self, kind: str, value: str) -> list[RuleMatch]:
        value = clean_text(value)
        out = []
        for rule, rx in self._rules:
            if kind in rule.kinds:
                m = rx.search(value)
                if m is not None:
                    out.append(RuleMatch(rule, m.groupdict()))
        return out


def run_child(mode: str, path: Path) -> dict[str, object]:
    from vendorscope.identify.engine import Engine
    from vendorscope.identify.matcher import CompiledMatcher
    from vendorscope.identify.oui import default_oui_table
    from vendorscope.identify.rules import default_rules

    rules = default_rules()
    default_oui_table()  # loading reference data is not what is measured
    matcher = NaiveLoop(rules) if mode == "naive" else CompiledMatcher(rules)
    engine = Engine(rules=rules, matcher=matcher, cache_size=1 << 18 if mode in ("engine", "batch") else 0)
    observations = [tuple(json.loads(line)) for line in path.read_text("utf-8").splitlines()]
    identify = engine._identify_value if mode not in ("engine", "batch") else engine.identify_value
    for kind in {kind for kind, _ in observations}:  # each kind's compiled database loaded before timing:
        engine._identify_value(kind, "")             # start-up is bench_pcap's business
    start, start_cpu = time.perf_counter(), cpu_seconds()
    if mode == "batch":
        results = []
        for i in range(0, len(observations), BATCH):
            results += engine.identify_values(observations[i:i + BATCH])  # type: ignore[arg-type]
    else:
        results = [identify(kind, value) for kind, value in observations]
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    digest = hashlib.sha256()
    for found in results:  # compared outside the timed loop
        digest.update(repr([(a.vendor, a.rule, a.product, a.version, a.device_type) for a in found]).encode())
    return {
        "mode": mode,
        "observations": len(observations),
        "seconds": seconds,
        "per_second": len(observations) / seconds,
        "per_cpu_second": len(observations) / max(cpu, 1e-9),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "digest": digest.hexdigest(),
    }


BATCH = 4096


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``work()``; the machine may be shared, so CPU time is the fairer clock."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def run_realistic(path: Path) -> dict[str, object]:
    """The msgspec floor and ``identify_lines`` on the same lines, in this one process."""
    import msgspec

    from vendorscope.cli.identify import identify_lines
    from vendorscope.identify.engine import Engine
    from vendorscope.identify.oui import default_oui_table

    default_oui_table()
    lines = path.read_bytes().splitlines(keepends=True)
    decode, encode = msgspec.json.Decoder().decode, msgspec.json.Encoder().encode

    def floor() -> list[bytes]:
        return [encode(decode(line)) for line in lines]

    def identify(engine: Engine) -> list[bytes]:
        return [encode(record) for _, record in identify_lines(engine, lines, "bench")]

    floor_wall, floor_cpu = min(timed(floor) for _ in range(3))
    engine = Engine()
    engine.identify_value("ssh.banner", "warm-up")  # builds the matcher; start-up is bench_pcap's business
    engine._cache.clear()
    engine._dict_cache.clear()
    output: list[bytes] = []
    wall, cpu = timed(lambda: output.extend(identify(engine)))
    # Identical to the per-value API without any cache (outside the timed part).
    fresh = Engine(cache_size=0)
    expected = [[a.as_dict() for a in fresh._identify_value(kind, value)]
                for kind, value in (tuple(json.loads(line).values()) for line in lines)]
    got = [msgspec.json.decode(line)["attributions"] for line in output]
    return {"observations": len(lines), "floor_wall": floor_wall, "floor_cpu": floor_cpu, "wall": wall,
            "cpu": cpu, "identical": got == json.loads(json.dumps(expected)),
            "distinct": len({(k, v) for k, v in (tuple(json.loads(line).values()) for line in lines)})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="observations to generate")
    parser.add_argument("--realistic", type=int, default=500_000, help="observations in the realistic stream")
    parser.add_argument("--child", choices=["compiled", "engine", "batch", "naive", "realistic"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "realistic":
        print(json.dumps(run_realistic(args.data)))
        return 0
    if args.child:
        print(json.dumps(run_child(args.child, args.data)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "observations.jsonl"
        obs = make_observations(args.n)
        data.write_text("\n".join(json.dumps(o) for o in obs) + "\n", encoding="utf-8")
        print(f"identify benchmark: {len(obs):,} mixed observations, one core each")
        results = {}
        for mode in ("batch", "engine", "compiled", "naive"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data)],
                                 capture_output=True, text=True, check=True)
            results[mode] = json.loads(out.stdout)
            r = results[mode]
            print(f"  {mode:9s} {r['per_second']:>12,.0f} obs/s  {r['seconds']:7.2f} s wall  "
                  f"{r['per_cpu_second']:>12,.0f} obs per CPU second  peak {r['peak_mb']:.0f} MB")
    same = len({r["digest"] for r in results.values()}) == 1
    naive = results["naive"]["per_second"]
    print(f"identical attributions: {'yes' if same else 'NO'}")
    print(f"compiled matcher / naive loop: {results['compiled']['per_second'] / naive:.1f}x")
    engine = results["engine"]["per_second"]
    met = engine >= 300_000 and engine / naive >= 20
    print(f"engine (compiled + value cache) / naive loop: {engine / naive:.1f}x"
          f"  (target ≥ 20x and ≥ 300,000 obs/s: {'met' if met else 'NOT met'})")
    batch = results["batch"]["per_cpu_second"]
    print(f"engine batch API (identify_values): {batch:,.0f} obs per CPU second, "
          f"{batch / results['naive']['per_cpu_second']:.1f}x the naive loop"
          f"  (target ≥ 1,000,000 obs/s: {'met' if batch >= 1_000_000 else 'NOT met'})")
    return 0 if same and realistic_part(args.realistic) else 1


def realistic_part(n: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "realistic.jsonl"
        obs, from_recog = make_realistic(n)
        data.write_bytes(b"".join(json.dumps({"kind": k, "value": v}).encode() + b"\n" for k, v in obs))
        out = subprocess.run([sys.executable, __file__, "--child", "realistic", "--data", str(data)],
                             capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    print(f"realistic stream: {r['observations']:,} JSON lines, {r['distinct']:,} distinct values "
          f"({from_recog:,} base strings from recog's examples{'' if from_recog else ': no ../shared/recog'})")
    print(f"  msgspec decode+encode floor {r['observations'] / r['floor_wall']:>10,.0f} lines/s  "
          f"wall {r['floor_wall']:6.2f} s  cpu {r['floor_cpu']:6.2f} s")
    print(f"  identify_lines + encode     {r['observations'] / r['wall']:>10,.0f} obs/s    "
          f"wall {r['wall']:6.2f} s  cpu {r['cpu']:6.2f} s")
    ratio, cpu_ratio = r["wall"] / r["floor_wall"], r["cpu"] / max(r["floor_cpu"], 1e-9)
    print(f"  identify / floor: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu "
          f"(target ≤ 2x: {'met' if cpu_ratio <= 2 else 'NOT met'})")
    print(f"  identical to the per-value API: {'yes' if r['identical'] else 'NO'}")
    return bool(r["identical"])


if __name__ == "__main__":
    sys.exit(main())
