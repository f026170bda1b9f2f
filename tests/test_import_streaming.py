"""`vendorscope import` streams into the store batch by batch: a kill -9 half-way through a long import
(after some of its batches are committed) leaves the earlier snapshots whole and readable, the interrupted
snapshot invisible, and the next run completes as usual and removes the interrupted snapshot's rows.
On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from vendorscope.store.inventory import open_inventory
from vendorscope.store.models import asset_table, snapshot_table

SMALL = 40
# Four observations a row: several batches of pipeline.BATCH_SIZE.
BIG = 25_000


def inventory_csv(path: Path, rows: int, block: int) -> Path:
    lines = ["hostname,ip,mac,manufacturer,model,site"]
    lines += [f"h{block}-{i},10.{block}.{i >> 8 & 255}.{i & 255},e0:06:30:{block:02x}:{i >> 8 & 255:02x}:{i & 255:02x},"
              f"Huawei,S5735-L48T4X,site-{i % 7}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_import(path: Path, url: str, source: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "vendorscope", "import", "table", str(path), "--db", url,
                           "--source", source, "--format", "jsonl"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)


def visible(url: str) -> dict[str, int]:
    with open_inventory(url, create=False) as inv:
        return {s.source.removeprefix("import:table:"): s.assets for s in inv.snapshots()}


def committed_part(url: str) -> int:
    """Assets already committed for a snapshot not yet complete."""
    with open_inventory(url, create=False) as inv, inv.engine.connect() as conn:
        s, a = snapshot_table.c, asset_table.c
        return int(conn.execute(
            sa.select(sa.func.count()).select_from(asset_table).join(snapshot_table, s.id == a.snapshot_id)
            .where(s.complete.is_(False))
        ).scalar() or 0)


def test_kill_9_after_some_batches_keeps_earlier_snapshots_and_a_rerun_completes(db_url: str,
                                                                                 tmp_path: Path) -> None:
    first = run_import(inventory_csv(tmp_path / "small.csv", SMALL, 1), db_url, "cmdb-a")
    assert first.returncode == 0, first.stderr.decode()
    big = inventory_csv(tmp_path / "big.csv", BIG, 2)
    child = subprocess.Popen([sys.executable, "-m", "vendorscope", "import", "table", str(big), "--db", db_url,
                              "--source", "cmdb-b", "--format", "jsonl"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Wait until at least one batch of the big import is committed, then kill it.
        deadline = time.monotonic() + 600
        while committed_part(db_url) == 0:
            assert child.poll() is None, "the import ended before any batch was seen committed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert 0 < committed_part(db_url) < BIG  # batches were committed, the snapshot is not complete
    assert visible(db_url) == {"cmdb-a": SMALL}  # ...and nobody sees it
    with open_inventory(db_url, create=False) as inv:
        assert len(inv.assets()) == SMALL
        assert {a.verdict.group for a in inv.assets()} == {"huawei"}
    again = run_import(big, db_url, "cmdb-b")
    assert again.returncode == 0, again.stderr.decode()
    assert visible(db_url) == {"cmdb-a": SMALL, "cmdb-b": BIG}
    # the re-run removed what the killed import had committed: no rows of an incomplete snapshot are left
    assert committed_part(db_url) == 0
    with open_inventory(db_url, create=False) as inv, inv.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_table)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(asset_table)).scalar() == SMALL + BIG
    with open_inventory(db_url, create=False) as inv:
        [snapshot] = [s for s in inv.snapshots() if s.source.endswith("cmdb-b")]
        assert snapshot.observations == 4 * BIG and snapshot.stats["records"] == BIG


def test_a_bad_record_with_strict_half_way_stores_nothing(tmp_path: Path) -> None:
    url = str(tmp_path / "inventory.db")
    path = inventory_csv(tmp_path / "bad.csv", BIG, 3)
    with path.open("a", encoding="utf-8") as out:
        out.write('"unterminated,10.0.0.1\n')
    done = subprocess.run([sys.executable, "-m", "vendorscope", "import", "table", str(path), "--db", url,
                           "--strict", "--format", "jsonl"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=900)
    assert done.returncode == 1, done.stderr.decode()
    assert b"nothing was written" in done.stderr and b"Traceback" not in done.stderr
    with open_inventory(url, create=False) as inv, inv.engine.connect() as conn:
        assert inv.snapshots() == []
        assert conn.execute(sa.select(sa.func.count()).select_from(asset_table)).scalar() == 0


# ---------------------------------------------------------------- the readers stream

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MB = 1 << 20


def big_input(kind: str) -> bytes:
    """About 16 MB of valid input of one kind."""
    if kind == "table":
        head = b"hostname,ip,mac,manufacturer,model,site\n"
        row = b"cam,10.1.2.3,e0:06:30:00:00:01,Hikvision,DS-2CD2143G0-I,hq\n"
        return head + row * (16 * MB // len(row))
    if kind == "scandata":
        lines = (FIXTURES / "scandata" / "shodan-banners.jsonl").read_bytes().splitlines(keepends=True)
        body = b"".join(lines)
        return body * (16 * MB // len(body))
    text = (FIXTURES / "nmap" / "lab-sV.xml").read_bytes()
    start, end = text.index(b"<host "), text.rindex(b"</host>") + len(b"</host>")
    hosts = text[start:end] + b"\n"
    return text[:start] + hosts * (16 * MB // len(hosts)) + b"</nmaprun>\n"


@pytest.mark.parametrize("kind", ["table", "scandata", "nmap"])
def test_a_reader_yields_its_first_observations_before_reading_the_whole_input(kind: str) -> None:
    import io
    from datetime import UTC, datetime

    from vendorscope.collect.imports.common import Collector

    data = big_input(kind)
    stream = io.BytesIO(data)
    collector = Collector()
    now = datetime.now(UTC)
    if kind == "table":
        from vendorscope.collect.imports.table import read_delimited

        reader = read_delimited(stream, "big.csv", "test", collector, now, suffix=".csv")
    elif kind == "scandata":
        from vendorscope.collect.imports.scandata import read_scandata

        reader = read_scandata(stream, "big.jsonl", "test", collector, now)
    else:
        from vendorscope.collect.imports.nmap import read_nmap

        reader = read_nmap(stream, "big.xml", "test", collector, now)
    seen = [next(reader) for _ in range(100)]
    assert len(seen) == 100 and collector.bad_count == 0
    assert stream.tell() < 4 * MB < len(data), f"read {stream.tell():,} of {len(data):,} bytes for 100 observations"
