"""One large capture read on several cores.

An uncompressed pcapng file is cut at block boundaries into parts. Each worker
process reads the file's head (section header and interface blocks) followed
by its part, which is a well-formed capture of its own, with the ordinary
extractor; the parent numbers the frames as in the whole file and merges what
the parts found. Memory stays bounded per worker, as in a sequential read.

What a part cannot know, it does not guess: a flow whose first message straddles
a cut is read from the next part's first full message, and an IP bound to its
MAC in one part keys evidence of another part by IP only (resolve merges them).
Compressed files and classic pcap (no block markers to resynchronise on) are
read sequentially.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vendorscope.collect.pcap.errors import SkipReport
from vendorscope.collect.pcap.extract import Extractor
from vendorscope.collect.pcap.reader import EPB, IDB, KNOWN_BLOCKS, MAX_BLOCK, PCAPNG_SHB, ProgressCallback
from vendorscope.model import Observation

# Below this size a second process costs more than it saves.
PARALLEL_MIN_BYTES = 256 << 20
_WINDOW = 4 << 20  # how far past a cut to look for the next block
_HEAD_BLOCKS = frozenset({PCAPNG_SHB, IDB, 4})  # section header, interfaces, name resolution


@dataclass(frozen=True, slots=True)
class Plan:
    head_end: int
    parts: tuple[tuple[int, int, int], ...]  # (head end, start, end) per worker


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under ``taskset``), not the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def default_jobs() -> int:
    """One process per usable core, at most 4: a process pinned to one core reads sequentially
    (two workers taking turns on one core would only add their start-up and the merge)."""
    return max(1, min(4, usable_cores()))


def plan_parts(path: str, jobs: int, min_bytes: int = PARALLEL_MIN_BYTES) -> Plan | None:
    """Where to cut ``path`` for ``jobs`` workers, or None when it is read sequentially."""
    if jobs < 2:
        return None
    size = os.path.getsize(path)
    if size < max(min_bytes, 1):
        return None
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        endian = _pcapng_endian(head)
        if endian is None:
            return None
        head_end = _head_end(head, endian)
        if head_end is None:
            return None
        cuts = [head_end]
        for k in range(1, jobs):
            target = max(cuts[-1] + 1, size * k // jobs)
            cut = _next_block(f, target, endian)
            if cut is None or cut >= size:
                break
            cuts.append(cut)
    if len(cuts) < 2:
        return None
    bounds = [*cuts, size]
    return Plan(head_end, tuple((head_end, bounds[i], bounds[i + 1]) for i in range(len(cuts))))


def _pcapng_endian(head: bytes) -> str | None:
    if len(head) < 12 or head[:4] != struct.pack("<I", PCAPNG_SHB):
        return None
    bom = head[8:12]
    return "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else None


def _head_end(head: bytes, endian: str) -> int | None:
    """Offset of the first block after the section header and interface blocks."""
    pos = 0
    while pos + 8 <= len(head):
        btype, blen = struct.unpack_from(endian + "II", head, pos)
        if btype not in _HEAD_BLOCKS:
            return pos if pos > 0 else None
        if blen < 12 or blen % 4 or pos + blen > len(head):
            return None
        pos += blen
    return None


def _next_block(f: Any, target: int, endian: str) -> int | None:
    """The first enhanced packet block at or after ``target`` that is followed by another block."""
    start = target + (-target % 4)  # blocks are 4-byte aligned from the start of the file
    f.seek(start)
    window = f.read(_WINDOW)
    needle = struct.pack(endian + "I", EPB)
    word = struct.Struct(endian + "I")
    pos = window.find(needle)
    while pos >= 0:
        if pos % 4 == 0 and _block_chain_at(window, pos, endian, word):
            return start + pos
        pos = window.find(needle, pos + 1)
    return None


def _block_chain_at(window: bytes, pos: int, endian: str, word: struct.Struct) -> bool:
    """A plausible EPB at ``pos`` whose trailer matches, followed by a plausible block."""
    if pos + 12 > len(window):
        return False
    blen = word.unpack_from(window, pos + 4)[0]
    if blen < 32 or blen % 4 or blen > MAX_BLOCK or pos + blen + 8 > len(window):
        return False
    if word.unpack_from(window, pos + blen - 4)[0] != blen:
        return False
    after = pos + blen
    next_type, next_len = struct.unpack_from(endian + "II", window, after)
    if next_type not in KNOWN_BLOCKS or next_len < 12 or next_len % 4 or next_len > MAX_BLOCK:
        return False
    end = after + next_len
    return end > len(window) or word.unpack_from(window, end - 4)[0] == next_len


# -- workers ----------------------------------------------------------------------

_progress_counter: Any = None


def _init_worker(counter: Any) -> None:
    global _progress_counter
    _progress_counter = counter


def _count_progress(n: int) -> None:
    with _progress_counter.get_lock():
        _progress_counter.value += n


def _read_part(path: str, name: str, part: tuple[int, int, int], max_distinct: int) -> tuple[list[Observation],
                                                                                            SkipReport]:
    report = SkipReport()
    extractor = Extractor(name, report, max_distinct)
    progress = _count_progress if _progress_counter is not None else None
    return list(extractor.frames(path, progress, part)), report


def read_parallel(path: str, name: str, plan: Plan, progress: ProgressCallback | None, report: SkipReport,
                  max_distinct: int) -> Iterator[Observation]:
    """Read the parts of ``plan`` in worker processes; observations numbered as in the whole file."""
    # Imported here: a sequential read (one core, small or compressed files) never needs them.
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    counter = context.Value("q", 0)
    with ProcessPoolExecutor(len(plan.parts), mp_context=context, initializer=_init_worker,
                             initargs=(counter,)) as pool:
        futures = [pool.submit(_read_part, path, name, part, max_distinct) for part in plan.parts]
        shown = 0
        while True:
            done, pending = wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION)
            if progress is not None and counter.value > shown:
                progress(counter.value - shown)
                shown = counter.value
            if not pending or any(f.exception() for f in done):
                break
        results = [f.result() for f in futures]
    yield from merge_parts(plan, results, report)


def merge_parts(plan: Plan, results: list[tuple[list[Observation], SkipReport]],
                report: SkipReport) -> Iterator[Observation]:
    """Frames renumbered as in the whole file; evidence seen by several parts kept once."""
    merged: dict[tuple[Any, ...], Observation] = {}
    first_frame = 0
    last = len(plan.parts) - 1
    for n, ((observations, part_report), (head_end, start, _end)) in enumerate(
        zip(results, plan.parts, strict=True)
    ):
        for obs in observations:
            obs = _renumbered(obs, first_frame)
            key = (obs.kind, obs.value, obs.keys, obs.context.get("path"))
            earlier = merged.get(key)
            if earlier is None:
                merged[key] = obs
            else:
                count = int(earlier.context.get("count", 1)) + int(obs.context.get("count", 1))
                merged[key] = dataclasses.replace(earlier, context={**earlier.context, "count": count})
        shift = start - head_end if start > head_end else 0
        _merge_report(report, part_report, first_frame, shift, head_end if shift else 0, n < last)
        first_frame += part_report.frames
    yield from merged.values()


def _renumbered(obs: Observation, first_frame: int) -> Observation:
    frame = obs.context.get("frame")
    if not first_frame or not isinstance(frame, int):
        return obs
    return dataclasses.replace(obs, context={**obs.context, "frame": frame + first_frame})


# A part ends where the next begins, at a block the next part has checked: a part
# that runs into its end while looking for a block after damage has lost nothing.
_PART_END_REASON = "no further readable blocks"


def _merge_report(report: SkipReport, part: SkipReport, first_frame: int, shift: int, head: int,
                  followed: bool) -> None:
    report.frames += part.frames
    report.bytes += part.bytes - head
    for reason, count in part.counts.items():
        places = part.places.get(reason, ())
        if followed and reason.startswith(_PART_END_REASON):
            continue
        for place in places:
            frame = place.frame + first_frame if place.frame is not None else None
            offset = place.offset + shift if place.offset is not None and place.offset >= head else place.offset
            report.add(reason, place.file, frame=frame, offset=offset)
        report.counts[reason] += count - len(places)


