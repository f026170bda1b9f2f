"""Streaming pcap / pcapng reader (optionally gzip-compressed), in constant memory.

The reader keeps one buffer of at most a few megabytes, parses record and block
headers with ``struct.unpack_from`` and yields each frame as
``(frame_number, timestamp, link_type, data, original_length)``. Frame numbers
count packets from 1, as Wireshark does, so every observation can be found again.

Damage is survived, not trusted: a record or block whose length cannot be right
is reported and the reader searches forward for the next plausible header
(for pcapng the block's trailing length must match; for pcap the timestamp must
lie near the last good one and the following header must be plausible too).
A file that ends in the middle of a record is reported and the frames before it
are kept.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from vendorscope.collect.pcap.errors import NotACaptureError, SkipReport

Frame = tuple[int, float, int, bytes, int]
"""(frame number, seconds since the epoch, link type, captured bytes, original length)"""

# Read size: a buffer this small is refilled from memory the allocator reuses; 4 MiB buffers
# cost a page fault per 4 KiB on every refill (a third of the reading time of a 256 MB capture).
CHUNK = 256 << 10
# libpcap's and Wireshark's upper bound for one packet; larger lengths are damage.
MAX_PACKET = 262_144
# Wireshark refuses pcapng blocks over 16 MiB; so do we.
MAX_BLOCK = 16 << 20
# Records and blocks that carry no packet bytes (zero-length records, empty packet blocks,
# statistics) cost a loop turn each: a zero-filled tail of gigabytes would be read for
# minutes. After this many in a row the rest of the file is reported and not read.
MAX_EMPTY_RUN = 10_000
EMPTY_RECORD = "zero-length record (nothing captured)"

PCAP_MAGICS: dict[bytes, tuple[str, float]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
_SHB_BYTES = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

# pcapng block types
IDB, PB_OBSOLETE, SPB, EPB = 1, 2, 3, 6
KNOWN_BLOCKS = frozenset({PCAPNG_SHB, IDB, PB_OBSOLETE, SPB, 4, 5, EPB, 7, 8, 9, 10, 0x80000001})

ProgressCallback = Callable[[int], None]
Unpacker = Callable[[bytes, int], tuple[Any, ...]]


@dataclass(slots=True)
class Interface:
    link_type: int
    snaplen: int
    ts_unit: float = 1e-6
    ts_offset: int = 0


class Run:
    """Well-formed packet records at ``pos`` in the reader's buffer, for a consumer that walks
    them itself instead of receiving one :data:`Frame` each (see :func:`read_frames` ``runs``).

    The consumer reads records from ``pos`` for as long as they pass the reader's own fast-path
    test (the conditions that end the fast loops of :func:`_pcapng_frames` and :func:`_pcap_frames`:
    an EPB of a known interface, 4-byte aligned, inside the buffer, with packet bytes and a
    matching trailing length; a pcap record with packet bytes, inside the buffer, within the
    captured-length and fraction limits), numbering them from ``frame`` + 1,
    stops at the first that does not (or earlier, if it wants), and leaves ``pos`` after the last
    record it took and ``frame`` at its number. The reader goes on from there; anything
    unusual (damage, other blocks, the end of the buffer) it handles and yields frame by frame.
    """

    __slots__ = ("buf", "pos", "frame", "links", "units", "offsets", "head", "trailer", "limit", "frac_limit",
                 "last", "endian")

    def __init__(self, endian: str, buf: bytes, pos: int, frame: int, links: list[int], units: list[float],
                 offsets: list[int], head: Unpacker, trailer: Unpacker | None = None, limit: int = 0,
                 frac_limit: int = 0) -> None:
        self.endian = endian  # of the record headers: "<" or ">"
        self.buf, self.pos, self.frame = buf, pos, frame
        # pcapng: per interface; pcap: one entry (the file's link type and time unit, offset 0)
        self.links, self.units, self.offsets = links, units, offsets
        # pcapng: the unpackers of the 28-byte EPB head and of the trailing length;
        # pcap: the record header's, and the limits of its captured length and fraction
        self.head, self.trailer = head, trailer
        self.limit, self.frac_limit = limit, frac_limit
        self.last = -1  # pcap: offset of the last record taken (its timestamp matters to resync)


class _Source:
    """A byte stream with a sliding buffer; tells how many input bytes were consumed."""

    def __init__(self, raw: BinaryIO, stream: BinaryIO, progress: ProgressCallback | None) -> None:
        self.raw, self.stream, self.progress = raw, stream, progress
        self.buf = b""
        self.pos = 0  # offset in buf
        self.base = 0  # file offset (uncompressed) of buf[0]
        self.eof = False
        self.reported = 0
        self.error: str | None = None

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False if the stream ends first."""
        while len(self.buf) - self.pos < need and not self.eof:
            chunk = self._read(max(CHUNK, need))
            if not chunk:
                self.eof = True
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
            self._tell_progress()
        return len(self.buf) - self.pos >= need

    def _read(self, size: int) -> bytes:
        if self.stream is self.raw:
            return self.stream.read(size)
        # Decompress piece by piece: a cut or damaged stream raises only when it
        # reaches the damage, and every byte before it is kept.
        pieces: list[bytes] = []
        got = 0
        while got < size:
            try:
                piece = self.stream.read1(size - got)  # type: ignore[attr-defined]
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                self.error = f"compressed stream damaged or cut ({exc})"
                break
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)

    def _tell_progress(self) -> None:
        if self.progress is None:
            return
        try:
            done = self.raw.tell()
        except (OSError, ValueError):
            return
        if done > self.reported:
            self.progress(done - self.reported)
            self.reported = done

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def finish(self, name: str, report: SkipReport) -> None:
        """Report a damaged compressed stream, count the bytes read, close the files."""
        if self.error:
            report.add(self.error, name, offset=self.offset)
        report.bytes += self.offset + (len(self.buf) - self.pos)
        self._tell_progress()
        self.close()

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        self.raw.close()


