"""FTP: the 220 greeting and enough of RFC 959 to refuse a login politely."""

from __future__ import annotations

import asyncio
import socket

from vendorscope.lab.profiles import FtpService
from vendorscope.lab.streams import Handler, StreamService, read_line, send, serve


def reply(service: FtpService, line: bytes, user_given: bool) -> tuple[bytes, bool]:
    """The reply to one command line, and whether the session ends."""
    verb = line.split(b" ", 1)[0].upper().decode("ascii", "replace")
    if verb == "USER":
        return b"331 Password required\r\n", False
    if verb == "PASS":
        if not user_given:
            return b"503 Login with USER first.\r\n", False
        return b"530 Login incorrect.\r\n", False
    if verb == "QUIT":
        return b"221 Goodbye.\r\n", True
    if verb == "SYST":
        return f"215 {service.syst}\r\n".encode(), False
    if verb == "FEAT":
        return b"211-Features:\r\n MDTM\r\n SIZE\r\n UTF8\r\n211 End\r\n", False
    if verb == "NOOP":
        return b"200 NOOP ok.\r\n", False
    if verb in ("AUTH", "PBSZ", "PROT"):
        return b"502 Command not implemented.\r\n", False
    return b"530 Please login with USER and PASS.\r\n", False


def handler(service: FtpService) -> Handler:
    greeting = f"220 {service.banner}\r\n".encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, greeting)
        user_given = False
        while (line := await read_line(reader)) is not None:
            answer, done = reply(service, line, user_given)
            user_given = user_given or line[:4].upper() == b"USER"
            await send(writer, answer)
            if done:
                return

    return handle


async def start(sock: socket.socket, service: FtpService) -> StreamService:
    return await serve(handler(service), sock)
