"""Inventory tables (CSV, TSV, XLSX from CMDBs and spreadsheets) → observations.

Columns are recognised by their header in the common forms of several
languages (``columns.toml``), or named with a mapping (``manufacturer=Hersteller``).
Text files are decoded as UTF-8 (with or without BOM), UTF-16, GB18030 or
cp1252, whichever the bytes say; the delimiter (``,`` ``;`` tab ``|``) is
the one that makes a header row appear.

Per row: ``inventory.manufacturer`` and ``inventory.model`` (labels: the
registry normalises "HUAWEI TECHNOLOGIES CO.,LTD." or "华为技术有限公司"),
a ``mac`` observation for the MAC column, and ``asset.site``,
``asset.role`` and ``asset.tag`` facts. Serial, hostname, IP, MAC and asset
tag become the asset's keys; a row with none of them is keyed by its
place in the file, so its observations still stay together.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tomllib
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any

from vendorscope.collect.imports.common import (
    Collector,
    ImportFailure,
    clean,
    ip_or_none,
    mac_or_none,
    observation,
)
from vendorscope.model import AssetKeys, Observation, Role

FIELDS = ("manufacturer", "model", "serial", "hostname", "ip", "mac", "asset_tag", "site", "role", "tags")
KEY_FIELDS = ("mac", "ip", "hostname", "serial", "asset_tag")
HEADER_SCAN_ROWS = 20
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PLACEHOLDERS = frozenset(
    {"", "-", "--", "—", "n/a", "na", "n.a.", "none", "null", "nil", "unknown", "unbekannt", "k.a.",
     "keine", "?", "tbd", "无", "未知", "暂无", "#n/a"}
)
_HEADER_DROP = re.compile(r"[\s_\-./#()\[\]:]+")
_WORDS = re.compile(r"[^\w]+")
_TAG_SPLIT = re.compile(r"[,;|]")
_VALUE_SPLIT = re.compile(r"[,;\s]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_SCRIPT_CHANGE = re.compile(r"(?<=[0-9a-z])(?=[\u3040-\u9fff])|(?<=[\u3040-\u9fff])(?=[0-9a-z])")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_GARBAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


class TableFormatError(ValueError):
    """The file is not a table we can read (the message says why)."""


# -- the column data --------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    synonyms: dict[str, tuple[str, ...]]  # field → folded header names, preferred first
    roles: tuple[tuple[Role, tuple[str, ...]], ...]  # (role, folded words), in trial order


def fold_header(text: str) -> str:
    """A header as a comparison key: "Serial Number" → "serialnumber", "IP 地址" → "ip地址"."""
    return _HEADER_DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


def _fold_words(text: str) -> str:
    """Case-folded words; a change between CJK and Latin script ("OLT光接入") separates words too."""
    text = _SCRIPT_CHANGE.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(w for w in _WORDS.split(text) if w)


def parse_columns(doc: dict[str, Any]) -> ColumnSpec:
    columns = doc.get("columns", {})
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise ValueError(f"columns.toml: unknown fields {sorted(unknown)}")
    synonyms = {f: tuple(dict.fromkeys(fold_header(s) for s in columns.get(f, ()) if fold_header(s))) for f in FIELDS}
    roles = []
    for entry in doc.get("role", []):
        role = Role(entry["role"])
        roles.append((role, tuple(_fold_words(w) for w in entry.get("words", ()) if _fold_words(w))))
    return ColumnSpec(synonyms, tuple(roles))


@cache
def default_columns() -> ColumnSpec:
    text = (resources.files("vendorscope.collect.imports") / "columns.toml").read_text("utf-8")
    return parse_columns(tomllib.loads(text))


def parse_mapping(text: str | None) -> dict[str, str]:
    """``manufacturer=Hersteller,model=Typ`` → {field: header}; raises ValueError naming the problem."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        if not part.strip():
            continue
        field, sep, header = part.partition("=")
        field, header = field.strip().lower().replace("-", "_"), header.strip()
        if field in ("tag", "asset"):
            field = {"tag": "tags", "asset": "asset_tag"}[field]
        if not sep or not header:
            raise ValueError(f"--map entry {part.strip()!r} is not FIELD=HEADER")
        if field not in FIELDS:
            raise ValueError(f"--map: unknown field {field!r} (fields: {', '.join(FIELDS)})")
        mapping[field] = header
    return mapping


