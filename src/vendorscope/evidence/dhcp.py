"""DHCPv4 and DHCPv6: hostnames, vendor classes, request-list fingerprints, client ids, leases.

DHCPv4 names the client by its hardware address (``chaddr``), which stays
right even when a relay agent forwards the packet, so facts carry that MAC.
"""

from __future__ import annotations

from struct import unpack_from

from vendorscope.evidence.record import DecodeError, Evidence, hex_or_text, ipv4, is_unicast_mac, mac, text

PORTS = frozenset({67, 68})  # DHCPv4 server, client (UDP)
DHCP6_PORTS = frozenset({546, 547})  # DHCPv6 client, server (UDP)
MAGIC = b"\x63\x82\x53\x63"
_BOOTREQUEST, _BOOTREPLY = 1, 2
_DHCPACK = 5
_MAX_OPTIONS = 255


def _options(data: bytes, start: int) -> dict[int, bytes]:
    """TLV options; repeated codes are concatenated (RFC 3396 long options)."""
    opts: dict[int, bytes] = {}
    pos, end = start, len(data)
    for _ in range(_MAX_OPTIONS):
        if pos >= end:
            break
        code = data[pos]
        if code == 0:  # pad
            pos += 1
            continue
        if code == 255:  # end
            break
        if pos + 2 > end:
            raise DecodeError("truncated DHCP option")
        length = data[pos + 1]
        if pos + 2 + length > end:
            raise DecodeError(f"truncated DHCP option {code}")
        opts[code] = opts.get(code, b"") + data[pos + 2 : pos + 2 + length]
        pos += 2 + length
    return opts


def decode_dhcp(payload: bytes) -> list[Evidence]:
    if len(payload) < 240:
        raise DecodeError("truncated DHCP message")
    if payload[236:240] != MAGIC:
        return []  # plain BOOTP: no options to read
    op, htype, hlen = payload[0], payload[1], payload[2]
    if htype != 1 or hlen != 6:
        return []
    chaddr = payload[28:34]
    if not is_unicast_mac(chaddr):
        return []
    client = mac(chaddr)
    opts = _options(payload, 240)
    facts: list[Evidence] = []
    if op == _BOOTREPLY:
        # A server's ACK binds the leased address to the client's MAC.
        msg_type = opts.get(53, b"\x00")[:1]
        yiaddr = payload[16:20]
        if msg_type == bytes([_DHCPACK]) and yiaddr != b"\x00" * 4:
            ip = ipv4(yiaddr)
            facts.append(Evidence("dhcp.ip", ip, mac=client, ip=ip))
        return facts
    if op != _BOOTREQUEST:
        return []
    if (hostname := opts.get(12)) and (name := text(hostname, 255)):
        facts.append(Evidence("dhcp.hostname", name, mac=client, hostname=name.lower()))
    if (fqdn := opts.get(81)) and len(fqdn) > 3 and (name := _fqdn_name(fqdn[3:])):
        facts.append(Evidence("dhcp.fqdn", name, mac=client))
    if vendor_class := opts.get(60):
        facts.append(Evidence("dhcp.vendor_class", text(vendor_class), mac=client))
    if prl := opts.get(55):
        facts.append(Evidence("dhcp.prl", ",".join(str(b) for b in prl), mac=client))
    if (client_id := opts.get(61)) and len(client_id) > 1:
        facts.append(Evidence("dhcp.client_id", client_id.hex(":"), mac=client))
    if (requested := opts.get(50)) and len(requested) == 4 and requested != b"\x00" * 4:
        # A request for an address is not a lease; carried as evidence, not as a binding.
        facts.append(Evidence("dhcp.requested_ip", ipv4(requested), mac=client))
    if (ciaddr := payload[12:16]) != b"\x00" * 4:
        ip = ipv4(ciaddr)  # a client renewing states the address it holds
        facts.append(Evidence("dhcp.ip", ip, mac=client, ip=ip))
    return facts


def _fqdn_name(raw: bytes) -> str:
    """Option 81 holds either ASCII or DNS wire format (flag E); accept both."""
    if raw and raw[0] < 64 and not raw[:1].isalpha():
        labels: list[bytes] = []
        pos = 0
        while pos < len(raw) and raw[pos] and len(labels) < 64:
            n = raw[pos]
            labels.append(raw[pos + 1 : pos + 1 + n])
            pos += 1 + n
        raw = b".".join(labels)
    return text(raw, 255)


# -- DHCPv6 ---------------------------------------------------------------

_DHCP6_RELAY_FORW, _DHCP6_RELAY_REPL = 12, 13
_DHCP6_CLIENT_MSGS = frozenset({1, 3, 4, 5, 6, 8, 9, 11})  # solicit, request, confirm, renew, ...


def _dhcp6_options(data: bytes, start: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    pos = start
    while pos + 4 <= len(data) and len(out) < _MAX_OPTIONS:
        code, length = unpack_from("!HH", data, pos)
        if pos + 4 + length > len(data):
            raise DecodeError(f"truncated DHCPv6 option {code}")
        out.append((code, data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    if pos != len(data) and len(out) < _MAX_OPTIONS:
        raise DecodeError("truncated DHCPv6 option header")
    return out


def decode_dhcp6(payload: bytes) -> list[Evidence]:
    """Vendor class (16), FQDN (39), client DUID (1) and enterprise of client messages.

    No MAC is taken from the DUID: it is chosen once and may name another
    interface; client messages go to a link-local group, so the sender's MAC
    in the frame header is the one to trust (the extractor adds it).
    """
    if len(payload) < 4:
        raise DecodeError("truncated DHCPv6 message")
    msg_type = payload[0]
    if msg_type in (_DHCP6_RELAY_FORW, _DHCP6_RELAY_REPL):
        if len(payload) < 34:
            raise DecodeError("truncated DHCPv6 relay message")
        options = dict(_dhcp6_options(payload, 34))
        inner, link_addr = options.get(9), options.get(79)
        # The relay sent this frame, so its headers name the relay; the client's
        # facts are kept only when the relay states the client's MAC (option 79).
        if inner is None or link_addr is None or link_addr[:2] != b"\x00\x01" or not is_unicast_mac(link_addr[2:]):
            return []
        client = mac(link_addr[2:])
        return [f._replace(mac=client) for f in decode_dhcp6(inner)]
    if msg_type not in _DHCP6_CLIENT_MSGS:
        return []
    facts: list[Evidence] = []
    for code, value in _dhcp6_options(payload, 4):
        if code == 1:
            facts.append(Evidence("dhcp6.duid", value.hex(":")))
        elif code == 16 and len(value) >= 4:  # vendor class: enterprise number + opaque strings
            enterprise = int.from_bytes(value[:4], "big")
            facts.append(Evidence("dhcp6.enterprise", str(enterprise)))
            pos = 4
            while pos + 2 <= len(value):
                n = int.from_bytes(value[pos : pos + 2], "big")
                if chunk := text(value[pos + 2 : pos + 2 + n]):
                    facts.append(Evidence("dhcp.vendor_class", chunk))
                pos += 2 + n
        elif code == 39 and len(value) > 1 and (name := _fqdn_name(value[1:])):
            facts.append(Evidence("dhcp.hostname", name, hostname=name.split(".")[0].lower()))
        elif code == 15 and len(value) > 2:  # user class
            facts.append(Evidence("dhcp6.user_class", hex_or_text(value[2:])))
    return facts

