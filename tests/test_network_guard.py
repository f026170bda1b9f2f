"""The suite's own network-safety guard (tests/conftest.py) refuses every non-loopback destination."""

from __future__ import annotations

import socket

import pytest
from conftest import NonLoopbackTraffic


@pytest.mark.parametrize("address", ["192.0.2.1", "10.0.0.1", "8.8.8.8", "239.255.255.250"])
def test_udp_to_anything_but_loopback_is_refused(address: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NonLoopbackTraffic):
        sock.sendto(b"x", (address, 9))


def test_tcp_connect_outside_loopback_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NonLoopbackTraffic):
        sock.connect(("198.51.100.7", 80))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(NonLoopbackTraffic):
        sock.connect_ex(("2001:db8::1", 80))


def test_loopback_still_works() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        client.sendto(b"ping", server.getsockname())
        assert server.recv(16) == b"ping"
