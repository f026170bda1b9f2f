"""The scope file: parsing, errors that name the line, and the checks that refuse targets."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendorscope.collect.probe.scope import (
    ScopeError,
    ScopeViolation,
    load_scope,
    parse_scope,
)

GOOD = """\
[scope]
allow = ["127.77.0.0/16"]
exclude = ["127.77.9.0/24"]
ports = [21, 22, 23, 25, 80, 443, 554, 8080, 8443]   # TCP ports to probe
udp_ports = [161]
rate = 2000          # max new connections per second overall
per_host = 4         # concurrent connections per host
timeout = 2.0        # seconds per probe
retries = 1
[snmp]
communities = ["public", "private"]
[[snmp.v3]]
user = "vsuser"
auth_protocol = "SHA"
auth_key = "authpass123"
priv_protocol = "AES"
priv_key = "privpass123"
"""


def test_parses_the_agreed_format() -> None:
    scope = parse_scope(GOOD, "scope.toml")
    assert scope.allow == (ipaddress.ip_network("127.77.0.0/16"),)
    assert scope.exclude == (ipaddress.ip_network("127.77.9.0/24"),)
    assert scope.ports == (21, 22, 23, 25, 80, 443, 554, 8080, 8443)
    assert scope.udp_ports == (161,)
    assert (scope.rate, scope.per_host, scope.timeout, scope.retries) == (2000, 4, 2.0, 1)
    assert scope.snmp.communities == ("public", "private")
    (user,) = scope.snmp.v3
    assert (user.user, user.auth_protocol, user.priv_protocol, user.level) == ("vsuser", "SHA", "AES", "authPriv")
    assert "authpass123" not in repr(scope)  # secrets stay out of logs and tracebacks


def test_check_allows_inside_and_refuses_outside_and_excluded() -> None:
    scope = parse_scope(GOOD, "scope.toml")
    assert scope.check("127.77.1.2", 22) == "127.77.1.2"
    with pytest.raises(ScopeViolation, match="outside scope scope.toml"):
        scope.check("127.99.0.1")
    with pytest.raises(ScopeViolation, match="excluded"):
        scope.check("127.77.9.5")
    with pytest.raises(ScopeViolation, match="tcp port 3389"):
        scope.check("127.77.1.2", 3389)
    with pytest.raises(ScopeViolation, match="udp port 162"):
        scope.check("127.77.1.2", 162, "udp")
    with pytest.raises(ScopeViolation, match="not an IP address"):
        scope.check("example.org")
    # An IPv4-mapped IPv6 address is the IPv4 address on the wire.
    with pytest.raises(ScopeViolation):
        scope.check("::ffff:127.99.0.1")
    assert scope.check("::ffff:127.77.0.1") == "127.77.0.1"


def test_expand_targets() -> None:
    scope = parse_scope(GOOD.replace('exclude = ["127.77.9.0/24"]', 'exclude = ["127.77.0.4/32"]'), "s.toml")
    assert scope.expand(["127.77.0.0/29"]) == ["127.77.0.1", "127.77.0.2", "127.77.0.3", "127.77.0.5",
                                               "127.77.0.6"]
    assert scope.expand(["127.77.0.10-12", "127.77.0.10"]) == ["127.77.0.10", "127.77.0.11", "127.77.0.12"]
    with pytest.raises(ScopeViolation, match="not entirely inside"):
        scope.expand(["127.76.0.0/15"])
    with pytest.raises(ScopeViolation, match="excluded"):
        scope.expand(["127.77.0.4"])
    with pytest.raises(ScopeViolation, match="outside"):
        scope.expand(["127.77.0.1", "127.99.0.1"])
    with pytest.raises(ScopeViolation, match="not an address"):
        scope.expand(["127.77.0.1; rm -rf /"])
    with pytest.raises(ScopeViolation, match="more than 100 addresses"):
        scope.expand([], limit=100)


def test_default_targets_are_everything_allowed_minus_excluded() -> None:
    scope = parse_scope('[scope]\nallow = ["127.77.0.0/30", "127.78.0.5/32"]\nexclude = ["127.77.0.2/32"]\n')
    assert scope.expand() == ["127.77.0.1", "127.78.0.5"]


def test_host_names_resolve_and_are_checked(tmp_path: Path) -> None:
    scope = parse_scope('[scope]\nallow = ["127.0.0.0/8"]\n')
    assert "127.0.0.1" in scope.expand(["localhost"])
    narrow = parse_scope('[scope]\nallow = ["127.77.0.0/16"]\n')
    with pytest.raises(ScopeViolation, match="outside"):
        narrow.expand(["localhost"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[scope]\nallow = ["127.77.0.0/16"\nports = [22]\n', r"^s\.toml:3: .*\(column"),
        ('[scope]\nallow = ["127.77.0.0/16"]\nports = [22, "ssh"]\n', r"^s\.toml:3: scope\.ports: must be a list"),
        ('[scope]\nallow = ["127.77.0.0/16"]\nports = [0]\n', r"^s\.toml:3: scope\.ports: 0 is not a port"),
        ('[scope]\n\nallow = ["127.77.0.1/16"]\n', r"^s\.toml:3: scope\.allow: .*did you mean 127\.77\.0\.0/16"),
        ('[scope]\nallow = ["banana"]\n', r"^s\.toml:2: scope\.allow: 'banana' is not a CIDR"),
        ('[scope]\nallow = []\n', r"^s\.toml:2: scope\.allow: is empty"),
        ('[scope]\nexclude = []\n', r"^s\.toml:1: \[scope\]: needs 'allow'"),
        ('[snmp]\ncommunities = ["public"]\n', r"^s\.toml: no \[scope\] table"),
        ('[scope]\nallow = ["127.0.0.0/8"]\nalow = []\n', r"^s\.toml:3: scope\.alow: unknown key"),
        ('[scope]\nallow = ["127.0.0.0/8"]\nrate = true\n', r"^s\.toml:3: scope\.rate: must be a number"),
        ('[scope]\nallow = ["127.0.0.0/8"]\ntimeout = -1\n', r"^s\.toml:3: scope\.timeout: -1 is out of range"),
        ('[scope]\nallow = ["127.0.0.0/8"]\nper_host = 1.5\n', r"^s\.toml:3: scope\.per_host: must be an integer"),
        ('[scope]\nallow = ["127.0.0.0/8"]\n[snmp]\ncommunities = "public"\n', r"^s\.toml:4: snmp\.communities"),
        (
            '[scope]\nallow = ["127.0.0.0/8"]\n[[snmp.v3]]\nuser = "a"\nauth_protocol = "SHA"\nauth_key = "k1"\n'
            '[[snmp.v3]]\nuser = "b"\nauth_protocol = "ROT13"\n',
            r"^s\.toml:6: snmp\.v3\.auth_key: must be at least 8",
        ),
        (
            '[scope]\nallow = ["127.0.0.0/8"]\n[[snmp.v3]]\nuser = "a"\n[[snmp.v3]]\nuser = "b"\n'
            'auth_protocol = "ROT13"\n',
            r"^s\.toml:7: snmp\.v3\.auth_protocol: 'ROT13' is not one of",
        ),
        (
            '[scope]\nallow = ["127.0.0.0/8"]\n[[snmp.v3]]\nuser = "a"\npriv_protocol = "AES"\npriv_key = "12345678"\n',
            r"^s\.toml:5: snmp\.v3\.priv_protocol: privacy needs authentication",
        ),
        ('[scope]\nallow = ["127.0.0.0/8"]\n[other]\nx = 1\n', r"^s\.toml:3: \[other\]: unknown table"),
    ],
)
def test_malformed_scope_is_one_line_naming_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(ScopeError, match=expected) as info:
        parse_scope(text, "s.toml")
    assert "\n" not in str(info.value)


def test_load_scope_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScopeError, match="no such scope file"):
        load_scope(tmp_path / "missing.toml")
    with pytest.raises(ScopeError, match="is a directory"):
        load_scope(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScopeError, match="not UTF-8"):
        load_scope(binary)
    good = tmp_path / "scope.toml"
    good.write_text(GOOD)
    assert load_scope(good).source == str(good)


@given(st.text(max_size=300))
def test_any_text_is_a_scope_or_a_scope_error(text: str) -> None:
    try:
        parse_scope(text, "fuzz.toml")
    except ScopeError as exc:
        assert str(exc).startswith("fuzz.toml")
