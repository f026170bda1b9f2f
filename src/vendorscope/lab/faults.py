"""Misbehaving devices: what probes must survive without hanging or crashing.

- blackhole: accepts the connection (or datagram) and never says a word
- reset: sends the start of a banner, then resets the connection (RST)
- garbage: sends megabytes of random bytes without a single newline
- malformed: answers in the right protocol, wrongly (broken SSH, HTTP,
  RTSP and SNMP: bad lengths, control bytes, headers that never end)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from functools import lru_cache

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from vendorscope.lab.streams import Handler, StreamService, read_line, send, serve

GARBAGE_BYTES = 4 * 1024 * 1024
GARBAGE_CHUNK = 64 * 1024
GARBAGE_DATAGRAM = 60000
BLACKHOLE_HOLD = 600.0  # seconds a blackhole keeps a silent connection open
OVERLONG = 100_000  # bytes in a header line that never ends

# What each service starts to say before a reset cuts it off.
PARTIAL_BANNERS: dict[str, bytes] = {
    "ssh": b"SSH-2.0-Open",
    "ftp": b"220 ProFT",
    "telnet": b"\xff\xfb\x01Log",
    "smtp": b"220 mail.",
    "http": b"HTTP/1.1 200 O",
    "https": b"HTTP/1.1 200 O",
    "rtsp": b"RTSP/1.0 20",
}
# Services whose client speaks first: the fault waits for the request line.
CLIENT_FIRST = frozenset({"http", "https", "rtsp"})


@lru_cache(maxsize=1)
def garbage() -> bytes:
    """Random bytes with no line feed, so line-reading probes must enforce their own limits."""
    return os.urandom(GARBAGE_BYTES).replace(b"\n", b"\x0b")


def malformed_response(service: str) -> bytes:
    """A reply that looks like the protocol and breaks its rules."""
    if service == "ssh":
        # An identification line far over RFC 4253's 255 bytes, full of control bytes,
        # then a binary packet that claims to be 4 GB long.
        return (
            b"SSH-2.0-OpenSSH_\x00\x1b[31m\xff\xfe<script>"
            + b"A" * 1000
            + b"\r\n"
            + struct.pack(">IB", 0xFFFFFFFF, 0xFF)
            + b"\x00" * 64
        )
    if service in ("http", "https"):
        return (
            b"HTTP/1.1 2OO OK\r\n"
            b"Server: Apache\x00\xff\xfe<script>alert(1)</script>\r\n"
            b"Content-Length: -1\r\n"
            b"X-Header-Without-Colon\r\n"
            b'WWW-Authenticate: Digest realm="' + b"A" * OVERLONG + b"\r\n"
            b"\r\n<html><head><title>" + b"\xff\xfe" * 64
        )
    if service == "rtsp":
        return b"RTSP/1.0 2OO OK\r\nCSeq: \xff\xfe\r\nServer: " + b"B" * OVERLONG
    return b"\xff\xfe\xfd" + b"C" * 1000


def tcp_handler(kind: str, service: str) -> Handler:
    async def blackhole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(BLACKHOLE_HOLD):
            while await reader.read(65536):
                pass

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if service in CLIENT_FIRST:
            await read_line(reader, timeout=10)
        await send(writer, PARTIAL_BANNERS.get(service, b"\x00"))
        sock = writer.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def spew(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = memoryview(garbage())
        for start in range(0, len(data), GARBAGE_CHUNK):
            writer.write(data[start : start + GARBAGE_CHUNK])
            await writer.drain()

    async def malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if service in CLIENT_FIRST:
            await read_line(reader, timeout=10)
        await send(writer, malformed_response(service))

    return {"blackhole": blackhole, "reset": reset, "garbage": spew, "malformed": malformed}[kind]


async def start_tcp(sock: socket.socket, kind: str, service: str) -> StreamService:
    return await serve(tcp_handler(kind, service), sock)


# ------------------------------------------------------------------ UDP (SNMP)


def malformed_snmp(datagram: bytes, turn: int) -> bytes:
    """A reply to an SNMP request that a careful decoder must reject.

    Turns cycle through: a real response cut in half, a SEQUENCE claiming
    2 GB, and a response whose outer tag is wrong.
    """
    response = _echo_response(datagram)
    if response is None or turn % 3 == 1:
        return b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01\x04\x06public\xa2\x84\x7f\xff\xff\xff" + b"\x00" * 32
    if turn % 3 == 0:
        return response[: len(response) // 2]
    return b"\x31" + response[1:]


def _echo_response(datagram: bytes) -> bytes | None:
    """A well-formed v1/v2c response to `datagram` with a long sysDescr-like value, or None."""
    try:
        version = int(api.decodeMessageVersion(datagram))
        module = api.PROTOCOL_MODULES[version]
        request, _ = decoder.decode(datagram, asn1Spec=module.Message())
        response = module.apiMessage.get_response(request)
        pdu = module.apiMessage.get_pdu(response)
        names = [name for name, _ in module.apiPDU.get_varbinds(module.apiMessage.get_pdu(request))]
        module.apiPDU.set_varbinds(pdu, [(name, module.OctetString(b"\xff" * 200)) for name in names])
        return bytes(encoder.encode(response))
    except Exception:  # anything undecodable (SNMPv3, junk) gets the length bomb instead
        return None


class _DatagramFault(asyncio.DatagramProtocol):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.transport: asyncio.DatagramTransport | None = None
        self.turn = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        if self.transport is None or self.kind in ("blackhole", "reset"):
            return  # silence: a UDP service cannot reset, and a blackhole never answers
        if self.kind == "garbage":
            reply = garbage()[:GARBAGE_DATAGRAM]
        else:
            reply = malformed_snmp(data, self.turn)
            self.turn += 1
        with contextlib.suppress(OSError):
            self.transport.sendto(reply, addr)


class DatagramService:
    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    async def close(self) -> None:
        self._transport.close()


async def start_udp(sock: socket.socket, kind: str) -> DatagramService:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _DatagramFault(kind), sock=sock)
    return DatagramService(transport)
