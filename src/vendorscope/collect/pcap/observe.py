"""A capture file → observations: in this process, or in several for a large pcapng (--jobs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vendorscope.collect.pcap import parallel
from vendorscope.collect.pcap.errors import SkipReport
from vendorscope.collect.pcap.extract import MAX_DISTINCT, Extractor
from vendorscope.collect.pcap.reader import ProgressCallback
from vendorscope.model import Observation


def read_observations(
    path: str | Path,
    progress: ProgressCallback | None = None,
    report: SkipReport | None = None,
    name: str | None = None,
    max_distinct: int = MAX_DISTINCT,
    jobs: int = 1,
    parallel_min_bytes: int | None = None,
) -> Iterator[Observation]:
    """Every observation in one capture file, deduplicated, with frame numbers.

    Damage is counted in ``report`` (pass one to read it afterwards); a file
    that is not a capture raises :class:`~vendorscope.collect.pcap.errors.NotACaptureError`
    before anything is yielded. With ``jobs`` > 1 a large uncompressed pcapng
    file is read by that many processes (see :mod:`.parallel`).
    """
    path = str(path)
    report = report if report is not None else SkipReport()
    report.files += 1
    name = name or Path(path).name
    minimum = parallel.PARALLEL_MIN_BYTES if parallel_min_bytes is None else parallel_min_bytes
    plan = parallel.plan_parts(path, jobs, minimum) if jobs > 1 else None
    if plan is not None:
        yield from parallel.read_parallel(path, name, plan, progress, report, max_distinct)
        return
    extractor = Extractor(name, report, max_distinct)
    yield from extractor.frames(path, progress)