def match_columns(
    headers: Sequence[str | None], spec: ColumnSpec, mapping: dict[str, str] | None = None
) -> dict[str, int]:
    """Field → column index. Mapped headers first; then each field takes the column whose
    header is its most preferred name; a column serves one field."""
    folded = [fold_header(h) if h else "" for h in headers]
    taken: set[int] = set()
    found: dict[str, int] = {}
    for field, header in (mapping or {}).items():
        key = fold_header(header)
        for i, f in enumerate(folded):
            if f == key and i not in taken:
                found[field] = i
                taken.add(i)
                break
    for field in FIELDS:
        if field in found or (mapping and field in mapping):
            continue
        for name in spec.synonyms[field]:
            index = next((i for i, f in enumerate(folded) if f == name and i not in taken), None)
            if index is not None:
                found[field] = index
                taken.add(index)
                break
    return found


def role_of(text: str, spec: ColumnSpec) -> Role | None:
    """The asset role a role/function cell names ("Core router" → core, "摄像机" → cctv)."""
    words = f" {_fold_words(text)} "
    if words.strip() in Role.__members__:
        return Role(words.strip())
    for role, names in spec.roles:
        for name in names:
            if (_CJK.search(name) and name in words) or f" {name} " in words:
                return role
    return None


def split_tags(text: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(text) if t.strip()))


def _value(cell: Any) -> str | None:
    text = clean(cell, 1024)
    if text is None or text.casefold() in PLACEHOLDERS:
        return None
    return text


def _first(text: str, parse: Any) -> str | None:
    """The first token of a cell that ``parse`` accepts ("10.0.0.1, 10.0.0.2" → 10.0.0.1)."""
    whole = parse(text)
    if whole:
        return str(whole)
    for token in _VALUE_SPLIT.split(text):
        value = parse(token.strip("()[]<>"))
        if value:
            return str(value)
    return None


# -- one row ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Where the rows come from, and what each column means."""

    file: str
    source: str
    headers: tuple[str, ...]
    columns: dict[str, int]
    spec: ColumnSpec
    seen_at: datetime | None
    sheet: str | None = None


def row_observations(
    table: Table, cells: Sequence[Any], place: dict[str, Any], collector: Collector
) -> list[Observation]:
    """The observations of one data row; a row that cannot be used is a bad record."""
    where = " ".join(f"{k} {v}" for k, v in place.items())
    values: dict[str, str] = {}
    for field, index in table.columns.items():
        if index < len(cells):
            raw = cells[index]
            if isinstance(raw, str) and _GARBAGE.search(raw):
                collector.bad(table.file, where, f"column {table.headers[index]!r}: binary garbage "
                              "or bytes that are not text in this file's encoding")
                return []
            value = _value(raw)
            if value is not None:
                values[field] = value
    keys: dict[str, str] = {}
    for field in KEY_FIELDS:
        if field not in values:
            continue
        raw = values[field]
        if field == "mac":
            parsed = _first(raw, mac_or_none)
        elif field == "ip":
            parsed = _first(raw, ip_or_none)
        else:
            parsed = raw[:255]
        if parsed is None:
            header = table.headers[table.columns[field]]
            collector.bad(table.file, where, f"column {header!r}: {raw[:60]!r} is not a {field.upper()} address")
            return []
        keys[field] = parsed
    if not keys:
        keys["asset_tag"] = f"{table.file}#{'/'.join(str(v) for v in place.values())}"
    asset_keys = AssetKeys(**keys)
    out: list[Observation] = []

    def emit(kind: str, value: str, field: str, **extra: Any) -> None:
        header = table.headers[table.columns[field]] if field in table.columns else None
        out.append(observation(kind, value, source=table.source, seen_at=table.seen_at, keys=asset_keys,
                               file=table.file, sheet=table.sheet, column=header, **place, **extra))

    if "manufacturer" in values:
        emit("inventory.manufacturer", values["manufacturer"], "manufacturer")
    if "model" in values:
        emit("inventory.model", values["model"], "model")
    if "mac" in keys:
        emit("mac", keys["mac"], "mac")
    if "site" in values:
        emit("asset.site", values["site"], "site")
    if "role" in values:
        role = role_of(values["role"], table.spec)
        if role is not None:
            emit("asset.role", role.value, "role", stated=values["role"])
    if "tags" in values:
        for tag in split_tags(values["tags"]):
            emit("asset.tag", tag[:100], "tags")
    return out


