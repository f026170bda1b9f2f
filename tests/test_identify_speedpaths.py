"""The fast paths of identify give what the plain paths give: RE2 captures read from the scanned bytes,
the batch cache (bounded, long values left out), kinds no rule or lookup knows, MAC blocks from the
integer, and identify_lines' inline decoding of the common line shape."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.cli.identify import identify_lines
from vendorscope.identify.batch import read_observation_line
from vendorscope.identify.engine import Engine
from vendorscope.identify.matcher import _CaptureExtractor, clean_text, re2
from vendorscope.identify.oui import default_oui_table, mac_to_int
from vendorscope.identify.rules import Rule, default_rules

CAPTURE_RULES = [r for r in default_rules() if "(?P<" in r.pattern and r.examples]


@pytest.fixture(scope="module")
def reference() -> Engine:
    return Engine(cache_size=0)


def _wrapper_groups(rule: Rule, value: str) -> dict[str, str | None] | None:
    """What the re2 module's own ``search`` gives (the slow path the extractor replaced)."""
    options = re2.Options()
    options.case_sensitive = rule.case_sensitive
    m = re2.compile(rule.pattern, options).search(value)
    return dict(m.groupdict()) if m is not None else None


@pytest.mark.skipif(re2 is None, reason="google-re2 not installed")
def test_capture_extractor_equals_the_re2_module_on_every_example() -> None:
    assert len(CAPTURE_RULES) > 50
    checked = 0
    for rule in CAPTURE_RULES:
        extract = _CaptureExtractor(rule)
        for example in rule.examples:
            expected = _wrapper_groups(rule, example)
            if expected is None:
                continue  # RE2's "$" differs; the extractor's Python fallback is tested elsewhere
            assert extract(example) == expected, (rule.id, example)
            assert extract(example, example.encode("utf-8")) == expected
            checked += 1
    assert checked > 100


@pytest.mark.skipif(re2 is None, reason="google-re2 not installed")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CAPTURE_RULES), st.text(max_size=40), st.text(max_size=40))
def test_capture_extractor_equals_the_re2_module_around_non_ascii_text(rule: Rule, before: str, after: str) -> None:
    """Byte spans decode to the same strings as the module's character offsets, whatever the text around."""
    value = clean_text(before + rule.examples[0] + after)
    expected = _wrapper_groups(rule, value)
    if expected is not None:
        assert _CaptureExtractor(rule)(value) == expected


def test_long_values_are_answered_but_not_cached() -> None:
    engine = Engine()
    long_value = "SSH-2.0-HUAWEI-1.5 " + "x" * 5000
    pairs = [("ssh.banner", long_value), ("ssh.banner", "SSH-2.0-HUAWEI-1.5")]
    found = engine.identify_values(pairs)
    assert found[0] and found[0][0].vendor == "huawei"
    assert ("ssh.banner", long_value) not in engine._cache
    assert ("ssh.banner", "SSH-2.0-HUAWEI-1.5") in engine._cache


def test_cache_stays_bounded_when_a_batch_has_more_new_values_than_it_holds(reference: Engine) -> None:
    engine = Engine(cache_size=8)
    pairs = [("ssh.banner", f"SSH-2.0-HUAWEI-1.{i}") for i in range(30)]
    assert engine.identify_values(pairs) == [reference._identify_value(k, v) for k, v in pairs]
    assert len(engine._cache) <= 8
    dicts = engine.identify_values_as_dicts(pairs)
    assert [[dict(d) for d in found] for found in dicts] == [
        [a.as_dict() for a in reference._identify_value(k, v)] for k, v in pairs]
    assert len(engine._dict_cache) <= 8


def test_no_cache_at_all_gives_the_same(reference: Engine) -> None:
    pairs = [("ssh.banner", "SSH-2.0-HUAWEI-1.5")] * 3 + [("no.such.kind", "HUAWEI")]
    engine = Engine(cache_size=0)
    assert engine.identify_values(pairs) == [reference._identify_value(k, v) for k, v in pairs]
    assert not engine._cache


def test_kinds_without_rules_or_lookups_give_nothing_and_lookup_kinds_still_answer(reference: Engine) -> None:
    pairs = [("no.such.kind", "SSH-2.0-HUAWEI-1.5"), ("mac", "00:e0:fc:12:34:56"),
             ("snmp.sysobjectid", "1.3.6.1.4.1.2011.2.23.1"), ("inventory.manufacturer", "Huawei Technologies")]
    got = Engine().identify_values(pairs)
    assert got == [reference._identify_value(k, v) for k, v in pairs]
    assert got[0] == ()
    assert all(found and found[0].vendor == "huawei" for found in got[1:])


def test_mac_block_of_agrees_with_lookup_on_every_kind_of_address() -> None:
    table = default_oui_table()
    ma_m = next(key for key in table._entries if key[0] == 28)
    ma_s = next(key for key in table._entries if key[0] == 36)
    macs = ["00:e0:fc:12:34:56", "01:00:5e:00:00:01", "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff",
            f"{ma_m[1] << 20 | 0x12345:012x}", f"{ma_s[1] << 12 | 0x123:012x}", "fc:ff:ff:00:00:00"]
    for mac in macs:
        info = table.lookup(mac)
        block = table.block_of(mac_to_int(mac))
        if info.scope == "global":
            assert block == ((info.registrant, info.prefix, info.block) if info.registrant else None), mac
    engine, reference = Engine(), Engine(cache_size=0)
    for mac in macs * 2:  # the second time from the per-block cache
        assert engine.identify_value("mac", mac) == reference._identify_value("mac", mac)


def test_identify_lines_inline_decoding_matches_the_reader(reference: Engine) -> None:
    """Lines of the common shape, odd shapes, an own "error" field and invalid UTF-8: each record is
    what read_observation_line makes of the line, with the per-value attributions."""
    lines = [
        b'{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "host": "a"}\n',
        b'{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-1.5", "error": "kept as given"}\n',
        b'{"kind": "ssh.banner", "value": "SSH-2.0-HUAWEI-\xff1.5"}\n',
        b'{"kind": 1, "value": "x"}\n',
        b"[1, 2]\n",
        b"\n",
        b'{"kind": "mac", "value": "00:e0:fc:12:34:56"}',
    ]
    out = list(identify_lines(Engine(), lines, "obs.jsonl"))
    assert [n for n, _ in out] == list(range(1, len(lines) + 1))
    for (n, record), raw in zip(out, lines, strict=True):
        read = read_observation_line(raw, f"obs.jsonl line {n}")
        if "error" in read:
            assert record == ({"line": n, "error": read["error"]} if "kind" not in read else read)
            continue
        expected = [a.as_dict() for a in reference._identify_value(read["kind"], read["value"])]
        assert record == {**read, "attributions": expected}
        json.dumps(record)
    assert out[0][1]["attributions"][0]["vendor"] == "huawei"
    assert "attributions" not in out[1][1]  # a line with its own "error" passes through
