"""SSH with asyncssh: the vendor's version string, a real key exchange, every login refused.

asyncssh sends "SSH-2.0-" + server_version. Devices that still offer SSHv1
compatibility announce "SSH-1.99-"; for those a connection subclass changes
the protocol part of the identification line and asyncssh does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import asyncssh
from asyncssh.connection import SSHServerConnection, SSHServerConnectionOptions

from vendorscope.lab.profiles import SshService

# asyncssh logs every refused login at INFO; a lab under a scan would drown its log.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

HOST_KEY_ALGORITHMS = ("ssh-ed25519", "ecdsa-sha2-nistp256")
LOGIN_TIMEOUT = 30


def host_keys() -> list[asyncssh.SSHKey]:
    """Fresh host keys for one profile (fast algorithms: a lab may start hundreds of devices)."""
    return [asyncssh.generate_private_key(alg) for alg in HOST_KEY_ALGORITHMS]


class _Connections:
    """Open connections of one listener, so that closing it closes them too."""

    def __init__(self) -> None:
        self.open: set[asyncssh.SSHServerConnection] = set()

    def abort_all(self) -> None:
        for conn in list(self.open):
            conn.abort()
        self.open.clear()


class _RefuseLogins(asyncssh.SSHServer):
    """Offers password authentication and refuses every password, as a device would a stranger."""

    def __init__(self, connections: _Connections) -> None:
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.open.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return False


class _Ssh199Connection(SSHServerConnection):
    """An asyncssh server connection that announces protocol 1.99 (SSHv2 with v1 compatibility)."""

    def _send_version(self) -> None:
        version = b"SSH-1.99-" + self._version
        self._server_version = version
        self.set_extra_info(server_version=version.decode("ascii"))
        self._send(version + b"\r\n")


class SshServer:
    def __init__(self, closer: Any, connections: _Connections) -> None:
        self._closer = closer
        self._connections = connections

    async def close(self) -> None:
        self._closer.close()
        self._connections.abort_all()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._closer.wait_closed(), 5)


async def start(sock: socket.socket, service: SshService, keys: list[asyncssh.SSHKey]) -> SshServer:
    connections = _Connections()
    options: dict[str, Any] = {
        "server_host_keys": keys,
        "server_version": service.version,
        "server_factory": lambda: _RefuseLogins(connections),
        "login_timeout": LOGIN_TIMEOUT,
        "keepalive_interval": 0,
    }
    if service.protocol == "2.0":
        acceptor = await asyncssh.listen(sock=sock, **options)
        return SshServer(acceptor, connections)
    loop = asyncio.get_running_loop()
    conn_options = await SSHServerConnectionOptions.construct(None, **options)
    server = await loop.create_server(lambda: _Ssh199Connection(loop, conn_options), sock=sock)
    return SshServer(server, connections)