def _is_empty(cells: Sequence[Any]) -> bool:
    return all(_value(c) is None for c in cells)


def find_header(rows: Iterable[tuple[int, Sequence[Any]]], spec: ColumnSpec,
                mapping: dict[str, str] | None) -> tuple[int, tuple[str, ...], dict[str, int]] | None:
    """The first of the leading rows that names columns: (place, headers, columns)."""
    for count, (place, cells) in enumerate(rows):
        if count >= HEADER_SCAN_ROWS:
            break
        headers = tuple(clean(c, 200) or "" for c in cells)
        columns = match_columns(headers, spec, mapping)
        if mapping and all(f in columns for f in mapping) and columns:
            return place, headers, columns
        nonempty = sum(1 for h in headers if h)
        if len(columns) >= 2 or (columns and nonempty == len(columns)):
            return place, headers, columns
    return None


def _no_header(file: str, mapping: dict[str, str] | None) -> str:
    if mapping:
        return f"no header row with the mapped columns {', '.join(repr(h) for h in mapping.values())}"
    return (f"no header row with known columns in the first {HEADER_SCAN_ROWS} rows "
            "(name them with --map manufacturer=...,hostname=...)")


def missing_mapped(file: str, headers: Sequence[str], columns: dict[str, int],
                   mapping: dict[str, str] | None) -> str | None:
    """What is wrong when --map names a column the header row does not have, else None."""
    missing = [(f, h) for f, h in (mapping or {}).items() if f not in columns]
    if not missing:
        return None
    named = ", ".join(f"{f}={h}" for f, h in missing)
    have = ", ".join(repr(h) for h in headers if h) or "none"
    return f"{file}: --map {named}: no such column; the file's columns are {have}"


def _useful(columns: dict[str, int]) -> bool:
    return any(f in columns for f in ("manufacturer", "model", "mac", "site", "role", "tags"))


# -- text files ----------------------------------------------------------------------------


def _utf16_without_bom(sample: bytes) -> str | None:
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.05:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.05:
        return "utf-16-be"
    return None


def _looks_gb(sample: bytes) -> bool:
    """Whether non-ASCII bytes come in GB2312-zone pairs (Chinese) rather than alone (cp1252)."""
    high = paired = 0
    i, n = 0, len(sample)
    while i < n:
        b = sample[i]
        if b < 0x80:
            i += 1
            continue
        if i + 1 < n and 0xA1 <= b <= 0xF7 and 0xA1 <= sample[i + 1] <= 0xFE:
            high += 2
            paired += 2
            i += 2
            continue
        high += 1
        i += 1
    return high > 0 and paired >= 0.8 * high


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 (BOM or not), GB18030 or cp1252, judged from the first bytes."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if sample.count(0) > len(sample) * 0.05 or sample.startswith((b"%PDF", b"\x89PNG", b"\x7fELF", b"GIF8")):
        raise TableFormatError("binary data, not a text table")
    # Lines with non-ASCII bytes vote; lines with control bytes are garbage and do not.
    lines = [line for line in sample.split(b"\n")[:-1] or [sample]
             if any(b >= 0x80 for b in line) and not _CONTROL_BYTES.search(line)]
    if not lines:
        return "utf-8"
    decoded = sum(1 for line in lines if _is_utf8(line))
    if decoded >= 0.8 * len(lines):  # a few damaged rows do not change the file's encoding
        return "utf-8"
    if _looks_gb(sample):
        try:
            codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
            return "gb18030"
        except UnicodeDecodeError:
            pass
    return "cp1252"


