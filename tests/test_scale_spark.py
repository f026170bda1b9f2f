"""The Spark job for real (local[2], a JVM started here): its attributions equal `vendorscope identify`'s
row for row, scan data equals the `import scandata` path, Parquet in and out, and the exposure view.

Needs Java and PySpark: skipped with the reason when they are missing, a failure when CI is set."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.collect.imports.common import Collector, open_maybe_gzip
from vendorscope.collect.imports.scandata import read_scandata
from vendorscope.identify.engine import Engine
from vendorscope.identify.rules import default_rules
from vendorscope.scale.session import java_missing, pyspark_missing

FIXTURES = Path(__file__).parent / "fixtures" / "scandata"
runner = CliRunner()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    problem = pyspark_missing() or java_missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(problem)
    from vendorscope.scale.session import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


def read_rows(directory: Path) -> list[dict[str, Any]]:
    """Spark's part files in partition order (their names), rows in file order."""
    parts = sorted(p for p in directory.glob("part-*") if p.suffix == ".parquet")
    assert parts, f"no part files in {directory}"
    return [row for part in parts for row in pq.read_table(part).to_pylist()]


def observation_lines(n_unknown: int = 600, seed: int = 14) -> list[str]:
    """Several thousand varied lines: every rule's examples and counterexamples, MACs, unknown values,
    values padded with spaces, extra fields of every JSON type, and broken lines."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for rule in default_rules():
        for kind in rule.kinds:
            records += [{"kind": kind, "value": v} for v in rule.examples]
            records += [{"kind": kind, "value": v} for v in rule.counterexamples]
    records += [{"kind": "mac", "value": f"{rng.randrange(1 << 48):012x}"} for _ in range(200)]
    records += [{"kind": "mac", "value": "00:e0:fc:12:34:56"}, {"kind": "snmp.sysobjectid",
                                                                 "value": "1.3.6.1.4.1.2011.2.23.1"}]
    kinds = sorted({k for r in default_rules() for k in r.kinds})
    records += [{"kind": rng.choice(kinds), "value": "".join(rng.choice("abcXYZ019 /-_.:<>&\"'é华") for _ in
                                                              range(rng.randrange(0, 40)))} for _ in range(n_unknown)]
    rng.shuffle(records)
    lines = []
    for i, rec in enumerate(records):
        if i % 7 == 0:
            rec = {**rec, "value": f"  {rec['value']}  "}
        if i % 5 == 0:
            rec = {**rec, "ip": f"192.0.2.{i % 250}", "site": {"name": "<b>x</b>", "n": i}, "tags": [i, None, 1.5]}
        lines.append(json.dumps(rec, ensure_ascii=i % 2 == 0))
    broken = ["not json", "[1, 2]", '{"kind": "ssh.banner"}', '{"kind": 1, "value": "x"}', "", "{", '"text"']
    for j, bad in enumerate(broken):
        lines.insert(37 * (j + 1), bad)
    return lines


def test_spark_attributions_equal_identify_row_for_row(spark: Any, tmp_path: Path) -> None:
    lines = observation_lines()
    assert len(lines) > 4000
    src = tmp_path / "observations.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")

    single = tmp_path / "identify.jsonl"
    result = runner.invoke(app, ["identify", str(src), "--format", "jsonl", "-o", str(single)])
    assert result.exit_code == 1, result.output  # the broken lines
    expected = [json.loads(line) for line in single.read_text(encoding="utf-8").splitlines()]

    out = tmp_path / "attributed"
    result = runner.invoke(app, ["scale", "identify", str(src), "-o", str(out), "--master", "local[2]"])
    assert result.exit_code == 0, result.output
    got = read_rows(out)

    assert len(got) == len(expected) == len(lines)
    attributed = 0
    for want, row, line in zip(expected, got, lines, strict=True):
        if "error" in want:
            assert row["error"] is not None and row["vendor"] is None
            assert row["error"].split(": ", 1)[-1] == want["error"].split(": ", 1)[-1]  # same reason, place aside
            continue
        assert row["error"] is None
        assert json.loads(row["input"]) == json.loads(line)  # the input row, all of its fields kept
        assert (row["kind"], row["value"]) == (want["kind"], want["value"])
        assert (row["attributions"] or []) == want["attributions"]
        best = want["attributions"][0] if want["attributions"] else {}
        assert row["vendor"] == best.get("vendor") and row["rule"] == best.get("rule")
        assert row["version"] == best.get("version") and row["confidence"] == best.get("confidence")
        attributed += bool(want["attributions"])
    assert attributed > 2500
    assert f"{len(lines)} rows" in result.output and len(result.output.strip().splitlines()) == 1


def test_scan_data_equals_the_import_path(spark: Any, tmp_path: Path, engine: Engine) -> None:
    from vendorscope.scale.job import attributed_frame, classify_input

    src = tmp_path / "mixed.jsonl.gz"
    with gzip.open(src, "wb") as f:
        for name in ("shodan-banners.jsonl", "censys-hosts.jsonl", "zgrab2-results.jsonl"):
            f.write((FIXTURES / name).read_bytes().rstrip(b"\n") + b"\n")
        f.write(b'{"neither": "shape"}\n')
    hostile = tmp_path / "hostile.jsonl"  # one the import path itself cannot read yet
    hostile.write_bytes(b'{"ip_str": [null]}\n')
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = attributed_frame(spark, [classify_input(str(src)), classify_input(str(hostile))], now=now).collect()

    collector = Collector()
    with open_maybe_gzip(src) as stream:
        observations = list(read_scandata(stream, str(src), "import", collector, now))
    want = Counter((o.keys.ip, o.kind, o.value, tuple(a.rule for a in engine.identify(o))) for o in observations)
    got = Counter((r["ip"], r["kind"], r["value"], tuple(a["rule"] for a in r["attributions"] or ()))
                  for r in rows if r["error"] is None)
    assert got == want and sum(got.values()) == len(observations) > 20
    errors = [r["error"] for r in rows if r["error"]]
    assert sorted(e.split(":")[0] for e in errors) == sorted([str(src), str(hostile)])
    huawei = next(r for r in rows if r["kind"] == "ssh.banner" and r["vendor"] == "huawei")
    assert (huawei["port"], huawei["asn"], huawei["record"]) == (22, 64500, "shodan")


def test_parquet_in_keeps_columns_and_exposure_out(spark: Any, tmp_path: Path, engine: Engine) -> None:
    hostile = '<img src=x onerror=alert(1)>'
    table = pa.table({
        "kind": ["ssh.banner", "http.server", "ssh.banner", "http.server", None],
        "value": ["SSH-2.0-HUAWEI-1.5", "App-webs/", "SSH-2.0-OpenSSH_9.6", "App-webs/", "x"],
        "ip": ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"],
        "country": ["DE", "DE", "SE", None, "DE"],
        "asn": pa.array([3320, 3320, 3301, 64500, None], pa.int64()),
        "as_name": ["DTAG", "DTAG", "TELIA", hostile, None],
        "port": pa.array([22, 80, 22, 8080, None], pa.int32()),
        "seen": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "at": pa.array([datetime(2026, 1, d, tzinfo=UTC) for d in range(1, 6)], pa.timestamp("us", tz="UTC")),
        "tags": pa.array([{"site": "a"}, {}, {}, {}, {}], pa.map_(pa.string(), pa.string())),
    })
    src = tmp_path / "observations.parquet"
    pq.write_table(table, src)
    out = tmp_path / "attributed.parquet"
    result = runner.invoke(app, ["scale", "identify", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [r["seen"] for r in rows] == [1, 2, 3, 4, 5]  # input columns kept, in order, whatever their type
    assert rows[2]["at"] == datetime(2026, 1, 3, tzinfo=UTC) and rows[0]["tags"] == [("site", "a")]
    assert [r["vendor"] for r in rows] == ["huawei", "hikvision", None, "hikvision", None]
    assert rows[0]["attributions"] == [a.as_dict() for a in engine.identify_value("ssh.banner", "SSH-2.0-HUAWEI-1.5")]
    assert rows[4]["error"] == "needs string fields 'kind' and 'value'"

    again = runner.invoke(app, ["scale", "identify", str(src), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output

    report = tmp_path / "exposure.json"
    result = runner.invoke(app, ["scale", "exposure", str(out), "-o", str(report), "--as-of", "2026-12-01"])
    assert result.exit_code == 0, result.output
    e = json.loads(report.read_text())
    assert e["totals"]["hosts"] == 4 and e["totals"]["identified"] == 3 and e["totals"]["errors"] == 1
    assert {r["key"]: r["assets"] for r in e["by_country"]} == {"DE": 2, "(unknown)": 1}
    assert {r["key"]: r["assets"] for r in e["by_group"]} == {"hikvision": 2, "huawei": 1}
    assert {r["key"] for r in e["by_service"]} == {"22", "80", "8080"}
    packs = {p["id"]: p for p in e["packs"]}
    assert packs["de-5g-2024"]["covered_vendors"] == {"huawei": 1}
    assert packs["us-fcc-covered-list"]["covered"] == 3

    page = tmp_path / "exposure.html"
    result = runner.invoke(app, ["scale", "exposure", str(out), "-o", str(page), "--pack", "de-5g-2024"])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('<svg class="chart bar-chart"') == 5 and 'data-pack="de-5g-2024"' in html
    assert 'data-pack="us-ndaa-889"' not in html

    bad = runner.invoke(app, ["scale", "exposure", str(src), "-o", str(tmp_path / "x.json")])
    assert bad.exit_code == 2 and "is it the output of `scale identify`" in bad.output
    assert "Traceback" not in bad.output
