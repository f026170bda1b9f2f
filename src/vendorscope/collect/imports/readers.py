"""The reader of each file kind: one function the CLI `import` and the web's uploads both call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from vendorscope.collect.imports.common import Collector, open_maybe_gzip
from vendorscope.model import Observation

FILE_KINDS = ("nmap", "table", "sbom", "scandata")


def read_file(kind: str, path: Path, source: str, collector: Collector, now: datetime,
              mapping: dict[str, str] | None = None, sheet: str | None = None,
              on_read: Callable[[int], None] | None = None) -> Iterator[Observation]:
    """The observations of one file of ``kind`` (one of :data:`FILE_KINDS`), read by that kind's collector.

    Bad records go to ``collector``; ``on_read`` hears how many bytes were read (the table reader reads
    the file itself and does not report).
    """
    if kind not in FILE_KINDS:
        raise ValueError(f"kind: one of {', '.join(FILE_KINDS)}, not {kind!r}")
    name = str(path)
    if kind == "table":
        from vendorscope.collect.imports.table import read_table

        yield from read_table(path, name, source, collector, now, mapping=mapping, sheet=sheet)
    elif kind == "sbom":
        from vendorscope.collect.imports.sbom import SbomError, read_document, read_sbom

        try:
            with open_maybe_gzip(path, on_read) as stream:
                data = read_document(stream)
        except SbomError as exc:
            collector.bad(name, exc.place, str(exc))
            return
        yield from read_sbom(data, name, source, collector, now)
    elif kind == "nmap":
        from vendorscope.collect.imports.nmap import read_nmap

        with open_maybe_gzip(path, on_read) as stream:
            yield from read_nmap(stream, name, source, collector, now)
    else:
        from vendorscope.collect.imports.scandata import read_scandata

        with open_maybe_gzip(path, on_read) as stream:
            yield from read_scandata(stream, name, source, collector, now)
