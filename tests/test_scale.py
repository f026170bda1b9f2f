"""The scale-out path without Spark: the Arrow batch core, JSON lines → rows, input sniffing,
the exposure view (pure counts → tables, packs, HTML). tests/test_scale_spark.py runs the same on Spark."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vendorscope.identify.batch import (
    ADDED_COLUMNS,
    attribute_batch,
    attribution_dicts,
    read_observation_line,
)
from vendorscope.identify.engine import Engine
from vendorscope.identify.registry import default_registry
from vendorscope.identify.rules import default_rules
from vendorscope.judge.packs import load_packs
from vendorscope.scale.exposure import ExposureCounts, build_exposure, vendor_category
from vendorscope.scale.job import InputError, classify_input
from vendorscope.scale.render import render_html, render_json
from vendorscope.scale.rows import ROW_FIELDS, line_rows, place_of, rows_batch

FIXTURES = Path(__file__).parent / "fixtures" / "scandata"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ON = date(2026, 12, 1)


def rule_observations() -> list[tuple[str, str]]:
    return [(kind, example) for rule in default_rules() for kind in rule.kinds for example in rule.examples]


# -- the batch core -------------------------------------------------------------------------------


def test_attribute_batch_equals_the_engine_for_every_rule_example(engine: Engine) -> None:
    pairs = [*rule_observations(), ("http.server", "nginx/1.25.3"), ("mac", "00:e0:fc:12:34:56"), ("x.y", "?")]
    batch = pa.RecordBatch.from_pylist(
        [{"kind": k, "value": v, "row": i} for i, (k, v) in enumerate(pairs)],
        schema=pa.schema([("kind", pa.string()), ("value", pa.string()), ("row", pa.int64())]),
    )
    out = attribute_batch(batch, engine).to_pylist()
    assert len(out) == len(pairs)
    attributed = 0
    for i, ((kind, value), row) in enumerate(zip(pairs, out, strict=True)):
        expected = attribution_dicts(engine, kind, value)
        assert row["row"] == i and row["kind"] == kind and row["value"] == value  # input columns kept
        assert (row["attributions"] or []) == expected
        best = expected[0] if expected else dict.fromkeys(("vendor", "rule", "product", "confidence"))
        assert (row["vendor"], row["rule"], row["product"], row["confidence"]) == (
            best["vendor"], best["rule"], best["product"], best["confidence"])
        assert row["error"] is None
        attributed += bool(expected)
    assert attributed >= len(pairs) - 3  # every rule example names its vendor


def test_attribute_batch_rows_that_cannot_be_attributed() -> None:
    batch = pa.RecordBatch.from_pylist(
        [{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "error": "x.jsonl: not JSON"},
         {"kind": None, "value": "SSH-2.0-HUAWEI-1.5", "error": None},
         {"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "error": None}],
        schema=pa.schema([("kind", pa.string()), ("value", pa.string()), ("error", pa.string())]),
    )
    rows = attribute_batch(batch).to_pylist()
    assert [r["error"] for r in rows] == ["x.jsonl: not JSON", "needs string fields 'kind' and 'value'", None]
    assert [r["vendor"] for r in rows] == [None, None, "huawei"]
    assert list(rows[0]) == ["kind", "value", *ADDED_COLUMNS]


def test_attribute_batch_without_string_columns() -> None:
    batch = pa.RecordBatch.from_pylist([{"kind": 1, "value": 2}])
    assert attribute_batch(batch).to_pylist()[0]["error"] == "needs string fields 'kind' and 'value'"


def test_identify_cli_uses_the_batch_core(tmp_path: Path, engine: Engine) -> None:
    from vendorscope.cli import app

    src = tmp_path / "obs.jsonl"
    src.write_text('{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "site": "x"}\n[1]\n')
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["identify", str(src), "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 1  # one unreadable line
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert first["site"] == "x"
    assert first["attributions"] == attribution_dicts(engine, "ssh.banner", "SSH-2.0-HUAWEI-1.5")
    assert second == {"line": 2, "error": f"{src} line 2: not a JSON object"}


def test_read_observation_line() -> None:
    assert read_observation_line(b"  \n", "f line 1") == {"error": "empty line"}
    assert read_observation_line(b'{"kind": "a", "value": 3}', "f line 2")["error"].startswith("f line 2: needs")
    assert read_observation_line(b'{"kind": "a", "value": "\xff"}', "p") == {"kind": "a", "value": "\ufffd"}
    assert read_observation_line(b"{", "f line 4")["error"].startswith("f line 4: not JSON")


# -- JSON lines → rows ------------------------------------------------------------------------------


def test_observation_lines_keep_their_fields() -> None:
    raw = (b'{"kind":"ssh.banner","value":"SSH-2.0-ZTE_SSH.2.0","ip":"192.0.2.5","port":22,'
           b'"country":"se","asn":"AS3301"}')
    (row,) = line_rows(raw, "obs.jsonl", NOW)
    assert (row["kind"], row["value"], row["ip"], row["port"], row["country"], row["asn"]) == (
        "ssh.banner", "SSH-2.0-ZTE_SSH.2.0", "192.0.2.5", 22, "SE", 3301)
    assert json.loads(row["input"])["asn"] == "AS3301" and row["record"] == "observation"


def test_scan_records_give_one_row_per_evidence() -> None:
    rows = [r for line in (FIXTURES / "shodan-banners.jsonl").read_bytes().splitlines()
            for r in line_rows(line, "shodan.jsonl", NOW)]
    assert rows and all(r["error"] is None and r["record"] == "shodan" for r in rows)
    ssh = next(r for r in rows if r["kind"] == "ssh.banner")
    assert (ssh["ip"], ssh["port"], ssh["value"], ssh["asn"]) == ("192.0.2.10", 22, "SSH-2.0-HUAWEI-1.5", 64500)
    censys = [r for line in (FIXTURES / "censys-hosts.jsonl").read_bytes().splitlines()
              for r in line_rows(line, "censys.jsonl", NOW)]
    assert {r["asn"] for r in censys} >= {64501} and {r["record"] for r in censys} == {"censys"}


@pytest.mark.parametrize(("raw", "message"), [
    (b"not json", "obs.jsonl: not JSON"),
    (b"[1, 2]", "obs.jsonl: not a JSON object"),
    (b'{"kind": "ssh.banner"}', "obs.jsonl: needs string fields"),
    (b'{"foo": 1}', "obs.jsonl: not a Shodan banner, Censys host or ZGrab2 result"),
    (b"", "empty line"),
])
def test_unreadable_lines_get_an_error_row(raw: bytes, message: str) -> None:
    (row,) = line_rows(raw, "obs.jsonl", NOW)
    assert row["error"].startswith(message) and row["kind"] is None


def test_place_of_shodan_censys_and_observations() -> None:
    assert place_of({"location": {"country_code": "de"}, "asn": "AS3320", "isp": "DTAG"}) == ("DE", 3320, "DTAG")
    assert place_of({"result": {"ip": "192.0.2.1", "location": {"country_code": "SE"},
                                "autonomous_system": {"asn": 3301, "name": "TELIA"}}}) == ("SE", 3301, "TELIA")
    assert place_of({"context": {"country": "<b>", "asn": "ASx"}}) == (None, None, None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
scan_keys = st.sampled_from(["ip", "ip_str", "port", "data", "services", "kind", "value", "location", "asn",
                             "autonomous_system", "result", "_shodan", "http", "ssl", "snmp"])


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.dictionaries(scan_keys, json_values, max_size=6).map(
    lambda d: json.dumps(d).encode())))
def test_fuzz_lines_never_raise_and_fit_the_schema(raw: bytes) -> None:
    rows = line_rows(raw, "fuzz.jsonl", NOW)
    batch = attribute_batch(rows_batch(rows))
    assert batch.num_rows == len(rows)
    assert all(set(r) == {name for name, _ in ROW_FIELDS} for r in rows)


# -- inputs -----------------------------------------------------------------------------------------


def test_classify_input(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"kind": "a", "value": "b"}\n')
    with gzip.open(tmp_path / "b.json.gz", "wt") as f:
        f.write('{"ip": "192.0.2.1", "data": {}}\n')
    pq.write_table(pa.table({"kind": ["a"], "value": ["b"]}), tmp_path / "c.bin")
    (tmp_path / "d.csv").write_text("kind,value\nssh.banner,x\n")
    assert classify_input(str(tmp_path / "a.jsonl")).format == "json"
    assert classify_input(str(tmp_path / "b.json.gz")).format == "json"
    assert classify_input(str(tmp_path / "c.bin")).format == "parquet"
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'd.csv'}: neither JSON lines nor Parquet")):
        classify_input(str(tmp_path / "d.csv"))
    with pytest.raises(InputError, match="no such file"):
        classify_input(str(tmp_path / "missing.jsonl"))
    (tmp_path / "d.csv").unlink()
    with pytest.raises(InputError, match="mixes Parquet and JSON"):
        classify_input(str(tmp_path))


def test_scale_identify_refuses_a_file_that_is_neither_json_nor_parquet(tmp_path: Path) -> None:
    from vendorscope.cli import app

    bad = tmp_path / "export.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a scan export")
    result = CliRunner().invoke(app, ["scale", "identify", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{bad}: neither JSON lines nor Parquet" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# -- exposure ---------------------------------------------------------------------------------------


HOSTILE = '<script>alert("as")</script>'


def sample_counts() -> ExposureCounts:
    return ExposureCounts(
        unit="hosts", rows=120, errors=3, units=100,
        by_product=[("huawei", "VRP SSH server", "1.5", 30), ("hikvision", "IP camera", None, 20),
                    ("cisco", None, None, 10), ("zte", HOSTILE, None, 5)],
        by_country=[("huawei", "DE", 25), ("huawei", None, 5), ("hikvision", "DE", 20), ("cisco", "SE", 10),
                    ("zte", "SE", 5)],
        by_asn=[("huawei", 3320, "DTAG", 30), ("hikvision", 64500, HOSTILE, 20), ("cisco", None, None, 10),
                ("zte", 3301, "TELIA", 5)],
        by_service=[("huawei", 22, "ssh", 30), ("hikvision", 80, "http", 20), ("cisco", 443, None, 10),
                    ("zte", 22, "ssh", 5)],
    )


def test_vendor_categories_follow_the_packs() -> None:
    registry, packs = default_registry(), load_packs()
    assert vendor_category("huawei", packs, ON, registry).value == "covered"
    assert vendor_category("cisco", packs, ON, registry).value == "other"
    de = [p for p in packs if p.id == "de-5g-2024"]
    assert vendor_category("hikvision", de, ON, registry).value == "high_risk"  # high-risk, not in that pack


def test_build_exposure_national_view() -> None:
    registry, packs = default_registry(), load_packs()
    e = build_exposure(sample_counts(), packs, ON, registry)
    assert e["totals"] == {"rows": 120, "errors": 3, "hosts": 100, "identified": 65,
                           "covered": 55, "review": 0, "high_risk": 0, "other": 10}
    groups = {r["key"]: r for r in e["by_group"]}
    assert groups["huawei"]["assets"] == 30 and groups["huawei"]["covered"] == 30
    assert groups["cisco"]["other"] == 10
    by_pack = {p["id"]: p for p in e["packs"]}
    assert by_pack["de-5g-2024"]["covered_vendors"] == {"huawei": 30, "zte": 5}
    assert by_pack["us-fcc-covered-list"]["covered"] == 55  # Huawei, ZTE, Hikvision
    assert {r["key"]: r["assets"] for r in e["by_country"]} == {"DE": 45, "SE": 15, "(unknown)": 5}
    assert {r["key"] for r in e["by_service"]} == {"22/ssh", "80/http", "443"}
    assert "AS3320 DTAG" in {r["key"] for r in e["by_asn"]}
    assert json.loads(render_json(e)) == e


def test_exposure_html_escapes_hostile_values_and_draws_the_report_charts() -> None:
    html = render_html(build_exposure(sample_counts(), load_packs(), ON, default_registry()))
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert html.count('<svg class="chart bar-chart"') == 5
    assert "<script" not in html.replace("&lt;script", "")
    assert "Content-Security-Policy" in html


def test_without_java_the_command_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vendorscope.cli import app
    from vendorscope.scale.session import java_missing, local_cores

    src = tmp_path / "obs.jsonl"
    src.write_text('{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5"}\n')
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert "openjdk-17-jre-headless" in (java_missing() or "")
    result = CliRunner().invoke(app, ["scale", "identify", str(src), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Spark needs a Java runtime" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert (local_cores("local[3]"), local_cores("local"), local_cores("local[*]") >= 1) == (3, 1, True)