def sniff_delimiter(text: str, spec: ColumnSpec, mapping: dict[str, str] | None, preferred: str | None) -> str:
    """The delimiter under which a header row appears (most recognised columns wins)."""
    lines = text.splitlines()[:HEADER_SCAN_ROWS]
    best, best_score = preferred or ",", -1
    for delimiter in ((preferred,) if preferred else ()) + DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        found = find_header(enumerate(rows), spec, mapping)
        score = len(found[2]) if found else 0
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_delimited(
    stream: IO[bytes], file: str, source: str, collector: Collector, seen_at: datetime | None,
    *, mapping: dict[str, str] | None = None, spec: ColumnSpec | None = None, suffix: str = "",
) -> Iterator[Observation]:
    """Rows of a CSV/TSV stream (seekable) as observations."""
    spec = spec or default_columns()
    sample = stream.read(SAMPLE_BYTES)
    try:
        encoding = detect_encoding(sample)
    except TableFormatError as exc:
        collector.bad(file, "", str(exc))
        return
    head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    head = head.lstrip("\ufeff")
    delimiter = sniff_delimiter(head, spec, mapping, "\t" if suffix == ".tsv" else None)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                collector.bad(file, f"line {reader.line_num}", f"unreadable CSV: {exc}")
                continue
            if cells and cells[0].startswith("\ufeff"):
                cells[0] = cells[0][1:]
            yield reader.line_num, cells

    iterator = rows()
    leading: list[tuple[int, list[str]]] = []
    for item in iterator:
        if not _is_empty(item[1]):
            leading.append(item)
        if len(leading) >= HEADER_SCAN_ROWS:
            break
    found = find_header(leading, spec, mapping)
    if found is None:
        collector.bad(file, "", _no_header(file, mapping))
        return
    header_line, headers, columns = found
    if (problem := missing_mapped(file, headers, columns, mapping)) is not None:
        raise ImportFailure(problem)  # a named column must not silently fall back to detection
    if not _useful(columns):
        collector.bad(file, f"line {header_line}", "the header names no manufacturer, model, MAC, site, role "
                      "or tag column")
        return
    table = Table(file, source, headers, columns, spec, seen_at)
    width = len(headers)

    def data_rows() -> Iterator[tuple[int, list[str]]]:
        for line, cells in leading:
            if line > header_line:
                yield line, cells
        yield from iterator

    for line, cells in data_rows():
        if _is_empty(cells):
            continue
        if len(cells) != width and not (len(cells) > width and _is_empty(cells[width:])):
            collector.bad(file, f"line {line}", f"{len(cells)} cells where the header has {width} (ragged row)")
            continue
        observations = row_observations(table, cells, {"line": line}, collector)
        if observations:
            collector.good()
            yield from observations


# -- XLSX ----------------------------------------------------------------------------------

# A workbook is a zip: a few kilobytes can declare a sheet of A1:XFD1048576 or inflate to
# gigabytes. Rows are read by the cells actually present (the declared dimension is ignored),
# at most MAX_XLSX_COLUMNS wide, and no part may inflate beyond its limit (docs/limits.md).
MAX_XLSX_COLUMNS = 1000
MAX_XLSX_PART_BYTES = 256 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024


