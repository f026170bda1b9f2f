"""Benchmark of the Spark path (not a test): scan records/s in one process and on Spark local[2].

Generates N scan records (Shodan, Censys and ZGrab2 shapes from the test
fixtures, a new address each), then identifies them twice with the same
functions (:func:`vendorscope.scale.rows.identify_lines_batches`, which calls
:func:`vendorscope.identify.batch.attribute_batch`):

- one process: the file read line by line into Arrow batches of 10,000, in a child process;
- Spark local[2]: ``vendorscope scale identify`` as a library call, writing Parquet.

Prints records/s for both, Spark's per-record overhead against the single
process (Spark's core-seconds per record minus the single process's seconds
per record), the JVM start-up time (paid once per job, not in the rates), and
the peak resident memory of each Spark Python worker and of the driver JVM.

    python benchmarks/bench_scale.py              # 10,000,000 records
    python benchmarks/bench_scale.py --n 100000   # smaller
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import _address, scan_records  # noqa: E402  (the scan-data generator's templates)

BATCH = 10_000
CORES = 2


def write_records(path: Path, n: int) -> int:
    """N scan records, one a line; returns the bytes written."""
    templates = scan_records()
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, n, 1000):
            chunk = "\n".join(templates[i % len(templates)].replace("{ip}", _address(i))
                              for i in range(start, min(start + 1000, n))) + "\n"
            out.write(chunk)
            written += len(chunk)
    return written


def single_process(path: Path) -> dict[str, float]:
    """Runs in its own process: the job's worker function over the whole file, batch by batch."""
    import pyarrow as pa

    from vendorscope.identify.engine import default_engine
    from vendorscope.scale.rows import identify_lines_batches

    default_engine()  # built once, as in each Spark worker; not timed in either case

    def batches() -> object:
        with path.open("r", encoding="utf-8") as f:
            lines: list[str] = []
            for line in f:
                lines.append(line.rstrip("\n"))
                if len(lines) == BATCH:
                    yield pa.RecordBatch.from_pydict({"value": lines, "file": [path.name] * len(lines)})
                    lines = []
            if lines:
                yield pa.RecordBatch.from_pydict({"value": lines, "file": [path.name] * len(lines)})

    start = time.perf_counter()
    rows = attributed = 0
    for out in identify_lines_batches(batches(), datetime.now(UTC)):  # type: ignore[arg-type]
        rows += out.num_rows
        attributed += out.num_rows - out.column("vendor").null_count
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "attributed": attributed, "peak_mb": peak}


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _spark_processes() -> tuple[dict[int, float], dict[int, float]]:
    """Peak RSS (MB) of the PySpark worker processes and of Spark JVMs on this machine that we started."""
    workers: dict[int, float] = {}
    jvms: dict[int, float] = {}
    me = str(Path(sys.executable).resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(cmd).decode("utf-8", "replace")
        if "pyspark.daemon" in text or "pyspark.worker" in text:
            if cmd and str(Path(cmd[0].decode()).resolve()) == me:
                workers[int(proc.name)] = _peak_mb(int(proc.name))
        elif "org.apache.spark.deploy.SparkSubmit" in text and "vendorscope-bench-scale" in text:
            jvms[int(proc.name)] = _peak_mb(int(proc.name))
    return workers, jvms


def spark_run(path: Path, out: Path) -> dict[str, float]:
    from vendorscope.scale.job import attributed_frame, classify_input, spark_uri
    from vendorscope.scale.session import spark_session

    started = time.perf_counter()
    spark = spark_session(f"local[{CORES}]", app_name="vendorscope-bench-scale")
    startup = time.perf_counter() - started
    peaks: dict[int, float] = {}
    jvm: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:  # workers may be replaced: remember every one's peak
        while not done.wait(0.5):
            w, j = _spark_processes()
            for store, found in ((peaks, w), (jvm, j)):
                for pid, mb in found.items():
                    store[pid] = max(store.get(pid, 0.0), mb)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        # Warm-up: one small file per core starts every Python worker, imports vendorscope and builds its
        # engine (paid once per worker, reported apart from the rate).
        with path.open(encoding="utf-8") as f:
            head = "".join(f.readline() for _ in range(200))
        warm = []
        for i in range(CORES):
            warm.append(path.with_name(f"warm-{i}.jsonl"))
            warm[-1].write_text(head, encoding="utf-8")
        started = time.perf_counter()
        attributed_frame(spark, [classify_input(str(w)) for w in warm]).write.format("noop").mode("overwrite").save()
        warmup = time.perf_counter() - started
        start = time.perf_counter()
        attributed_frame(spark, [classify_input(str(path))]).write.mode("overwrite").parquet(spark_uri(str(out)))
        seconds = time.perf_counter() - start
        stats = spark.read.parquet(spark_uri(str(out))).selectExpr("count(1)", "count(vendor)").first()
    finally:
        done.set()
        watcher.join()
        w, j = _spark_processes()
        for pid, mb in w.items():
            peaks[pid] = max(peaks.get(pid, 0.0), mb)
        spark.stop()
    rows, attributed = (stats[0], stats[1]) if stats else (0, 0)
    return {"seconds": seconds, "startup": startup, "warmup": warmup, "rows": rows, "attributed": attributed,
            "worker_peak_mb": max(peaks.values(), default=0.0), "workers": len(peaks),
            "jvm_peak_mb": max(jvm.values(), default=0.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000_000, help="scan records to generate")
    parser.add_argument("--single", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(single_process(args.single)))
        return 0
    from vendorscope.scale.session import java_missing, pyspark_missing

    problem = pyspark_missing() or java_missing()
    if problem:
        print(f"bench_scale: {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="vs-bench-scale-") as tmp:
        path = Path(tmp) / "scan.jsonl"
        size = write_records(path, args.n)
        print(f"{args.n:,} scan records, {size / (1 << 20):,.0f} MB of JSON lines", flush=True)
        child = subprocess.run([sys.executable, __file__, "--single", str(path)], capture_output=True, text=True)
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 1
        one = json.loads(child.stdout)
        spark = spark_run(path, Path(tmp) / "out.parquet")
    if one["rows"] != spark["rows"] or one["attributed"] != spark["attributed"]:
        print(f"MISMATCH: one process {one['rows']} rows / {one['attributed']} attributed, "
              f"Spark {spark['rows']} / {spark['attributed']}")
        return 1
    n = args.n
    one_rate, spark_rate = n / one["seconds"], n / spark["seconds"]
    overhead_us = (spark["seconds"] * CORES - one["seconds"]) / n * 1e6
    print(f"rows out (one per piece of evidence): {one['rows']:,}, attributed {one['attributed']:,}")
    print(f"one process      : {one_rate:>10,.0f} records/s   ({one['seconds']:.1f} s, peak {one['peak_mb']:.0f} MB)")
    print(f"Spark local[{CORES}]   : {spark_rate:>10,.0f} records/s   ({spark['seconds']:.1f} s; "
          f"not included: JVM start {spark['startup']:.1f} s, workers' warm-up {spark['warmup']:.1f} s)")
    print(f"Spark overhead   : {overhead_us:>10.1f} µs per record ({CORES} cores × Spark time − one-process time)"
          f", {spark_rate / one_rate:.2f}× the one-process rate")
    print(f"peak memory      : {spark['worker_peak_mb']:.0f} MB per Python worker ({spark['workers']} workers), "
          f"driver JVM {spark['jvm_peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