def open_capture(path: str) -> tuple[BinaryIO, BinaryIO]:
    """(raw file, decompressed stream) — the same object for uncompressed files."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    head = raw.read(2)
    raw.seek(0)
    if head == GZIP_MAGIC:
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw, raw


class PartFile:
    """The head of a capture file (up to ``head_end``) followed by the bytes from
    ``start`` to ``end``: what one worker of a parallel read sees, a well-formed
    capture of its own when the part begins and ends at block boundaries."""

    def __init__(self, path: str, head_end: int, start: int, end: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._pieces = [(0, head_end), (start, end)] if start > head_end else [(0, end)]
        self._piece = 0
        self._pos = 0
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        out: list[bytes] = []
        while self._piece < len(self._pieces) and size != 0:
            lo, hi = self._pieces[self._piece]
            left = hi - lo - self._pos
            if left <= 0:
                self._piece, self._pos = self._piece + 1, 0
                continue
            self._file.seek(lo + self._pos)
            chunk = self._file.read(left if size < 0 else min(size, left))
            if not chunk:
                break
            self._pos += len(chunk)
            self._done += len(chunk)
            out.append(chunk)
            if size > 0:
                size -= len(chunk)
        return b"".join(out)

    def tell(self) -> int:
        return self._done

    def close(self) -> None:
        self._file.close()


def read_frames(
    path: str,
    report: SkipReport,
    name: str | None = None,
    progress: ProgressCallback | None = None,
    part: tuple[int, int, int] | None = None,
    runs: bool = False,
) -> Iterator[Frame | Run]:
    """Every frame of a pcap or pcapng file (gzip too); damage goes to ``report``.

    With ``runs``, well-formed records sitting in the buffer come as :class:`Run` objects for
    the caller to walk (no tuple, copy or timestamp per frame it skips); everything else
    still comes as frames.

    Raises :class:`NotACaptureError` at once, before any frame, for a file that
    is not a capture. The file is closed when the iterator ends or is closed.
    ``part`` (head end, start, end) reads only that part of the file, behind its head.
    """
    name = name or path
    if part is None:
        raw, stream = open_capture(path)
    else:
        raw = stream = PartFile(path, *part)  # type: ignore[assignment]
    src = _Source(raw, stream, progress)
    try:
        if not src.fill(4):
            if src.error:
                raise NotACaptureError(f"{name}: not a capture ({src.error})")
            raise NotACaptureError(f"{name}: empty file, not a pcap or pcapng capture")
        magic = src.buf[:4]
        if magic in PCAP_MAGICS:
            frames = _pcap_frames
        elif magic == _SHB_BYTES:
            frames = _pcapng_frames
        else:
            hint = " (a pcap/pcapng file that was compressed twice?)" if magic[:2] == GZIP_MAGIC else ""
            raise NotACaptureError(f"{name}: not a pcap or pcapng capture (starts with {magic.hex(' ')}){hint}")
    except BaseException:
        src.close()
        raise
    # The generator itself is returned (not wrapped) because a layer of
    # delegation per frame costs measurable time on multi-gigabyte captures.
    return frames(src, name, report, runs)


# -- pcap -----------------------------------------------------------------


def _pcap_frames(src: _Source, name: str, report: SkipReport, runs: bool = False) -> Iterator[Frame | Run]:
    try:
        if not src.fill(24):
            raise NotACaptureError(f"{name}: pcap header cut short ({len(src.buf)} of 24 bytes)")
        endian, unit = PCAP_MAGICS[src.buf[:4]]
        _major, _minor, _zone, _sigfigs, snaplen, link_field = struct.unpack_from(endian + "HHiIII", src.buf, 4)
        # The upper bits of the link field may carry an FCS length (pcap "LinkType and additional info").
        link_type = link_field & 0x0FFFFFFF
        limit = MAX_PACKET if not 0 < snaplen <= MAX_PACKET else max(snaplen, 65_535)
        frac_limit = 1_000_000 if unit == 1e-6 else 1_000_000_000
        header = struct.Struct(endian + "IIII")
        unpack = header.unpack_from
        src.pos += 24
        frame = 0
        last_sec = -1
        empty_run = 0
        while True:
            buf, pos = src.buf, src.pos
            end_buf = len(buf)
            while runs and pos + 16 <= end_buf:
                run = Run(endian, buf, pos, frame, [link_type], [unit], [0], unpack, None, limit, frac_limit)
                yield run
                if run.frame == frame:
                    break  # the record at pos is not a plain one: the careful path below reads it
                pos, frame = run.pos, run.frame
                last_sec = unpack(buf, run.last)[0]
            # The fast path: as many whole records as the buffer holds.
            while pos + 16 <= end_buf:
                sec, frac, incl, orig = unpack(buf, pos)
                if incl > limit or frac >= frac_limit or not incl:
                    break
                end = pos + 16 + incl
                if end > end_buf:
                    break
                frame += 1
                last_sec = sec
                yield frame, sec + frac * unit, link_type, buf[pos + 16 : end], orig
                pos = end
            if pos != src.pos:
                empty_run = 0
            src.pos = pos
            if not src.fill(16):
                if len(src.buf) > src.pos:
                    report.add("file ends inside a record header", name, frame=frame + 1, offset=src.offset)
                return
            sec, frac, incl, orig = unpack(src.buf, src.pos)
            if not incl and frac < frac_limit:
                frame += 1
                empty_run += 1
                if _too_many_empty(empty_run, name, report, frame, src.offset):
                    return
                report.add(EMPTY_RECORD, name, frame=frame, offset=src.offset)
                src.pos += 16
                continue
            if incl <= limit and frac < frac_limit:
                if not src.fill(16 + incl):
                    report.add(
                        f"file ends inside a record ({len(src.buf) - src.pos - 16:,} of {incl:,} bytes)",
                        name, frame=frame + 1, offset=src.offset,
                    )
                    return
                continue
            report.add(f"corrupt pcap record header (length {incl:,})", name, frame=frame + 1, offset=src.offset)
            if not _pcap_resync(src, header, limit, frac_limit, last_sec):
                report.add("no further readable records after damage", name, offset=src.offset)
                return
    finally:
        src.finish(name, report)


def _too_many_empty(run: int, name: str, report: SkipReport, frame: int, offset: int) -> bool:
    """True (and reported) once ``run`` records or blocks in a row carried no packet bytes."""
    if run <= MAX_EMPTY_RUN:
        return False
    report.add(f"more than {MAX_EMPTY_RUN:,} records in a row carry no packet bytes: the rest of the file "
               "is not read (damaged or zero-filled?)", name, frame=frame, offset=offset)
    return True


def _pcap_plausible(buf: bytes, pos: int, header: struct.Struct, limit: int, frac_limit: int,
                    last_sec: int) -> bool:
    if pos + 16 > len(buf):
        return False
    sec, frac, incl, orig = header.unpack_from(buf, pos)
    if incl > limit or frac >= frac_limit or orig < incl or orig > 16 * MAX_PACKET:
        return False
    return last_sec < 0 or abs(sec - last_sec) <= 86_400


def _pcap_resync(src: _Source, header: struct.Struct, limit: int, frac_limit: int, last_sec: int) -> bool:
    """Move ``src.pos`` to the next offset where two consecutive records look right."""
    # Search for the timestamp's two high bytes (stable for hours) with bytes.find,
    # which runs at memory speed, instead of trying every offset in Python.
    little = header.format.startswith("<")
    sec_bytes = struct.pack("<I" if little else ">I", max(last_sec, 0))
    needle, delta = (sec_bytes[2:4], 2) if little else (sec_bytes[0:2], 0)
    origin = src.base + src.pos
    start = src.pos + 1
    while True:
        rel = start - src.pos  # fill() may move the buffer: keep offsets relative to pos
        src.fill(rel + 64 * 1024)
        start = src.pos + rel
        buf = src.buf
        if last_sec >= 0:
            i = buf.find(needle, start + delta)
            candidate = i - delta if i >= 0 else -1
        else:
            # No good record yet, so no timestamp to look for: try every offset, for 1 MiB at most.
            if src.base + start - origin > 1 << 20:
                return False
            candidate = start if start + 16 <= len(buf) else -1
        if candidate < 0:
            if src.eof:
                return False
            src.pos = max(src.pos, len(buf) - 32)  # keep a tail: a header may straddle the chunk end
            start = max(start, src.pos)
            continue
        if not _pcap_plausible(buf, candidate, header, limit, frac_limit, last_sec):
            start = candidate + 1
            continue
        incl = header.unpack_from(buf, candidate)[2]
        src.pos = candidate
        src.fill(16 + incl + 16)
        buf = src.buf
        following = src.pos + 16 + incl
        if following + 16 > len(buf) or _pcap_plausible(buf, following, header, limit, frac_limit, last_sec):
            return True
        start = src.pos + 1


# -- pcapng ---------------------------------------------------------------


def _idb_interface(body: bytes, endian: str) -> Interface:
    if len(body) < 8:
        raise ValueError("interface description block too short")
    link_type, _reserved, snaplen = struct.unpack_from(endian + "HHI", body, 0)
    iface = Interface(link_type, snaplen)
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:  # if_tsresol
            v = value[0]
            iface.ts_unit = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        elif code == 14 and length >= 8:  # if_tsoffset
            iface.ts_offset = struct.unpack_from(endian + "q", value)[0]
        pos += 4 + ((length + 3) & ~3)
    return iface


def _pcapng_frames(src: _Source, name: str, report: SkipReport, runs: bool = False) -> Iterator[Frame | Run]:
    try:
        endian = "<"
        interfaces: list[Interface] = []
        frame = 0
        last_ts = 0.0
        head = struct.Struct(endian + "II")
        u32 = struct.Struct(endian + "I")
        epb = struct.Struct(endian + "IIIII")
        empty_run = 0
        while True:
            # The fast path: enhanced packet blocks already in the buffer, one unpack each.
            buf, pos = src.buf, src.pos
            end_buf = len(buf)
            epb_head = struct.Struct(endian + "IIIIIII").unpack_from
            trailer = u32.unpack_from
            n_ifaces = len(interfaces)
            units = [i.ts_unit for i in interfaces]
            offsets = [i.ts_offset for i in interfaces]
            links = [i.link_type for i in interfaces]
            while runs and pos + 32 <= end_buf and n_ifaces:
                run = Run(endian, buf, pos, frame, links, units, offsets, epb_head, trailer)
                yield run
                if run.frame == frame:
                    break  # the block at pos is not a plain EPB: the careful path below reads it
                pos, frame = run.pos, run.frame
                _t, _l, iface_id, ts_hi, ts_lo, _c, _o = epb_head(buf, pos - trailer(buf, pos - 4)[0])
                last_ts = (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id]
            while pos + 32 <= end_buf:
                btype, blen, iface_id, ts_hi, ts_lo, caplen, orig = epb_head(buf, pos)
                end = pos + blen
                if (btype != EPB or blen & 3 or end > end_buf or caplen > blen - 32 or iface_id >= n_ifaces
                        or not caplen or trailer(buf, end - 4)[0] != blen):
                    break
                frame += 1
                last_ts = (ts_hi * 4294967296 + ts_lo) * units[iface_id] + offsets[iface_id]
                yield frame, last_ts, links[iface_id], buf[pos + 28 : pos + 28 + caplen], orig
                pos = end
            if pos != src.pos:
                empty_run = 0
            src.pos = pos
            # Anything else, one block at a time: each counts as empty until it yields packet bytes.
            empty_run += 1
            if _too_many_empty(empty_run, name, report, frame + 1, src.offset):
                return
            if not src.fill(12):
                if len(src.buf) > src.pos:
                    report.add("file ends inside a block header", name, frame=frame + 1, offset=src.offset)
                return
            buf, pos = src.buf, src.pos
            btype, blen = head.unpack_from(buf, pos)
            if btype == PCAPNG_SHB:
                bom = buf[pos + 8 : pos + 12]
                new_endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else None
                if new_endian is None:
                    report.add("section header with unknown byte order", name, offset=src.offset)
                    if not _pcapng_resync(src, head, endian):
                        return
                    continue
                endian = new_endian
                head = struct.Struct(endian + "II")
                u32 = struct.Struct(endian + "I")
                epb = struct.Struct(endian + "IIIII")
                blen = head.unpack_from(buf, pos)[1]
                interfaces = []
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                report.add(f"corrupt pcapng block length {blen:,}", name, frame=frame + 1, offset=src.offset)
                if not _pcapng_resync(src, head, endian):
                    report.add("no further readable blocks after damage", name, offset=src.offset)
                    return
                continue
            if not src.fill(blen):
                report.add(
                    f"file ends inside a block ({len(src.buf) - src.pos:,} of {blen:,} bytes)",
                    name, frame=frame + 1, offset=src.offset,
                )
                return
            buf, pos = src.buf, src.pos
            if u32.unpack_from(buf, pos + blen - 4)[0] != blen:
                report.add("corrupt pcapng block (trailing length differs)", name, frame=frame + 1,
                           offset=src.offset)
                if not _pcapng_resync(src, head, endian):
                    report.add("no further readable blocks after damage", name, offset=src.offset)
                    return
                continue
            src.pos = pos + blen
            if btype == EPB:
                if blen < 32:
                    report.add("enhanced packet block too short", name, frame=frame + 1, offset=src.offset)
                    continue
                iface_id, ts_hi, ts_lo, caplen, orig = epb.unpack_from(buf, pos + 8)
                frame += 1
                if caplen > blen - 32 or iface_id >= len(interfaces):
                    what = "captured length beyond block" if caplen > blen - 32 else f"unknown interface {iface_id}"
                    report.add(f"enhanced packet block: {what}", name, frame=frame, offset=src.offset - blen)
                    continue
                iface = interfaces[iface_id]
                last_ts = ((ts_hi << 32) | ts_lo) * iface.ts_unit + iface.ts_offset
                if not caplen:
                    report.add(EMPTY_RECORD, name, frame=frame, offset=src.offset - blen)
                    continue
                empty_run = 0
                yield frame, last_ts, iface.link_type, buf[pos + 28 : pos + 28 + caplen], orig
            elif btype == SPB:
                frame += 1
                if not interfaces or blen < 16:
                    report.add("simple packet block without an interface", name, frame=frame,
                               offset=src.offset - blen)
                    continue
                orig = u32.unpack_from(buf, pos + 8)[0]
                iface = interfaces[0]
                caplen = min(orig, blen - 16, iface.snaplen or MAX_BLOCK)
                if caplen > 0:
                    empty_run = 0
                # Simple packet blocks carry no timestamp: use the last one seen.
                yield frame, last_ts, iface.link_type, buf[pos + 12 : pos + 12 + caplen], orig
            elif btype == IDB:
                try:
                    interfaces.append(_idb_interface(buf[pos + 8 : pos + blen - 4], endian))
                except (ValueError, struct.error) as exc:
                    report.add(f"bad interface description block ({exc})", name, offset=src.offset - blen)
                    interfaces.append(Interface(-1, 0))
            elif btype == PB_OBSOLETE:
                frame += 1
                if blen < 32:
                    report.add("packet block too short", name, frame=frame, offset=src.offset - blen)
                    continue
                iface_id = struct.unpack_from(endian + "H", buf, pos + 8)[0]
                ts_hi, ts_lo, caplen, orig = struct.unpack_from(endian + "IIII", buf, pos + 12)
                if caplen > blen - 32 or iface_id >= len(interfaces):
                    report.add("bad packet block", name, frame=frame, offset=src.offset - blen)
                    continue
                iface = interfaces[iface_id]
                last_ts = ((ts_hi << 32) | ts_lo) * iface.ts_unit + iface.ts_offset
                if caplen > 0:
                    empty_run = 0
                yield frame, last_ts, iface.link_type, buf[pos + 28 : pos + 28 + caplen], orig
            # Other blocks (name resolution, statistics, custom, decryption secrets) carry no frames.
    finally:
        src.finish(name, report)


def _pcapng_resync(src: _Source, head: struct.Struct, endian: str) -> bool:
    """Move ``src.pos`` to the next block whose leading and trailing lengths agree."""
    start = src.pos + 4
    needles = [struct.pack(endian + "I", t) for t in (EPB, SPB, IDB)] + [_SHB_BYTES]
    while True:
        rel = start - src.pos  # fill() may move the buffer: keep offsets relative to pos
        src.fill(rel + 64 * 1024)
        start = src.pos + rel
        buf = src.buf
        candidates = [i for n in needles if (i := buf.find(n, start)) >= 0]
        if not candidates:
            if src.eof:
                return False
            src.pos = max(src.pos, len(buf) - 16)
            start = src.pos
            continue
        found = min(candidates)
        if found + 8 > len(buf):
            if src.eof:
                return False
            src.pos = found
            start = found
            continue
        btype, blen = head.unpack_from(buf, found)
        if btype == PCAPNG_SHB or (12 <= blen <= MAX_BLOCK and blen % 4 == 0 and btype in KNOWN_BLOCKS):
            src.pos = found
            if btype == PCAPNG_SHB:
                return True
            if src.fill(blen) and struct.unpack_from(endian + "I", src.buf, src.pos + blen - 4)[0] == blen:
                return True
            start = src.pos + 1
            continue
        start = found + 1
