"""What every importer shares: bad records, the strict/lenient collector, small normalisers.

An importer reads one file (or one server) and yields observations. Input it
cannot use is reported record by record as a :class:`BadRecord` naming the
file and the place (line, row, element); the :class:`Collector` decides what
a bad record means: lenient (the default) counts it and goes on, so the good
records before and after it still land; strict raises :class:`StrictAbort`
at the first one, so the caller writes nothing.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from vendorscope.evidence.kinds import max_chars
from vendorscope.evidence.record import Evidence, mac_from_text
from vendorscope.model import AssetKeys, Observation

MAX_VALUE = 4096  # characters kept of one observed value
MAX_KEPT = 200  # bad records remembered for the report (all are counted)
GZIP_MAGIC = b"\x1f\x8b"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


@dataclass(frozen=True, slots=True)
class BadRecord:
    """One record that could not be imported: which file, where in it, and why."""

    file: str
    place: str  # "line 12", "row 7 column 'MAC'", "<host> at line 40", "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.file} {self.place}" if self.place else self.file
        return f"{where}: {self.message}"


class StrictAbort(Exception):
    """Raised by a strict collector at the first bad record."""

    def __init__(self, record: BadRecord) -> None:
        super().__init__(str(record))
        self.record = record


class ImportFailure(Exception):
    """The import cannot run at all (server unreachable, bad credentials, bad options)."""


@dataclass
class Collector:
    """Counts good and bad records; strict turns the first bad one into :class:`StrictAbort`."""

    strict: bool = False
    on_bad: Callable[[BadRecord], None] | None = None
    records: int = 0  # good records read (hosts, rows, components, lines)
    bad_count: int = 0
    bad_records: list[BadRecord] = field(default_factory=list)

    def good(self, n: int = 1) -> None:
        self.records += n

    def bad(self, file: str, place: str, message: str) -> None:
        record = BadRecord(file, place, " ".join(message.split())[:300])
        self.bad_count += 1
        if len(self.bad_records) < MAX_KEPT:
            self.bad_records.append(record)
        if self.on_bad is not None:
            self.on_bad(record)
        if self.strict:
            raise StrictAbort(record)


# -- values ---------------------------------------------------------------------


def found(kind: str, value: str | None, context: Mapping[str, Any] | None = None) -> list[Evidence]:
    """The evidence of one field an import may lack: none when the value is empty."""
    return [Evidence(kind, value, context=context)] if value else []


def clean(value: Any, limit: int = MAX_VALUE) -> str | None:
    """A cell or field as stripped text, or None when empty. Control characters become spaces."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    text = text.strip()
    return text[:limit] or None


mac_or_none = mac_from_text  # one reader of written MACs for every source (evidence/record.py)


def ip_or_none(text: str | None) -> str | None:
    """An IPv4/IPv6 address (a prefix length as NetBox writes it is dropped); None if not one."""
    if not text:
        return None
    text = text.strip().split("/", 1)[0].split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def utc_from_epoch(value: Any) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 32503680000:  # year 3000
        return None
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (naive ones are UTC) or epoch seconds, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return utc_from_epoch(value)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return utc_from_epoch(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def observation(
    kind: str,
    value: str,
    *,
    source: str,
    seen_at: datetime | None,
    keys: AssetKeys,
    **context: Any,
) -> Observation:
    return Observation(
        kind=kind,
        value=value[: max(MAX_VALUE, max_chars(kind))],
        source=source,
        seen_at=seen_at,
        keys=keys,
        context={k: v for k, v in context.items() if v is not None},
    )


def source_name(kind: str, name: str) -> str:
    """The source string of an import: ``import:nmap:scan.xml``."""
    return f"import:{kind}:{name}"


# -- files ----------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A binary stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def open_maybe_gzip(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[IO[bytes]]:
    """Open a file for binary reading, transparently gunzipping it (judged by its magic bytes)."""
    raw: IO[bytes] = path.open("rb")
    if on_read is not None:
        raw = io.BufferedReader(CountingReader(raw, on_read), 1 << 20)
    try:
        head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        if head == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield raw
    finally:
        raw.close()
