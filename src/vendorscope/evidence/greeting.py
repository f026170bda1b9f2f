"""Greetings of server-speaks-first protocols: FTP, SMTP, POP3, IMAP, Telnet, SSH and other TCP
services. The one classifier for probes, imports and captures.

Which kind a greeting is
------------------------
1. Content that only one protocol sends: an SSH identification line, Telnet
   option negotiation (IAC), a POP3 ``+OK`` or an IMAP ``* OK``.
2. A numeric reply (``220 …``) is FTP or SMTP; both start that way. The
   *port* decides first, because it is the service the client asked for: on
   25 a ``220 mail.example.com FTP-to-mail gateway ready`` is an SMTP server
   whose product name mentions FTP, and on 990 (FTPS) a bare ``220 Welcome``
   is an FTP server. Then the protocol a scanner named (``service``), then the
   words SMTP/ESMTP, FTP and mail, in that order. Otherwise it is a
   ``tcp.banner``.
3. Other mostly-printable text is ``telnet.banner`` on a Telnet port (or with
   IAC sequences), else ``tcp.banner``. Binary noise is no banner.

Banners are hostile: they are cut to :data:`MAX_BANNER` characters, control
characters are dropped, and Telnet negotiation is stripped (and refused by
probes with :func:`telnet_reply`).
"""

from __future__ import annotations

import re

from vendorscope.evidence import ssh
from vendorscope.evidence.record import Evidence, clean_text

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
MAX_BANNER = 1024  # characters kept of a banner
MAX_READ = 4096  # bytes of a greeting worth reading: more is garbage, not a banner
FTP_PORTS = frozenset({21, 990, 2121})
SMTP_PORTS = frozenset({25, 465, 587, 2525})
POP_PORTS = frozenset({110, 995})
IMAP_PORTS = frozenset({143, 993})
TELNET_PORTS = frozenset({23, 992, 2323})
PORTS = FTP_PORTS | SMTP_PORTS | POP_PORTS | IMAP_PORTS | TELNET_PORTS | ssh.PORTS
# The ports above where the protocol normally runs inside TLS (FTPS, SMTPS, POP3S, IMAPS, Telnets): a probe
# does not wait there for a plaintext greeting first.
IMPLICIT_TLS_PORTS = frozenset({465, 990, 992, 993, 995})
# Protocol name of each greeting port a probe waits at for the server to speak first.
SERVER_FIRST: dict[int, str] = {
    port: name
    for name, ports in (("ftp", FTP_PORTS), ("ssh", ssh.PORTS), ("telnet", TELNET_PORTS), ("smtp", SMTP_PORTS),
                        ("pop3", POP_PORTS), ("imap", IMAP_PORTS))
    for port in sorted(ports - IMPLICIT_TLS_PORTS)
}
# The protocol a scanner named for a port → the kind of its greeting.
SERVICE_KINDS = {"ftp": "ftp.banner", "smtp": "smtp.banner", "pop3": "pop.banner", "imap": "imap.banner",
                 "telnet": "telnet.banner"}
_REPLY_LINE = re.compile(rb"^(\d{3})([ -])(.*)$")
_PROMPT_ENDS = (":", ">", "#", "$", "]")


def strip_telnet(data: bytes) -> tuple[bytes, bool]:
    """The text of a Telnet stream without IAC sequences; and whether there were any."""
    if IAC not in data:
        return data, False
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte != IAC:
            out.append(byte)
            i += 1
            continue
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
    return bytes(out), True


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
    """Whether a greeting is whole: an SSH line, a final FTP/SMTP reply, a POP3/IMAP greeting line."""
    if len(data) >= MAX_READ:
        return True
    if data.startswith(b"SSH-") or data.startswith((b"+OK", b"* OK", b"* PREAUTH")):
        return b"\n" in data
    if data[:3].isdigit():
        for line in data.split(b"\n")[:-1]:
            m = _REPLY_LINE.match(line.rstrip(b"\r"))
            if m and m.group(2) == b" ":
                return True
    return False


def telnet_complete(data: bytes) -> bool:
    """Whether a Telnet banner has reached its login prompt (or the read cap)."""
    if len(data) >= MAX_READ:
        return True
    banner = clean_text(strip_telnet(data)[0], MAX_READ)
    return banner.endswith(_PROMPT_ENDS) or "login" in banner[-40:].lower()


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
    return clean_text(b"\n".join(lines), MAX_BANNER) if lines else None


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


def reply_kind(port: int, text: str, service: str | None = None) -> str:
    """The kind of a numeric-reply greeting: port first, then the named service, then its words."""
    if port in SMTP_PORTS:
        return "smtp.banner"
    if port in FTP_PORTS:
        return "ftp.banner"
    if service in ("ftp", "smtp"):
        return SERVICE_KINDS[service]
    upper = text.upper()
    if "SMTP" in upper:  # ESMTP too
        return "smtp.banner"
    if "FTP" in upper:
        return "ftp.banner"
    if "MAIL" in upper:
        return "smtp.banner"
    return "tcp.banner"


def classify(port: int, data: bytes, service: str | None = None) -> Evidence | None:
    """The banner evidence a greeting is (see the module docstring), or None for noise.

    ``service`` is the protocol a scanner named for the port (nmap's service
    name), used when the port and the content leave the kind open.
    """
    data = data[:MAX_READ]
    text_bytes, had_iac = strip_telnet(data)
    if not had_iac:
        line = ssh.banner(data)
        if line:
            return Evidence("ssh.banner", line)
        if data.startswith(b"+OK"):
            return _text_evidence("pop.banner", data)
        if data.startswith((b"* OK", b"* PREAUTH")):
            return _text_evidence("imap.banner", data)
        reply = reply_text(data)
        if reply is not None:
            return Evidence(reply_kind(port, reply, service), reply)
    if not mostly_text(text_bytes):
        return None
    if had_iac or port in TELNET_PORTS:
        return _text_evidence("telnet.banner", text_bytes)
    return _text_evidence(SERVICE_KINDS.get(service or "", "tcp.banner"), text_bytes)


def _text_evidence(kind: str, data: bytes) -> Evidence | None:
    text = clean_text(data, MAX_BANNER)
    return Evidence(kind, text) if text else None
