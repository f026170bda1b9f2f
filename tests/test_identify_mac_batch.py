"""MAC addresses in batches: the OUI table's block search and the engine's per-block answers agree
with a brute-force oracle (every assigned block, longest prefix first), for every notation, every
kind of address (MA-L, MA-M, MA-S, split parents, multicast, locally administered) and junk."""

from __future__ import annotations

import random
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.identify.engine import Engine
from vendorscope.identify.oui import OuiTable, default_oui_table, mac_int_or_none, mac_to_int
from vendorscope.identify.registry import default_registry

BLOCK_NAMES = {24: "MA-L", 28: "MA-M", 36: "MA-S"}


@cache
def entries() -> dict[tuple[int, int], str]:
    return default_oui_table().entries()


def oracle_block(value: int) -> tuple[int, int, str] | None:
    """(bits, prefix, registrant) of the longest assigned block holding a 48-bit address."""
    for bits in (36, 28, 24):
        name = entries().get((bits, value >> (48 - bits)))
        if name is not None:
            return bits, value >> (48 - bits), name
    return None


def oracle_split(prefix24: int) -> bool:
    return any((bits == 28 and p >> 4 == prefix24) or (bits == 36 and p >> 12 == prefix24)
               for bits, p in entries())


def prefix_text(bits: int, prefix: int) -> str:
    digits = f"{prefix:0{bits // 4}X}"
    return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))


def oracle_attribution(text: str) -> tuple[str, str] | None:
    """(vendor, rule) a MAC should be attributed with, from the brute-force block and the registry."""
    digits = text.strip().translate(str.maketrans("", "", ":-. "))
    if len(digits) != 12 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return None
    value = int(digits, 16)
    if value >> 40 & 0x03:  # multicast or locally administered
        return None
    block = oracle_block(value)
    if block is None:
        return None
    bits, prefix, name = block
    vendor = default_registry().find_by_name(name)
    return None if vendor is None else (vendor, f"ieee.{BLOCK_NAMES[bits]}:{prefix_text(bits, prefix)}")


@cache
def interesting_prefixes() -> list[tuple[int, int]]:
    """Blocks of each size, split MA-L parents among them, and the high-risk vendors' own blocks."""
    rng = random.Random(12)
    keys = sorted(entries())
    by_bits = {bits: [k for k in keys if k[0] == bits] for bits in (24, 28, 36)}
    picked = [k for bits in (24, 28, 36) for k in rng.sample(by_bits[bits], 60)]
    split_parents = sorted({p >> 4 for _, p in by_bits[28]} | {p >> 12 for _, p in by_bits[36]})
    picked += [(24, p) for p in rng.sample(split_parents, 40)]
    picked += [k for k, name in entries().items() if "huawei" in name.lower() or "hikvision" in name.lower()][:40]
    return picked


def address_in(bits: int, prefix: int, suffix: int) -> int:
    return (prefix << (48 - bits)) | (suffix & ((1 << (48 - bits)) - 1))


def notation(value: int, style: int) -> str:
    d = f"{value:012x}"
    return [
        ":".join(d[i:i + 2] for i in range(0, 12, 2)),
        "-".join(d[i:i + 2] for i in range(0, 12, 2)).upper(),
        ".".join(d[i:i + 4] for i in range(0, 12, 4)),
        d,
        f"  {d.upper()} ",
    ][style % 5]


addresses = st.one_of(
    st.integers(0, (1 << 48) - 1),
    st.builds(lambda k, s: address_in(*k, s), st.sampled_from(interesting_prefixes()), st.integers(0, 1 << 24)),
)
junk = st.sampled_from(["", "00:e0:fc", "00:e0:fc:12:34:5g", "0x00e0fc123456", "+0e0fc123456", "00_e0fc123456",
                        "00:e0:fc:12:34:56:78", "not a mac", "٠٠e0fc123456"])
mac_texts = st.one_of(st.builds(notation, addresses, st.integers(0, 4)), junk, st.text(max_size=20))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(addresses, max_size=30))
def test_locate_and_is_split_agree_with_every_block(values: list[int]) -> None:
    table = default_oui_table()
    for value in values:
        found = table.locate(value)
        expected = oracle_block(value)
        assert (None if found is None else (found[0], found[1], table.registrant(found[2]))) == expected
        assert table.is_split(value >> 24) == oracle_split(value >> 24)


