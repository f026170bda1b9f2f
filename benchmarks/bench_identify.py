"""Benchmark: identify throughput, compiled matcher vs the naive `re` loop.

Generates N realistic mixed observations (banners from the rules' own examples
with varied versions, ordinary software banners that match nothing, MAC
addresses, sysObjectIDs, inventory names), then runs each engine in its own
process (so peak memory is its own) and checks that all give identical
attributions.

    python benchmarks/bench_identify.py            # 1,000,000 observations
    python benchmarks/bench_identify.py --n 100000 # quicker
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
from collections.abc import Sequence
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
    engine = Engine(rules=rules, matcher=matcher, cache_size=1 << 18 if mode == "engine" else 0)
    observations = [tuple(json.loads(line)) for line in path.read_text("utf-8").splitlines()]
    identify = engine._identify_value if mode != "engine" else engine.identify_value
    start = time.perf_counter()
    results = [identify(kind, value) for kind, value in observations]
    seconds = time.perf_counter() - start
    digest = hashlib.sha256()
    for found in results:  # compared outside the timed loop
        digest.update(repr([(a.vendor, a.rule, a.product, a.version, a.device_type) for a in found]).encode())
    return {
        "mode": mode,
        "observations": len(observations),
        "seconds": seconds,
        "per_second": len(observations) / seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "digest": digest.hexdigest(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="observations to generate")
    parser.add_argument("--child", choices=["compiled", "engine", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.data)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "observations.jsonl"
        obs = make_observations(args.n)
        data.write_text("\n".join(json.dumps(o) for o in obs) + "\n", encoding="utf-8")
        print(f"identify benchmark: {len(obs):,} mixed observations, one core each")
        results = {}
        for mode in ("engine", "compiled", "naive"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data)],
                                 capture_output=True, text=True, check=True)
            results[mode] = json.loads(out.stdout)
            r = results[mode]
            print(f"  {mode:9s} {r['per_second']:>12,.0f} obs/s  {r['seconds']:7.2f} s  peak {r['peak_mb']:.0f} MB")
    same = len({r["digest"] for r in results.values()}) == 1
    naive = results["naive"]["per_second"]
    print(f"identical attributions: {'yes' if same else 'NO'}")
    print(f"compiled matcher / naive loop: {results['compiled']['per_second'] / naive:.1f}x")
    engine = results["engine"]["per_second"]
    met = engine >= 300_000 and engine / naive >= 20
    print(f"engine (compiled + value cache) / naive loop: {engine / naive:.1f}x"
          f"  (target ≥ 20x and ≥ 300,000 obs/s: {'met' if met else 'NOT met'})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
