"""Run every benchmark in turn (`make bench`). Pass --quick for smaller sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
QUICK_ARGS = {
    "bench_identify.py": ["--n", "100000"],
    "bench_scale.py": ["--n", "100000"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for bench in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {bench.name}", flush=True)
        args = QUICK_ARGS.get(bench.name, ["--quick"]) if quick else []
        if subprocess.run([sys.executable, str(bench), *args]).returncode != 0:
            failed.append(bench.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
