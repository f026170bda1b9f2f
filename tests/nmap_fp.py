"""nmap's service-fingerprint escaping, as nmap's service_scan.cc writes it, for tests and fixtures."""

from __future__ import annotations

# Regex punctuation nmap puts a backslash before; other punctuation stands for itself.
_BACKSLASHED = frozenset('\\?"[]().*+$^|')
_NAMED = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x00: "\\0"}


def nmap_escape(raw: bytes) -> str:
    """The escaped form of one answer inside ``r(Probe,len,"…")``."""
    out = []
    for byte in raw:
        ch = chr(byte)
        if byte < 128 and ch.isalnum():
            out.append(ch)
        elif ch in _BACKSLASHED:
            out.append("\\" + ch)
        elif 33 <= byte < 127:
            out.append(ch)
        elif byte in _NAMED:
            out.append(_NAMED[byte])
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)
