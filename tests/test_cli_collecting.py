"""pcap, probe and import share one path after collecting: observations file, snapshot, device table.

A store that cannot be written is the same one-line error, with the same
wording, whichever command collected (and never shows a database password).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.lab.capture import DEMO_PATH

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
INPUTS = {
    "pcap": ["pcap", str(DEMO_PATH)],
    "import": ["import", "nmap", str(FIXTURES / "nmap" / "lab-sV.xml")],
}


@pytest.mark.parametrize("command", sorted(INPUTS))
def test_an_unwritable_store_is_one_line_in_one_wording(command: str, tmp_path: Path) -> None:
    observations = tmp_path / "obs.jsonl"
    db = tmp_path / "no-such-folder" / "inv.db"
    r = runner.invoke(app, [*INPUTS[command], "--db", str(db), "--observations", str(observations)])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert lines == [f"error: cannot store the results in {db}: {db.parent}: no such directory; "
                     f"the observations are in {observations}"]
    assert "Traceback" not in r.output
    assert observations.stat().st_size > 0  # what was collected is not lost


@pytest.mark.parametrize("command", sorted(INPUTS))
def test_a_password_in_the_url_is_never_shown(command: str, tmp_path: Path) -> None:
    r = runner.invoke(app, [*INPUTS[command], "--db", f"postgresql://someone:s3cret@/inv?host={tmp_path}&port=5999"])
    assert r.exit_code == 2 and "cannot store the results in postgresql+psycopg://someone:***@/inv" in r.output
    assert "s3cret" not in r.output


@pytest.mark.parametrize("command", sorted(INPUTS))
def test_stored_devices_are_printed_the_same_way(command: str, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    r = runner.invoke(app, [*INPUTS[command], "--db", str(db), "--format", "jsonl"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert rows and all({"asset", "vendor", "evidence", "conflicts"} <= row.keys() for row in rows)
    listed = runner.invoke(app, ["assets", "--db", str(db), "--format", "jsonl"])
    assert {json.loads(line)["asset"] for line in listed.output.splitlines()} == {row["asset"] for row in rows}
