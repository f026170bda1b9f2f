"""Imports against a real PostgreSQL server, as a user runs them (real processes): kill -9 at
several moments of an import loses no committed snapshot, and two importers at once both land.

tests/test_store.py proves the same at the store's API; here the whole `vendorscope import`
command is killed, and the hostile payloads of tests/test_hostile_payloads.py are stored too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pg import PostgresServer

from vendorscope.store.inventory import open_inventory

SMALL = 50
BIG = 20_000


def inventory_csv(path: Path, rows: int, block: int, site: str = "") -> Path:
    lines = ["manufacturer,mac,hostname,site"]
    lines += [f"Huawei,e0:06:30:{block:02x}:{i >> 8 & 255:02x}:{i & 255:02x},h{i},{site}" for i in range(rows)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def start_import(path: Path, url: str, source: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vendorscope", "import", "table", str(path), "--db", url, "--source", source,
         "--format", "jsonl"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def snapshot_counts(url: str) -> dict[str, int]:
    """Assets per source over the complete snapshots (what every reader sees)."""
    with open_inventory(url, create=False) as inv:
        return {s.source.removeprefix("import:table:"): s.assets for s in inv.snapshots()}


# The delays put the kill at different stages: starting up, reading, writing the snapshot.
@pytest.mark.parametrize("delay", [0.5, 2.0, 5.0])
def test_kill_9_during_an_import_loses_no_committed_snapshot(pg_server: PostgresServer, tmp_path: Path,
                                                             delay: float) -> None:
    url = pg_server.create_database()
    first = start_import(inventory_csv(tmp_path / "small.csv", SMALL, 1), url, "cmdb-a")
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    big = inventory_csv(tmp_path / "big.csv", BIG, 2)
    child = start_import(big, url, "cmdb-b")
    time.sleep(delay)
    killed = child.poll() is None
    if killed:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    counts = snapshot_counts(url)
    assert counts["cmdb-a"] == SMALL  # the committed snapshot is whole
    # the killed import left either nothing or (had it finished first) its whole snapshot
    assert counts.get("cmdb-b") in (None, BIG)
    if killed:
        assert child.returncode == -signal.SIGKILL
    # and the inventory takes the next import as usual
    again = start_import(inventory_csv(tmp_path / "again.csv", SMALL, 3), url, "cmdb-c")
    assert again.wait(timeout=300) == 0, again.stderr.read() if again.stderr else ""
    assert snapshot_counts(url) == {**counts, "cmdb-c": SMALL}


def test_two_importers_at_once_both_land(pg_server: PostgresServer, tmp_path: Path) -> None:
    url = pg_server.create_database()
    bootstrap = start_import(inventory_csv(tmp_path / "seed.csv", 1, 9), url, "seed")
    assert bootstrap.wait(timeout=300) == 0
    importers = [start_import(inventory_csv(tmp_path / f"{name}.csv", 3000, block), url, name)
                 for name, block in (("north", 4), ("south", 5))]
    for proc in importers:
        assert proc.wait(timeout=600) == 0, proc.stderr.read() if proc.stderr else ""
    assert snapshot_counts(url) == {"seed": 1, "north": 3000, "south": 3000}
    with open_inventory(url, create=False) as inv:
        assert len(inv.assets()) == 6001


def test_hostile_labels_and_sites_are_stored_as_text(pg_server: PostgresServer, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL and lone surrogates in text: they are stored as escapes, never a crash."""
    url = pg_server.create_database()
    site = '=HYPERLINK("http://x") [/] :cd: \u202e </script>'
    source = "src\x1b]0;t\x07 [bold]"
    proc = start_import(inventory_csv(tmp_path / "hostile.csv", 3, 6, site='"' + site.replace('"', '""') + '"'),
                        url, source)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    env = {**os.environ, "COLUMNS": "80"}
    asset = "mac:e0:06:30:06:00:00"
    annotated = subprocess.run(
        [sys.executable, "-m", "vendorscope", "assets", asset, "--db", url, "--set-site", "bad\udcff"],  # b"bad\xff"
        capture_output=True, env=env, timeout=300,
    )
    assert annotated.returncode == 0, annotated.stderr.decode()
    assert b"\x1b" not in annotated.stdout + annotated.stderr
    listed = subprocess.run([sys.executable, "-m", "vendorscope", "assets", "--db", url, "--format", "jsonl"],
                            capture_output=True, timeout=300)
    assert listed.returncode == 0, listed.stderr.decode()
    rows = {r["asset"]: r for r in map(json.loads, listed.stdout.decode("utf-8").splitlines())}
    assert len(rows) == 3
    assert rows["mac:e0:06:30:06:00:01"]["site"] == site
    assert rows[asset]["site"].startswith("bad\\")
    assert snapshot_counts(url) == {source: 3}
