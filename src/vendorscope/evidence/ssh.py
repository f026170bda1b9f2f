"""SSH: the identification line a server sends first (RFC 4253 section 4.2), and the server's
KEXINIT when it follows in the same bytes (RFC 4253 section 7.1).

KEXINIT gives two weak signals (hint kinds): ``ssh.kex``, the server's lists as
``kex;hostkey;cipher;mac;compression`` (server to client), and ``ssh.hassh``, the
HASSH-server convention: MD5 of ``kex;cipher;mac;compression`` (the number fingerprint
collections publish). Many stacks share one library's defaults, so neither decides alone.
A capture delivers the KEXINIT when it arrived with the line (Dropbear and many embedded
servers send both at once); a server that waits for the client's line is read by its banner only.
"""

from __future__ import annotations

import contextlib
import hashlib

from vendorscope.evidence.record import DecodeError, Evidence, clean_text

PORTS = frozenset({22, 2222, 830})  # 830: NETCONF over SSH
MAX_LINE = 255  # RFC 4253: the identification string is at most 255 characters
MAX_KEXINIT = 35000  # RFC 4253 section 6.1: packets of at least 35000 bytes must be accepted
MSG_KEXINIT = 20
_NAME_LISTS = 10
MAX_KEX_VALUE = 2048


def banner(data: bytes) -> str | None:
    """The SSH identification line (RFC 4253 allows other lines before it), or None."""
    for line in data.split(b"\n", 64)[:64]:
        line = line.rstrip(b"\r")
        if line.startswith(b"SSH-"):
            return clean_text(line, MAX_LINE) or None
    return None


def kexinit_lists(packet: bytes) -> list[str]:
    """The ten name-lists of a KEXINIT binary packet (length, padding length, payload, padding).

    Raises DecodeError when the bytes are not a complete KEXINIT."""
    if len(packet) < 6:
        raise DecodeError("truncated SSH packet")
    length = int.from_bytes(packet[:4], "big")
    if not 5 <= length <= MAX_KEXINIT or len(packet) < 4 + length:
        raise DecodeError("bad or incomplete SSH packet length")
    padding = packet[4]
    payload = packet[5 : 4 + length - padding]
    if not payload or payload[0] != MSG_KEXINIT:
        raise DecodeError("not a KEXINIT")
    pos, lists = 17, []  # message number and 16-byte cookie
    for _ in range(_NAME_LISTS):
        if pos + 4 > len(payload):
            raise DecodeError("truncated KEXINIT name-list")
        size = int.from_bytes(payload[pos : pos + 4], "big")
        pos += 4
        if pos + size > len(payload):
            raise DecodeError("truncated KEXINIT name-list")
        raw = payload[pos : pos + size]
        if not all(32 < b < 127 for b in raw):
            raise DecodeError("KEXINIT name-list is not US-ASCII names")
        lists.append(raw.decode("ascii"))
        pos += size
    return lists


def kex_evidence(lists: list[str]) -> list[Evidence]:
    """ssh.kex (the lists) and ssh.hassh (MD5, HASSH-server) of a server's KEXINIT."""
    kex, hostkey, _enc_cs, enc_sc, _mac_cs, mac_sc, _comp_cs, comp_sc = lists[:8]
    hassh_input = ";".join((kex, enc_sc, mac_sc, comp_sc))
    hassh = hashlib.md5(hassh_input.encode("ascii"), usedforsecurity=False).hexdigest()
    value = ";".join((kex, hostkey, enc_sc, mac_sc, comp_sc))[:MAX_KEX_VALUE]
    return [Evidence("ssh.kex", value, context={"hassh": hassh}),
            Evidence("ssh.hassh", hassh, context={"hostkey": hostkey[:512]})]


def after_line(data: bytes) -> bytes | None:
    """The bytes after the identification line, or None while the line is not complete."""
    start = data.find(b"SSH-")
    end = data.find(b"\n", max(start, 0))
    return data[end + 1 :] if start >= 0 and end >= 0 else None


def kexinit_complete(rest: bytes) -> bool:
    """Whether the bytes after the line hold a whole first packet, or cannot be a KEXINIT at all
    (a reader waits no longer: bounded by :data:`MAX_KEXINIT`)."""
    if len(rest) < 6:
        return False
    length = int.from_bytes(rest[:4], "big")
    if not 5 <= length <= MAX_KEXINIT or rest[5] != MSG_KEXINIT:
        return True
    return len(rest) >= 4 + length


def stream_complete(data: bytes) -> bool:
    """A server's first bytes are read: the line and the KEXINIT after it (or what stands for it)."""
    rest = after_line(data)
    if rest is None:
        return len(data) >= MAX_LINE
    return kexinit_complete(rest)


def ssh_evidence(data: bytes) -> list[Evidence]:
    line = banner(data)
    if not line:
        return []
    out = [Evidence("ssh.banner", line)]
    end = data.find(b"\n", data.find(b"SSH-"))
    if end >= 0 and len(data) > end + 6:
        # What follows the line may not (yet) be a whole KEXINIT: then the banner stands alone.
        with contextlib.suppress(DecodeError):
            out.extend(kex_evidence(kexinit_lists(data[end + 1 :])))
    return out
