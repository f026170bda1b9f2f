"""SSH: after the server's identification line, its KEXINIT (RFC 4253 sections 4.2 and 7.1).

The probe sends its own identification line, reads the server's first binary
packet (the KEXINIT, which a server sends unprompted), and closes: no key
exchange is completed, no authentication is attempted. Parsing is
:mod:`vendorscope.evidence.ssh`'s, the same for captures.
"""

from __future__ import annotations

from vendorscope.collect.probe import tcp
from vendorscope.collect.probe.gate import Gate, Session
from vendorscope.evidence import ssh
from vendorscope.model import Observation

CLIENT_VERSION = b"SSH-2.0-vendorscope_probe\r\n"


async def read_kexinit(gate: Gate, session: Session, greeting: bytes) -> list[Observation]:
    """ssh.kex and ssh.hassh of the server that sent ``greeting`` (its line, maybe more)."""
    rest = ssh.after_line(greeting)
    if rest is None or not ssh.banner(greeting):
        return []
    data = greeting
    timeout = gate.scope.timeout
    async with session.exchange("ssh.kexinit", timeout=timeout + 1.0) as step:
        if not ssh.kexinit_complete(rest):
            session.writer.write(CLIENT_VERSION)
            more, end = await tcp.read_greeting(
                session.reader, None, timeout, cap=ssh.MAX_KEXINIT + 8, idle=timeout,
                complete=lambda got: ssh.kexinit_complete(rest + got),
            )
            data = greeting + more
            if end != "complete":
                step.detail = f"ended: {end}"
        found = [ev for ev in ssh.ssh_evidence(data) if ev.kind != "ssh.banner"]
        step.outcome = "answered" if found else "no kexinit"
    return [gate.record(step, ev) for ev in found]
