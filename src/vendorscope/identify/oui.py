"""MAC address registrants from the IEEE registry.

The registry comes as netaddr ships it (MA-L ``oui.txt`` and the 36-bit IAB
``iab.txt``). Further IEEE CSV exports (MA-L, MA-M, MA-S: the files the IEEE
publishes as oui.csv, mam.csv, oui36.csv) can be added with
``vendorscope data update FILE``; they are read from the data directory.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from vendorscope.identify.cache import cache_key, cached_pickle

# "10-E9-92   (hex)		INGRAM MICRO SERVICES" (MA-L), and the IAB block lines:
# "40-D8-55   (hex)   Avant Technologies" followed by "0D7000-0D7FFF  (base 16) ...".
_HEX_LINE = re.compile(r"^([0-9A-F]{2}(?:-[0-9A-F]{2}){2})\s+\(hex\)\s+(.*?)\s*$")
_BASE16_RANGE = re.compile(r"^([0-9A-F]{6})-[0-9A-F]{6}\s+\(base 16\)")


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
    if len(digits) != 12 or not all(c in _HEXDIGITS for c in digits):
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


def parse_ieee_txt(text: str, bits: int) -> dict[tuple[int, int], str]:
    """Parse netaddr's oui.txt (bits=24) or iab.txt (bits=36)."""
    out: dict[tuple[int, int], str] = {}
    org: str | None = None
    oui: str | None = None
    for line in text.splitlines():
        m = _HEX_LINE.match(line.strip())
        if m:
            oui, org = m.group(1).replace("-", ""), m.group(2)
            if bits == 24:
                out[(24, int(oui, 16))] = org
            continue
        if bits == 36 and oui and org:
            r = _BASE16_RANGE.match(line.strip())
            if r:
                out[(36, int(oui + r.group(1)[:3], 16))] = org
                oui = None
    return out


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
        out[(bits, int(assignment, 16))] = row[2].strip()
    return out


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
        for bits, block in ((36, "MA-S"), (28, "MA-M"), (24, "MA-L")):
            key = (bits, value >> (48 - bits))
            org = self._entries.get(key)
            if org is not None:
                hexdigits = f"{key[1]:0{bits // 4}X}"
                prefix = ":".join(hexdigits[i : i + 2] for i in range(0, len(hexdigits), 2))
                return MacInfo(norm, "global", org, prefix, block)
        return MacInfo(norm, "global", None, None, None)


def load_oui_table(extra_dir: Path | None = None) -> OuiTable:
    eui = Path(str(resources.files("netaddr") / "eui"))
    folder = (extra_dir or data_dir()) / "ieee"
    extra = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    sources = [eui / "oui.txt", eui / "iab.txt", *extra]
    # Parsing the registry text takes a quarter of a second on every start-up;
    # the parsed table is cached, keyed by the files it came from.
    key = cache_key(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources)
    return OuiTable(cached_pickle("oui", key, lambda: _parse_registry(sources[0], sources[1], extra)))


def _parse_registry(oui_txt: Path, iab_txt: Path, extra: list[Path]) -> dict[tuple[int, int], str]:
    entries = parse_ieee_txt(oui_txt.read_bytes().decode("utf-8", "replace"), 24)
    entries.update(parse_ieee_txt(iab_txt.read_bytes().decode("utf-8", "replace"), 36))
    for path in extra:
        entries.update(parse_ieee_csv(path.read_text("utf-8", errors="replace")))
    return entries


@cache
def default_oui_table() -> OuiTable:
    return load_oui_table()
