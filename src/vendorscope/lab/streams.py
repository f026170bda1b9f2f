"""Plumbing shared by the lab's small TCP servers (telnet, FTP, SMTP, RTSP, faults).

Each server listens on a socket the runner has already bound (so a taken
address fails early with a clear message) and can be shut down together with
its open connections, which `asyncio.Server.close` alone does not do on 3.11.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

# A client that sends nothing for this long is dropped, as real devices do.
IDLE_TIMEOUT = 60.0
# Longest request line a server reads; longer lines end the connection.
LINE_LIMIT = 8192

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Service(Protocol):
    """Anything the runner can shut down."""

    async def close(self) -> None: ...


class StreamService:
    """A TCP server on a pre-bound listening socket, one handler task per connection."""

    def __init__(self, handler: Handler, sock: socket.socket) -> None:
        self._handler = handler
        self._sock = sock
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> StreamService:
        self._server = await asyncio.start_server(self._serve, sock=self._sock, limit=LINE_LIMIT)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (
            ConnectionError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass  # clients hang up, time out and send nonsense; none of it is the lab's problem
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)


async def serve(handler: Handler, sock: socket.socket) -> StreamService:
    return await StreamService(handler, sock).start()


async def read_line(reader: asyncio.StreamReader, timeout: float = IDLE_TIMEOUT) -> bytes | None:
    """One line without its end, or None when the client is gone or silent too long."""
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except asyncio.IncompleteReadError:
        return None
    return line.rstrip(b"\r\n")


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()
