"""Identification in columns: one Arrow record batch of observations → the same batch with attributions.

This is the one code path that ``vendorscope identify FILE``, ``import scandata``
(through :meth:`Engine.identify_value`) and the Spark job (``vendorscope scale
identify``, inside ``mapInArrow``) share: :func:`attribution_dicts` names the
attributions of one kind and value, :func:`read_observation_line` reads one
line of the ``identify`` input format, and :func:`attribute_batch` applies
both to a batch. The engine is built once per process (:func:`default_engine`
is a module-level lazy singleton), so a Spark Python worker builds it on its
first batch and reuses it for every later one.

pyarrow is imported only by the functions that need it: the plain CLI works
without the ``spark`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from vendorscope.identify.engine import Engine, default_engine

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

# The best attribution, flattened, then all of them (best first), then why a row has none.
ATTRIBUTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("vendor", "string"),
    ("vendor_name", "string"),
    ("group", "string"),
    ("product", "string"),
    ("version", "string"),
    ("device_type", "string"),
    ("confidence", "float64"),
    ("rule", "string"),
    ("component", "bool_"),
)
ATTRIBUTION_COLUMNS: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTION_FIELDS)
ADDED_COLUMNS: tuple[str, ...] = (*ATTRIBUTION_COLUMNS, "attributions", "error")

_decode = msgspec.json.Decoder().decode


def attribution_dicts(engine: Engine, kind: str, value: str) -> list[dict[str, Any]]:
    """The attributions of one kind and value, best first, as plain dicts (the unit every path shares)."""
    return [dict(d) for d in engine.identify_values_as_dicts([(kind, value)])[0]]


def decode_observation_line(raw: bytes) -> dict[str, Any] | None:
    """The fast path of :func:`read_observation_line`: the record when the line is a JSON object
    with string ``kind`` and ``value``, else None (then ask :func:`read_observation_line` why)."""
    try:
        record = _decode(raw)
    except msgspec.DecodeError:
        return None
    if type(record) is dict and type(record.get("kind")) is str and type(record.get("value")) is str:
        return record
    return None


def read_observation_line(raw: bytes, place: str) -> dict[str, Any]:
    """One line of the ``identify`` input format as a dict with string ``kind`` and ``value``,
    or ``{"error": ...}`` naming ``place`` (e.g. ``obs.jsonl line 7``)."""
    if not raw.strip():
        return {"error": "empty line"}
    try:
        record = _decode(raw)
    except msgspec.DecodeError as exc:
        try:  # invalid UTF-8 inside a string: read it with replacement characters
            record = _decode(raw.decode("utf-8", "replace").encode("utf-8"))
        except msgspec.DecodeError:
            return {"error": f"{place}: not JSON ({exc})"}
    if not isinstance(record, dict):
        return {"error": f"{place}: not a JSON object"}
    if not isinstance(record.get("kind"), str) or not isinstance(record.get("value"), str):
        return {"error": f"{place}: needs string fields 'kind' and 'value'"}
    return record


# -- Arrow ----------------------------------------------------------------------------------------


def attribution_struct() -> pa.DataType:
    import pyarrow as pa

    return pa.struct([pa.field(name, getattr(pa, kind)()) for name, kind in ATTRIBUTION_FIELDS])


def added_fields() -> list[pa.Field]:
    """The columns :func:`attribute_batch` adds, as Arrow fields."""
    import pyarrow as pa

    return [
        *(pa.field(name, getattr(pa, kind)()) for name, kind in ATTRIBUTION_FIELDS),
        pa.field("attributions", pa.list_(attribution_struct())),
        pa.field("error", pa.string()),
    ]


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input's columns (those not replaced), then the attribution columns."""
    import pyarrow as pa

    kept = [f for f in input_schema if f.name not in ADDED_COLUMNS]
    return pa.schema([*kept, *added_fields()])


def _strings(batch: pa.RecordBatch, name: str) -> list[Any]:
    import pyarrow as pa

    index = batch.schema.get_field_index(name)
    if index < 0:
        return [None] * batch.num_rows
    column = batch.column(index)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return [_NOT_STRING] * batch.num_rows
    return column.to_pylist()


_NOT_STRING = object()


def attribute_batch(batch: pa.RecordBatch, engine: Engine | None = None) -> pa.RecordBatch:
    """Attributions for every row of ``batch`` (columns ``kind`` and ``value``; others are kept).

    A row whose ``error`` is already set (it could not be read) passes through
    unattributed; a row without string ``kind`` and ``value`` gets an error.
    """
    import pyarrow as pa

    engine = engine or default_engine()
    kinds, values = _strings(batch, "kind"), _strings(batch, "value")
    errors = _strings(batch, "error") if "error" in batch.schema.names else [None] * batch.num_rows
    flat: dict[str, list[Any]] = {name: [] for name in ATTRIBUTION_COLUMNS}
    every: list[list[dict[str, Any]] | None] = []
    out_errors: list[str | None] = []
    readable = [
        (error is None or error is _NOT_STRING) and isinstance(kind, str) and isinstance(value, str)
        for kind, value, error in zip(kinds, values, errors, strict=True)
    ]
    identified = iter(engine.identify_values_as_dicts(
        [(kind, value) for kind, value, ok in zip(kinds, values, readable, strict=True) if ok]
    ))
    for error, ok in zip(errors, readable, strict=True):
        found: list[dict[str, Any]] | None = None
        if ok:
            found = list(next(identified))
        elif error is None or error is _NOT_STRING:
            error = "needs string fields 'kind' and 'value'"
        best = found[0] if found else {}
        for name in ATTRIBUTION_COLUMNS:
            flat[name].append(best.get(name))
        every.append(found)
        out_errors.append(error if isinstance(error, str) else None)
    schema = output_schema(batch.schema)
    kept = [batch.column(batch.schema.get_field_index(f.name)) for f in batch.schema if f.name not in ADDED_COLUMNS]
    added = [
        *(pa.array(flat[name], type=schema.field(name).type) for name in ATTRIBUTION_COLUMNS),
        pa.array(every, type=schema.field("attributions").type),
        pa.array(out_errors, type=pa.string()),
    ]
    return pa.RecordBatch.from_arrays([*kept, *added], schema=schema)


def attribute_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """:func:`attribute_batch` over a stream of batches (what ``mapInArrow`` hands a partition)."""
    for batch in batches:
        yield attribute_batch(batch)
