"""TCP: what a server says first, read with a size cap and a deadline.

The connect itself is :meth:`Gate.open`; this module reads the greeting that
server-speaks-first protocols send (SSH, Telnet, FTP, SMTP). A greeting ends
when the protocol says it is complete, when the peer goes quiet after
speaking, closes, resets, or when the cap or the deadline is reached:
whatever arrived by then is the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from vendorscope.collect.probe.gate import Session, Step
from vendorscope.evidence.greeting import MAX_READ

GREETING_CAP = MAX_READ  # bytes: a banner longer than this is garbage, not a banner
IDLE_AFTER_DATA = 0.25  # seconds of quiet after some data that end a greeting


@dataclass(frozen=True, slots=True)
class Greeting:
    data: bytes
    # complete | idle | eof | reset | cap | silent (nothing before the deadline)
    end: str
    step: Step


async def read_greeting(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter | None,
    wait: float,
    *,
    cap: int = GREETING_CAP,
    idle: float = IDLE_AFTER_DATA,
    complete: Callable[[bytes], bool] = lambda data: False,
    reply: Callable[[bytes], bytes] = lambda chunk: b"",
) -> tuple[bytes, str]:
    """Read what the peer sends within ``wait`` seconds; returns (data, how it ended).

    ``reply`` may answer each chunk (telnet option refusals, so the server goes on
    to its banner); ``complete`` says when the greeting is whole."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    data = bytearray()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return bytes(data), "idle" if data else "silent"
        try:
            chunk = await asyncio.wait_for(
                reader.read(cap - len(data)), min(remaining, idle) if data else remaining
            )
        except TimeoutError:
            return bytes(data), "idle" if data else "silent"
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            return bytes(data), "reset"
        if not chunk:
            return bytes(data), "eof"
        data += chunk
        if len(data) >= cap:
            return bytes(data[:cap]), "cap"
        if complete(bytes(data)):
            return bytes(data), "complete"
        answer = reply(chunk)
        if answer and writer is not None and not writer.is_closing():
            writer.write(answer)


async def read_greeting_step(
    session: Session,
    wait: float,
    *,
    complete: Callable[[bytes], bool] = lambda data: False,
    reply: Callable[[bytes], bytes] = lambda chunk: b"",
) -> Greeting:
    """The audited greeting read on an open session (outcome: the way it ended)."""
    # The exchange's own timeout is a backstop: read_greeting returns by its deadline.
    async with session.exchange("tcp.greeting", timeout=wait + 1.0) as step:
        data, end = await read_greeting(session.reader, session.writer, wait, complete=complete, reply=reply)
        step.outcome = "answered" if data else end
        if data and end != "complete":
            step.detail = f"ended: {end}"
    return Greeting(data, end, step)
