"""SSH: the identification line a server sends first (RFC 4253 section 4.2)."""

from __future__ import annotations

from vendorscope.evidence.record import Evidence, clean_text

PORTS = frozenset({22, 2222, 830})  # 830: NETCONF over SSH
MAX_LINE = 255  # RFC 4253: the identification string is at most 255 characters


def banner(data: bytes) -> str | None:
    """The SSH identification line (RFC 4253 allows other lines before it), or None."""
    for line in data.split(b"\n", 64)[:64]:
        line = line.rstrip(b"\r")
        if line.startswith(b"SSH-"):
            return clean_text(line, MAX_LINE) or None
    return None


def ssh_evidence(data: bytes) -> list[Evidence]:
    line = banner(data)
    return [Evidence("ssh.banner", line)] if line else []