def test_every_split_parent_is_known_and_no_other_prefix_is() -> None:
    table = default_oui_table()
    parents = {p >> 4 for bits, p in entries() if bits == 28} | {p >> 12 for bits, p in entries() if bits == 36}
    assert len(parents) > 100
    assert all(table.is_split(p) for p in parents)
    others = [p for bits, p in entries() if bits == 24 and p not in parents]
    assert others and not any(table.is_split(p) for p in others[:5000])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mac_texts, max_size=40))
def test_batch_of_macs_matches_the_oracle(texts: list[str]) -> None:
    engine = Engine(cache_size=64)
    pairs = [("mac", t) for t in texts]
    for _ in range(2):  # the second time from the value cache and the per-block cache
        got = engine.identify_values(pairs)
        assert [(found[0].vendor, found[0].rule) if found else None for found in got] == \
            [oracle_attribution(t) for t in texts]
        assert all(len(found) <= 1 for found in got)
    assert [engine.identify_value("mac", t) for t in texts] == got


def test_high_risk_blocks_of_every_size_are_found_in_one_batch() -> None:
    # (the IEEE also lists a few Huawei blocks with the locally administered bit set: those give nothing)
    huawei = [(bits, p) for (bits, p), name in entries().items()
              if default_registry().find_by_name(name) == "huawei" and not p >> (bits - 8) & 0x03]
    assert {bits for bits, _ in huawei} >= {24}
    texts = [notation(address_in(bits, p, 0x5A5A5A), i) for i, (bits, p) in enumerate(huawei)]
    got = Engine().identify_values([("mac", t) for t in texts])
    assert all(found and found[0].vendor == "huawei" for found in got)
    assert [found[0].rule for found in got] == [oracle_attribution(t)[1] for t in texts]  # type: ignore[index]


def test_mac_int_or_none_is_mac_to_int_without_the_exception() -> None:
    for text in ["00:E0:FC:12:34:56", "00e0.fc12.3456", "", "00:e0:fc", "zz:e0:fc:12:34:56", " 00-e0-fc-12-34-56 "]:
        try:
            expected: int | None = mac_to_int(text)
        except ValueError:
            expected = None
        assert mac_int_or_none(text) == expected


def test_batch_keeps_answers_it_does_not_cache() -> None:
    """Values too long for the value cache, repeated inside one batch and across batches, still get
    their answers (they are filled from the batch's own results, not from the cache)."""
    long_banner = "SSH-2.0-HUAWEI-1.5 " + "x" * 5000
    pairs = [("ssh.banner", long_banner), ("mac", "00:e0:fc:12:34:56"), ("ssh.banner", long_banner),
             ("ssh.banner", "SSH-2.0-OpenSSH_9.2")] * 3
    reference = Engine(cache_size=0)
    engine = Engine()
    for _ in range(2):
        assert engine.identify_values(pairs) == [reference._identify_value(k, v) for k, v in pairs]
    assert ("ssh.banner", long_banner) not in engine._cache
    assert engine.identify_values(pairs)[0][0].vendor == "huawei"


@pytest.mark.parametrize("cache_size", [0, 1, 3])
def test_batch_with_a_cache_cleared_while_it_is_filled(cache_size: int) -> None:
    texts = [notation(address_in(bits, p, 7), 0) for bits, p in interesting_prefixes()[:100]]
    pairs = [("mac", t) for t in texts] + [("mac", t) for t in texts[::2]]
    got = Engine(cache_size=cache_size).identify_values(pairs)
    assert [(f[0].vendor, f[0].rule) if f else None for f in got] == [oracle_attribution(t) for _, t in pairs]


def test_oui_table_from_entries_locates_like_the_default() -> None:
    small = OuiTable.from_entries({(24, 0x00E0FC): "Huawei Technologies Co.,Ltd",
                                   (24, 0x70B3D5): "IEEE Registration Authority",
                                   (36, 0x70B3D50D7): "Some MA-S Registrant"})
    assert small.locate(0x00E0FC123456) == (24, 0x00E0FC, small.locate(0x00E0FC000000)[2])  # type: ignore[index]
    assert small.registrant(small.locate(0x70B3D50D7123)[2]) == "Some MA-S Registrant"  # type: ignore[index]
    assert small.registrant(small.locate(0x70B3D5FFFFFF)[2]) == "IEEE Registration Authority"  # type: ignore[index]
    assert small.is_split(0x70B3D5) and not small.is_split(0x00E0FC)
    assert small.locate(0x0A0B0C000000) is None
