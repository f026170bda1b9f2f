"""Telnet: option negotiation, the device's banner and login prompt, failed logins.

Enough of RFC 854 for a probe to see what a person at a terminal would see:
the server offers ECHO and SUPPRESS-GO-AHEAD like most device telnetds, strips
the client's option negotiation from its input, and refuses every login.
"""

from __future__ import annotations

import asyncio
import socket

from vendorscope.evidence.greeting import IAC, WILL, strip_telnet
from vendorscope.lab.profiles import TelnetService
from vendorscope.lab.streams import Handler, StreamService, read_line, send, serve

ECHO, SUPPRESS_GO_AHEAD = 1, 3
NEGOTIATION = bytes([IAC, WILL, ECHO, IAC, WILL, SUPPRESS_GO_AHEAD])
MAX_ATTEMPTS = 3


def strip_telnet_commands(data: bytes) -> bytes:
    """Input without IAC sequences (option negotiation, subnegotiation, commands)."""
    return strip_telnet(data)[0]


def handler(service: TelnetService) -> Handler:
    banner = service.banner.encode("utf-8")
    login = service.login_prompt.encode("utf-8")
    password = service.password_prompt.encode("utf-8")
    failure = service.failure.encode("utf-8")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, NEGOTIATION + banner + login)
        for _ in range(MAX_ATTEMPTS):
            if await read_line(reader) is None:
                return
            await send(writer, password)
            if await read_line(reader) is None:
                return
            await asyncio.sleep(0.05)  # devices pause before refusing; keeps brute force honest
            await send(writer, failure + login)
        writer.close()

    return handle


async def start(sock: socket.socket, service: TelnetService) -> StreamService:
    return await serve(handler(service), sock)