def oversized_xlsx_part(path: Path) -> str | None:
    """Why the workbook at ``path`` inflates too far (zip entry sizes bound what is read), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                limit = (MAX_XLSX_SHARED_STRINGS_BYTES if info.filename.lower().endswith("sharedstrings.xml")
                         else MAX_XLSX_PART_BYTES)
                if info.file_size > limit:
                    return (f"part {info.filename!r} inflates to {info.file_size:,} bytes "
                            f"(limit {limit:,}; see docs/limits.md)")
    except (zipfile.BadZipFile, OSError, ValueError):
        return None  # openpyxl names the damage
    return None


def xlsx_rows(worksheet: Any) -> Iterator[tuple[int, dict[int, Any]]]:
    """(row number, {0-based column: value}) for each row with cells, as the sheet's XML holds them.

    openpyxl's own iteration pads every row to the declared dimension and yields
    the rows in between, so ``A1:XFD1048576`` costs billions of empty cells; this
    reads only the cells present, and ignores columns beyond MAX_XLSX_COLUMNS.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    workbook = worksheet.parent
    with worksheet._get_source() as source:
        parser = WorkSheetParser(source, worksheet._shared_strings, data_only=True, epoch=workbook.epoch,
                                 date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        for row_number, cells in parser.parse():
            present = {cell["column"] - 1: cell["value"] for cell in cells
                       if cell["column"] <= MAX_XLSX_COLUMNS and cell["value"] is not None}
            if present:
                yield row_number, present


def dense_row(cells: dict[int, Any], width: int) -> tuple[Any, ...]:
    """A sparse row as a tuple of at most ``width`` cells (as wide as its last cell within it)."""
    used = [c for c in cells if c < width]
    row: list[Any] = [None] * (max(used) + 1 if used else 0)
    for column in used:
        row[column] = cells[column]
    return tuple(row)


def read_xlsx(
    path: Path, file: str, source: str, collector: Collector, seen_at: datetime | None,
    *, mapping: dict[str, str] | None = None, sheet: str | None = None, spec: ColumnSpec | None = None,
) -> Iterator[Observation]:
    """Rows of an XLSX workbook: the named sheet, or every sheet with a recognisable header."""
    import openpyxl  # slow to import; only when a workbook is read
    from openpyxl.utils.exceptions import InvalidFileException

    spec = spec or default_columns()
    oversized = oversized_xlsx_part(path)
    if oversized is not None:
        collector.bad(file, "", f"XLSX workbook too large: {oversized}")
        return
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        collector.bad(file, "", f"not a readable XLSX workbook: {exc}")
        return
    except Exception as exc:  # openpyxl raises assorted errors on damaged workbooks
        collector.bad(file, "", f"not a readable XLSX workbook: {type(exc).__name__}: {exc}")
        return
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            collector.bad(file, "", f"no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
            return
        names = [sheet] if sheet is not None else list(workbook.sheetnames)
        any_table = False
        for name in names:
            worksheet = workbook[name]
            rows = xlsx_rows(worksheet)
            leading: list[tuple[int, Sequence[Any]]] = []
            for row_number, present in rows:
                item = (row_number, dense_row(present, MAX_XLSX_COLUMNS))
                if not _is_empty(item[1]):
                    leading.append(item)
                if len(leading) >= HEADER_SCAN_ROWS:
                    break
            found = find_header(leading, spec, mapping)
            problem = None if found is None else missing_mapped(f"{file} sheet {name!r}", found[1], found[2], mapping)
            if problem is not None and sheet is not None:
                raise ImportFailure(problem)
            if found is None or problem is not None or not _useful(found[2]):
                if sheet is not None:
                    collector.bad(file, f"sheet {name!r}", _no_header(file, mapping))
                continue
            any_table = True
            header_row, headers, columns = found
            table = Table(file, source, headers, columns, spec, seen_at, sheet=name)

            def data_rows(header_row: int = header_row, leading: list[Any] = leading,
                          rows: Iterator[Any] = rows,
                          width: int = max(columns.values()) + 1) -> Iterator[tuple[int, Sequence[Any]]]:
                yield from ((i, r) for i, r in leading if i > header_row)
                # only the mapped columns are read: a row costs the cells it holds, not the sheet's width
                yield from ((i, dense_row(present, width)) for i, present in rows)

            for row_number, cells in data_rows():
                if _is_empty(cells):
                    continue
                observations = row_observations(table, cells, {"row": row_number}, collector)
                if observations:
                    collector.good()
                    yield from observations
        if not any_table and sheet is None:
            collector.bad(file, "", _no_header(file, mapping) + " on any sheet")
    finally:
        workbook.close()


# -- any table file ---------------------------------------------------------------------------


def read_table(
    path: Path, file: str, source: str, collector: Collector, seen_at: datetime | None,
    *, mapping: dict[str, str] | None = None, sheet: str | None = None, spec: ColumnSpec | None = None,
) -> Iterator[Observation]:
    """A CSV, TSV or XLSX file, judged by its first bytes (the extension only breaks ties)."""
    with path.open("rb") as stream:
        magic = stream.read(8)
        if magic.startswith(OLE_MAGIC):
            collector.bad(file, "", "legacy Excel .xls (or another OLE file) is not supported: "
                          "save it as .xlsx or CSV")
            return
        if magic.startswith(XLSX_MAGIC):
            is_xlsx = True
        else:
            is_xlsx = False
            stream.seek(0)
            yield from read_delimited(stream, file, source, collector, seen_at, mapping=mapping, spec=spec,
                                      suffix=path.suffix.lower())
    if is_xlsx:
        yield from read_xlsx(path, file, source, collector, seen_at, mapping=mapping, sheet=sheet, spec=spec)
