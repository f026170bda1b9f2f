"""``vendorscope scale identify``: the identify stage as a Spark job (``mapInArrow``).

Inputs are JSON lines (observations in the ``identify`` format and/or
Shodan/Censys/ZGrab2 records, gzip too) and Parquet (observations with
``kind`` and ``value`` columns, all other columns kept; or scan records as
nested rows). Each partition runs :func:`vendorscope.identify.batch.attribute_batch`
with an engine built once per worker process.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

InputFormat = Literal["json", "parquet"]
PARQUET_MAGIC = b"PAR1"
_REMOTE = ("hdfs://", "s3a://", "s3://", "gs://", "abfs://", "abfss://", "wasbs://", "viewfs://", "file://")


class InputError(ValueError):
    """An input that is neither JSON lines nor Parquet (the message names it)."""


@dataclass(frozen=True, slots=True)
class Input:
    path: str
    format: InputFormat


def _sniff(head: bytes) -> InputFormat | None:
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"[", b'"') or (not text and head.strip() == b""):
        return "json"
    return None


def _head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as f:
        head = f.read(size)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as g:
                return g.read(size)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: broken gzip ({exc})") from None
    return head


def classify_input(path: str) -> Input:
    """JSON lines or Parquet, by content for local files (by name for remote ones); raises InputError."""
    if path.startswith(_REMOTE):
        return Input(path, "parquet" if path.rstrip("/").endswith(".parquet") else "json")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(("_", ".")))
        if not files:
            raise InputError(f"{path}: an empty directory")
        kinds = {classify_input(str(f)).format for f in files}
        if len(kinds) > 1:
            raise InputError(f"{path}: a directory that mixes Parquet and JSON files")
        return Input(path, kinds.pop())
    try:
        kind = _sniff(_head(p))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    if kind is None:
        raise InputError(f"{path}: neither JSON lines nor Parquet")
    return Input(path, kind)


def _label(path: str) -> str:
    return path if path.startswith(_REMOTE) else str(Path(path))


def spark_uri(path: str) -> str:
    """A local path as a file:// URI (Spark would read it from the default file system otherwise)."""
    return path if path.startswith(_REMOTE) else Path(path).resolve().as_uri()


def attributed_frame(spark: SparkSession, inputs: list[Input], now: datetime | None = None) -> DataFrame:
    """One DataFrame of attributed rows for all inputs (the union, each input in its own order)."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import StructType

    from vendorscope.identify.batch import ADDED_COLUMNS, added_fields, attribute_batches
    from vendorscope.scale import rows

    now = now or datetime.now(UTC)
    frames: list[DataFrame] = []
    json_schema = from_arrow_schema(rows.identified_schema())
    for item in inputs:
        label = _label(item.path)
        if item.format == "json":
            text = spark.read.text(spark_uri(item.path)).select(F.col("value"), F.lit(label).alias("file"))
            frames.append(text.mapInArrow(partial(rows.identify_lines_batches, now=now), json_schema))
            continue
        table = spark.read.parquet(spark_uri(item.path))
        if {"kind", "value"} <= set(table.columns):
            # The kept columns as Spark has them, then the attribution columns (batch.output_schema's order).
            added = from_arrow_schema(pa.schema(added_fields()))
            schema = StructType([f for f in table.schema.fields if f.name not in ADDED_COLUMNS] + added.fields)
            frames.append(table.mapInArrow(attribute_batches, schema))
        else:
            frames.append(table.mapInArrow(partial(rows.identify_records_batches, now=now, file=label), json_schema))
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return frame
