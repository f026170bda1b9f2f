"""SMTP: the 220 greeting, EHLO/HELO with the server's extensions, QUIT (RFC 5321)."""

from __future__ import annotations

import asyncio
import socket

from vendorscope.lab.profiles import SmtpService
from vendorscope.lab.streams import Handler, StreamService, read_line, send, serve


def host_of(service: SmtpService) -> str:
    """The host name the server greets with: the first word of its banner."""
    return service.banner.split(" ", 1)[0] or "localhost"


def reply(service: SmtpService, line: bytes) -> tuple[bytes, bool]:
    """The reply to one command line, and whether the session ends."""
    verb = line.split(b" ", 1)[0].upper().decode("ascii", "replace")
    host = host_of(service)
    if verb == "EHLO":
        lines = [host, *service.ehlo]
        text = "".join(f"250-{item}\r\n" for item in lines[:-1]) + f"250 {lines[-1]}\r\n"
        return text.encode(), False
    if verb == "HELO":
        return f"250 {host}\r\n".encode(), False
    if verb == "QUIT":
        return b"221 2.0.0 Bye\r\n", True
    if verb in ("NOOP", "RSET"):
        return b"250 2.0.0 Ok\r\n", False
    if verb in ("MAIL", "RCPT", "DATA", "VRFY", "STARTTLS"):
        return b"554 5.7.1 Lab relay: not accepting mail\r\n", False
    return b"502 5.5.2 Error: command not recognized\r\n", False


def handler(service: SmtpService) -> Handler:
    greeting = f"220 {service.banner}\r\n".encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, greeting)
        while (line := await read_line(reader)) is not None:
            answer, done = reply(service, line)
            await send(writer, answer)
            if done:
                return

    return handle


async def start(sock: socket.socket, service: SmtpService) -> StreamService:
    return await serve(handler(service), sock)
