from __future__ import annotations

import os

# Tables are checked by their text: give Rich a wide terminal before any console exists,
# so that no cell is folded across lines whatever the machine's terminal is.
os.environ["COLUMNS"] = "200"

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests are deterministic (the same examples on every run, in CI too) and not timed:
# the machines are shared and noisy. HYPOTHESIS_PROFILE=explore searches anew each run.
settings.register_profile("vendorscope", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vendorscope"))

import ipaddress  # noqa: E402
import socket  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from pg import PostgresServer, postgres_server  # noqa: E402

from vendorscope.identify.engine import Engine, default_engine  # noqa: E402

# Network safety: in the test processes every socket may talk to loopback only (127.0.0.0/8, ::1,
# a Unix socket). Anything else fails the test that tried, before a packet leaves.


class NonLoopbackTraffic(AssertionError):
    """A test tried to send to an address outside loopback."""


def _require_loopback(address: Any) -> None:
    if not isinstance(address, tuple):  # a Unix socket path
        return
    host = str(address[0]).split("%")[0]
    if host in ("localhost", ""):
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise NonLoopbackTraffic(f"tests may not resolve and reach the host {host!r}") from None
    mapped = getattr(ip, "ipv4_mapped", None)
    if not (ip.is_loopback or ip.is_unspecified or (mapped is not None and mapped.is_loopback)):
        raise NonLoopbackTraffic(f"tests may only reach loopback, not {ip}")


def _guard(name: str) -> None:
    real = getattr(socket.socket, name)

    def guarded(self: socket.socket, *args: Any) -> Any:
        _require_loopback(args[-1])
        return real(self, *args)

    guarded.__name__ = name
    setattr(socket.socket, name, guarded)


for _method in ("connect", "connect_ex", "sendto"):
    _guard(_method)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()


# -- the databases a store test runs on ------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's binaries) for this worker; each test creates its own database."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh inventory URL: a SQLite file, then a database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "inventory.db")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database()
