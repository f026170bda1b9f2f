"""Lines of JSON (observations or internet-scan records) → rows of observations, as Arrow batches.

Pure functions of their input, run inside Spark's ``mapInArrow`` (and by the
tests and the benchmark without Spark). A line in the ``identify`` input
format (it has ``kind`` or ``value``) gives exactly one row; a scan record
(Shodan, Censys, ZGrab2, read by :mod:`vendorscope.collect.imports.scandata`)
gives one row per piece of evidence; a line that cannot be read gives one row
with ``error`` set. Nothing here raises on data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from vendorscope.collect.imports.common import clean, ip_or_none
from vendorscope.collect.imports.scandata import RecordError, record_observations
from vendorscope.identify.batch import attribute_batch, output_schema, read_observation_line

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

# The observation row every JSON line turns into, before attribution.
ROW_FIELDS: tuple[tuple[str, str], ...] = (
    ("file", "string"),
    ("record", "string"),  # observation, shodan, censys, zgrab2
    ("ip", "string"),
    ("port", "int32"),
    ("service", "string"),
    ("country", "string"),
    ("asn", "int64"),
    ("as_name", "string"),
    ("seen_at", "string"),
    ("kind", "string"),
    ("value", "string"),
    ("input", "string"),  # an observation line as it was read (all its fields kept)
    ("error", "string"),
)
_decode = msgspec.json.Decoder().decode


def _unwrap(record: dict[str, Any]) -> dict[str, Any]:
    for wrapper in ("result", "resource", "host"):
        inner = record.get(wrapper)
        if isinstance(inner, dict) and ("services" in inner or "ip" in inner):
            return inner
    return record


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _asn(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().upper().removeprefix("AS")
        value = int(text) if text.isdigit() and len(text) <= 10 else None
    return value if isinstance(value, int) and 0 <= value < 1 << 32 else None


def _country(value: Any) -> str | None:
    text = clean(value, 8) if isinstance(value, str) else None
    return text.upper() if text and text.isascii() and text.isalpha() else None


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535 else None


def place_of(record: dict[str, Any]) -> tuple[str | None, int | None, str | None]:
    """(country code, autonomous system number, AS name) where a scan or observation record names them.

    Shodan: ``location.country_code``, ``asn`` ("AS4134"), ``isp``; Censys:
    ``location.country_code``, ``autonomous_system.asn`` and ``.name``; an
    observation: ``country``, ``asn``, ``as_name`` at the top or in ``context``.
    """
    record = _unwrap(record)
    context = _dict(record.get("context"))
    location = _dict(record.get("location"))
    system = _dict(record.get("autonomous_system"))
    country = _country(location.get("country_code") or record.get("country") or context.get("country"))
    asn = _asn(system.get("asn") or record.get("asn") or context.get("asn"))
    name = system.get("name") or record.get("as_name") or context.get("as_name") or record.get("isp")
    return country, asn, clean(name, 256) if isinstance(name, str) else None


def _observation_row(record: dict[str, Any], raw: bytes, file: str) -> dict[str, Any]:
    keys = _dict(record.get("keys"))
    context = _dict(record.get("context"))
    ip = record.get("ip") if isinstance(record.get("ip"), str) else keys.get("ip")
    country, asn, as_name = place_of(record)
    service = record.get("service") or context.get("service") or context.get("module")
    seen_at = record.get("seen_at")
    return {
        "file": file, "record": "observation", "ip": ip_or_none(ip) if isinstance(ip, str) else None,
        "port": _port(record.get("port", context.get("port"))),
        "service": clean(service, 64) if isinstance(service, str) else None,
        "country": country, "asn": asn, "as_name": as_name,
        "seen_at": seen_at if isinstance(seen_at, str) else None,
        "kind": record["kind"], "value": record["value"],
        "input": raw.decode("utf-8", "replace").rstrip("\r\n"), "error": None,
    }


def _error_row(file: str, message: str, raw: bytes | None = None) -> dict[str, Any]:
    row = dict.fromkeys((name for name, _ in ROW_FIELDS))
    row.update(file=file, error=message)
    if raw is not None:
        row["input"] = raw.decode("utf-8", "replace").rstrip("\r\n")[:4096]
    return row


def scan_rows(record: Any, file: str, now: datetime) -> list[dict[str, Any]]:
    """One row per piece of evidence of a scan record; one error row if it has the wrong shape."""
    try:
        observations = record_observations(record, source=f"import:scandata:{file}", file=file, line=0, now=now)
    except RecordError as exc:
        return [_error_row(file, f"{file}: {exc}")]
    except (TypeError, ValueError, AttributeError) as exc:
        # A record hostile enough to trip the parser costs its own row, never the whole job.
        return [_error_row(file, f"{file}: unreadable record ({type(exc).__name__})")]
    country, asn, as_name = place_of(record)
    rows = []
    for obs in observations:
        ctx = obs.context
        service = ctx.get("service") or ctx.get("module")
        rows.append({
            "file": file, "record": ctx.get("scanner"), "ip": obs.keys.ip, "port": _port(ctx.get("port")),
            "service": str(service)[:64] if service else None,
            "country": country, "asn": asn, "as_name": as_name,
            "seen_at": obs.seen_at.isoformat() if obs.seen_at else None,
            "kind": obs.kind, "value": obs.value, "input": None, "error": None,
        })
    return rows


def line_rows(raw: bytes, file: str, now: datetime) -> list[dict[str, Any]]:
    """The rows of one JSON line: an observation, a scan record, or an error."""
    if not raw.strip():
        return [_error_row(file, "empty line")]
    try:
        record = _decode(raw)
    except msgspec.DecodeError:
        record = None  # read_observation_line names the problem (and retries invalid UTF-8)
    if record is None or not isinstance(record, dict) or "kind" in record or "value" in record:
        record = read_observation_line(raw, file)
        if "error" in record:
            return [_error_row(file, record["error"], raw)]
        if "kind" in record and "value" in record:
            return [_observation_row(record, raw, file)]
    return scan_rows(record, file, now)


# -- Arrow ----------------------------------------------------------------------------------------


def row_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(name, getattr(pa, kind)()) for name, kind in ROW_FIELDS])


def rows_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist(rows, schema=row_schema())


def identified_schema() -> pa.Schema:
    """The schema of the rows :func:`identify_lines_batches` yields."""
    return output_schema(row_schema())


def identify_lines_batches(
    batches: Iterator[pa.RecordBatch], now: datetime, text_column: str = "value", file_column: str = "file"
) -> Iterator[pa.RecordBatch]:
    """Batches of JSON lines (a text column and a file column) → batches of attributed observation rows."""
    for batch in batches:
        texts = batch.column(text_column).to_pylist()
        files = batch.column(file_column).to_pylist()
        rows: list[dict[str, Any]] = []
        for text, file in zip(texts, files, strict=True):
            rows.extend(line_rows((text or "").encode("utf-8", "surrogatepass"), file or "", now))
        yield attribute_batch(rows_batch(rows))


def identify_records_batches(
    batches: Iterator[pa.RecordBatch], now: datetime, file: str
) -> Iterator[pa.RecordBatch]:
    """Batches of scan records as Parquet rows (nested columns as the JSON had them) → attributed rows."""
    for batch in batches:
        rows: list[dict[str, Any]] = []
        for record in batch.to_pylist():
            rows.extend(scan_rows(record, file, now))
        yield attribute_batch(rows_batch(rows))
