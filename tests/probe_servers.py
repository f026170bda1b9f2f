"""Small real servers on loopback for the probe tests: well-behaved and hostile.

Everything binds to 127.0.0.0/8 only. Each pytest-xdist worker gets its own
second octet so workers never collide on an address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def worker_octet(base: int) -> int:
    """A second octet unique to this xdist worker (gw0 → base, gw1 → base+1, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = "".join(ch for ch in worker if ch.isdigit()) or "0"
    return base + int(digits) % 10


def loopback(base: int, third: int, fourth: int) -> str:
    address = f"127.{worker_octet(base)}.{third}.{fourth}"
    assert ipaddress.ip_address(address).is_loopback
    return address


class ServerThread:
    """An asyncio loop in a thread, running the servers of one test module."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[Any] = []

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def close_all() -> None:
            for server in self.servers:
                server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        try:
            self.run(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def tcp(
        self,
        host: str,
        port: int,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        async def start() -> asyncio.Server:
            async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                try:
                    await handler(reader, writer)
                except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError, TimeoutError):
                    pass
                except asyncio.CancelledError:
                    pass  # the test module is done
                finally:
                    writer.close()

            return await asyncio.start_server(guarded, host, port, ssl=tls, reuse_address=True)

        self.servers.append(self.run(start()))

    def udp(self, host: str, port: int, protocol_factory: Callable[[], asyncio.DatagramProtocol]) -> None:
        async def start() -> asyncio.DatagramTransport:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                protocol_factory, local_addr=(host, port)
            )
            return transport

        self.servers.append(self.run(start()))


@contextmanager
def huawei_ssh(host: str, port: int = 2222) -> Iterator[ServerThread]:
    """A Huawei SSH greeting on one loopback address: what the watch tests probe."""
    t = ServerThread()
    try:
        t.tcp(host, port, greeting(b"SSH-2.0-HUAWEI-1.5\r\n", hold=1))
        yield t
    finally:
        t.stop()


# -- behaviours ----------------------------------------------------------------


def greeting(text: bytes, hold: float = 0.0) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text)
        await writer.drain()
        if hold:
            await asyncio.sleep(hold)

    return handler


def telnet(text: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """Negotiates (IAC DO/WILL), waits for the client's answers, then sends the banner."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01\xff\xfb\x03")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(64), 2.0)
        if not answer.startswith(b"\xff"):
            return  # a client that does not negotiate gets no banner
        writer.write(text)
        await writer.drain()
        await asyncio.sleep(1.0)

    return handler


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and never answers."""
    await asyncio.sleep(60)


async def reset_mid_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-HUAWEI-1")
    await writer.drain()
    await asyncio.sleep(0.3)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Megabytes of junk as fast as the client takes them."""
    junk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(64):  # 4 MiB
        writer.write(junk)
        await writer.drain()


@dataclass
class Page:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def http(
    pages: dict[str, Page], default: Page | None = None, server: str | None = None
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A keep-alive HTTP/1.1 server with fixed pages; records requests on the handler."""
    requests: list[tuple[str, str]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            requests.append((method, path))
            length = 0
            for line in header_lines:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            page = pages.get(path) or default or Page(404, body=b"not found")
            headers = list(page.headers)
            if server and not any(k.lower() == "server" for k, _ in headers):
                headers.append(("Server", server))
            reasons = {200: "OK", 301: "Moved", 302: "Found", 401: "Unauthorized", 404: "Not Found"}
            reason = reasons.get(page.status, "X")
            out = [f"HTTP/1.1 {page.status} {reason}", *(f"{k}: {v}" for k, v in headers),
                   f"Content-Length: {len(page.body)}"]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + page.body)
            await writer.drain()

    handler.requests = requests  # type: ignore[attr-defined]
    return handler


def rtsp(server: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            cseq = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("cseq:")), "0")
            if lines[0].startswith("OPTIONS"):
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nServer: {server}\r\n"
                             "Public: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n".encode())
            else:
                writer.write(f'RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nServer: {server}\r\n'
                             'WWW-Authenticate: Digest realm="IP Camera(C6423)", nonce="abc"\r\n\r\n'.encode())
            await writer.drain()

    return handler


async def malformed_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 2OO OK\r\nServer: App-webs/\r\n" + b"X" * 200_000)
    await writer.drain()
    await asyncio.sleep(5)


async def endless_http_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A valid status line, then headers forever."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\n")
    for i in range(100_000):
        writer.write(f"X-Junk-{i}: {'y' * 50}\r\n".encode())
        await writer.drain()


# -- TLS ---------------------------------------------------------------------------


def self_signed_context(common_name: str, organisation: str) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234ABCD)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("camera.local")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


# -- UDP ---------------------------------------------------------------------------


class GarbageUdp(asyncio.DatagramProtocol):
    """Answers every datagram with bytes that are not SNMP."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(b"\x30\x82\xff\xff" + b"\x00" * 60, addr)  # type: ignore[attr-defined]


class CountingListener:
    """A TCP and UDP listener that counts every connection and datagram it gets."""

    def __init__(self, host: str, ports: list[int]) -> None:
        self.host = host
        self.events: list[tuple[str, int]] = []
        self.sockets: list[socket.socket] = []
        for port in ports:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, port))
            tcp.listen(16)
            tcp.setblocking(False)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((host, port))
            udp.setblocking(False)
            self.sockets += [tcp, udp]

    def poll(self) -> list[tuple[str, int]]:
        for sock in self.sockets:
            port = sock.getsockname()[1]
            while True:
                try:
                    if sock.type == socket.SOCK_STREAM:
                        conn, _ = sock.accept()
                        conn.close()
                        self.events.append(("tcp", port))
                    else:
                        sock.recvfrom(65536)
                        self.events.append(("udp", port))
                except (BlockingIOError, InterruptedError):
                    break
        return self.events

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


