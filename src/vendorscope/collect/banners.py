"""Greetings of server-speaks-first protocols: SSH, Telnet, FTP, SMTP (probes, imports, captures).

Pure functions over the bytes :mod:`tcp` read. Banners are hostile input:
they are cut to a bounded length, control characters are dropped, and Telnet
option negotiation (IAC sequences) is stripped from the text and refused.
"""

from __future__ import annotations

import re

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
MAX_BANNER = 1024  # characters kept of a banner
_REPLY_LINE = re.compile(rb"^(\d{3})([ -])(.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SMTP_PORTS = {25, 465, 587, 2525}
FTP_PORTS = {21, 990, 2121}
TELNET_PORTS = {23, 992, 2323}


def strip_telnet(data: bytes) -> tuple[bytes, bool]:
    """The text of a Telnet stream without IAC sequences; and whether there were any."""
    out = bytearray()
    seen = False
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte != IAC:
            out.append(byte)
            i += 1
            continue
        seen = True
        if i + 1 >= n:
            break
        command = data[i + 1]
        if command == IAC:  # an escaped 0xff data byte
            out.append(IAC)
            i += 2
        elif command in (DO, DONT, WILL, WONT):
            i += 3
        elif command == SB:  # subnegotiation runs to IAC SE
            end = data.find(bytes((IAC, SE)), i + 2)
            i = n if end < 0 else end + 2
        else:
            i += 2
    return bytes(out), seen


def telnet_reply(chunk: bytes) -> bytes:
    """Refuse every option the server offers or asks for, so it goes on to the banner."""
    out = bytearray()
    for m in re.finditer(rb"\xff([\xfb-\xfe])(.)", chunk, re.S):
        command, option = m.group(1)[0], m.group(2)
        if command == DO:
            out += bytes((IAC, WONT)) + option
        elif command == WILL:
            out += bytes((IAC, DONT)) + option
    return bytes(out)


def greeting_complete(data: bytes) -> bool:
    """Whether a greeting is whole: an SSH identification line, or a final FTP/SMTP reply."""
    if data.startswith(b"SSH-"):
        return b"\n" in data
    if data[:3].isdigit():
        for line in data.split(b"\n")[:-1]:
            m = _REPLY_LINE.match(line.rstrip(b"\r"))
            if m and m.group(2) == b" ":
                return True
    return False


def clean_text(data: bytes, limit: int = MAX_BANNER) -> str:
    """Printable text: UTF-8 (Latin-1 when not), newlines kept, controls dropped, capped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)[:limit]


def ssh_banner(data: bytes) -> str | None:
    """The SSH identification line (RFC 4253 allows other lines before it)."""
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"SSH-"):
            return clean_text(line, 255)
    return None


def reply_text(data: bytes) -> str | None:
    """An FTP/SMTP greeting (``220 ...``, possibly multi-line), or None if it is not one."""
    lines: list[bytes] = []
    for raw in data.split(b"\n"):
        raw = raw.rstrip(b"\r")
        if not raw:
            continue
        m = _REPLY_LINE.match(raw)
        if m is None:
            if not lines:
                return None
            lines.append(raw)  # continuation text of a multi-line reply
            continue
        lines.append(raw)
        if m.group(2) == b" ":
            break
    return clean_text(b"\n".join(lines)) if lines else None


def mostly_text(data: bytes, share: float = 0.8) -> bool:
    """Whether most bytes are printable ASCII, whitespace or UTF-8 (a banner, not noise)."""
    if not data:
        return False
    try:
        data.decode("utf-8")
        return sum(1 for b in data if b < 0x20 and b not in (9, 10, 13)) <= len(data) * (1 - share)
    except UnicodeDecodeError:
        printable = sum(1 for b in data if 0x20 <= b < 0x7F or b in (9, 10, 13))
        return printable >= len(data) * share


def classify(port: int, data: bytes) -> tuple[str, str] | None:
    """The evidence kind and value a greeting is, judged by its content first, its port second."""
    text_bytes, had_iac = strip_telnet(data)
    if not had_iac:
        banner = ssh_banner(data)
        if banner:
            return "ssh.banner", banner
        reply = reply_text(data)
        if reply is not None:
            lower = reply.lower()
            if "ftp" in lower or port in FTP_PORTS:
                return "ftp.banner", reply
            if "smtp" in lower or "mail" in lower or port in SMTP_PORTS:
                return "smtp.banner", reply
            return "tcp.banner", reply
    if not mostly_text(text_bytes):
        return None  # binary noise is not a banner
    text = clean_text(text_bytes)
    if not text:
        return None
    if had_iac or port in TELNET_PORTS:
        return "telnet.banner", text
    return "tcp.banner", text