# -- SNMP agent ----------------------------------------------------------------------


def snmp_agent(
    thread: ServerThread,
    host: str,
    port: int,
    values: dict[str, Any],
    community: str = "public",
    v3_user: tuple[str, str, str] | None = None,
) -> Any:
    """A pysnmp command responder serving ``values`` (dotted OID → pysnmp value)."""
    from pysnmp.carrier.asyncio.dgram import udp
    from pysnmp.entity import config, engine
    from pysnmp.entity.rfc3413 import cmdrsp, context
    from pysnmp.proto.api import v2c
    from pysnmp.smi import error as smi_error
    from pysnmp.smi.instrum import AbstractMibInstrumController

    table = sorted(((tuple(int(x) for x in oid.split(".")), value) for oid, value in values.items()))

    class Instrum(AbstractMibInstrumController):
        def read_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
            out = []
            for oid, _ in var_binds:
                key = tuple(oid)
                value = next((v for k, v in table if k == key), None)
                out.append((oid, value if value is not None else v2c.NoSuchInstance()))
            return out

        def read_next_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
            out = []
            for oid, _ in var_binds:
                key = tuple(oid)
                nxt = next(((k, v) for k, v in table if k > key), None)
                if nxt is None:
                    out.append((oid, v2c.EndOfMibView()))
                else:
                    out.append((v2c.ObjectIdentifier(nxt[0]), nxt[1]))
            return out

    del smi_error

    async def start() -> Any:
        snmp_engine = engine.SnmpEngine()
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, udp.UdpTransport().open_server_mode((host, port)))
        config.add_v1_system(snmp_engine, "area", community)
        config.add_vacm_user(snmp_engine, 2, "area", "noAuthNoPriv", (1,), (1,))
        config.add_vacm_user(snmp_engine, 2, "area", "noAuthNoPriv", (1, 0), (1, 0))
        if v3_user:
            user, auth_key, priv_key = v3_user
            config.add_v3_user(snmp_engine, user, config.USM_AUTH_HMAC96_SHA, auth_key,
                               config.USM_PRIV_CFB128_AES, priv_key)
            config.add_vacm_user(snmp_engine, 3, user, "authPriv", (1,), (1,))
            config.add_vacm_user(snmp_engine, 3, user, "authPriv", (1, 0), (1, 0))
        snmp_context = context.SnmpContext(snmp_engine)
        snmp_context.unregister_context_name(b"")
        snmp_context.register_context_name(b"", Instrum())
        cmdrsp.GetCommandResponder(snmp_engine, snmp_context)
        cmdrsp.NextCommandResponder(snmp_engine, snmp_context)
        cmdrsp.BulkCommandResponder(snmp_engine, snmp_context)
        snmp_engine.open_dispatcher()
        return snmp_engine

    snmp_engine = thread.run(start())

    class Closer:
        def close(self) -> None:
            snmp_engine.close_dispatcher()

    thread.servers.append(Closer())
    return snmp_engine


def ssh_kexinit_packet(lists: list[str], msg: int = 20) -> bytes:
    """An SSH binary packet holding a KEXINIT (RFC 4253 7.1) with these ten name-lists; ``msg``
    other than 20 makes it another message."""
    names = b"".join(struct.pack(">I", len(x)) + x.encode() for x in lists)
    payload = bytes([msg]) + b"\x01" * 16 + names + b"\x00" * 5  # cookie, lists, first_kex_follows, reserved
    pad = 8 - (len(payload) + 5) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad
