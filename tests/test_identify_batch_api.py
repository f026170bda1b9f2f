"""The batch API (Engine.identify_values, identify_values_as_dicts, Matcher.match_many) gives exactly
what the per-value API gives, for every rule example and for random strings."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.cli.identify import identify_lines
from vendorscope.identify.batch import attribute_batch
from vendorscope.identify.engine import Engine
from vendorscope.identify.matcher import CompiledMatcher, ReMatcher, hyperscan
from vendorscope.identify.rules import default_rules


def all_examples() -> list[tuple[str, str]]:
    return [(k, e) for r in default_rules() for e in (*r.examples, *r.counterexamples) for k in r.kinds]


def per_value(kind: str, value: str) -> tuple:
    return Engine(cache_size=0)._identify_value(kind, value)


@pytest.fixture(scope="module")
def reference() -> Engine:
    return Engine(cache_size=0)  # no cache: every answer computed on its own


def test_batch_equals_per_value_over_every_rule_example(reference: Engine) -> None:
    pairs = all_examples()
    pairs += [(k, v) for k, v in pairs[::3]]  # repeats inside one batch
    random.Random(5).shuffle(pairs)
    expected = [reference._identify_value(k, v) for k, v in pairs]
    assert sum(1 for found in expected if found) > len(pairs) // 2  # the examples do identify
    batch_engine = Engine()
    assert batch_engine.identify_values(pairs) == expected
    assert batch_engine.identify_values(pairs) == expected  # second time from the cache
    dicts = Engine().identify_values_as_dicts(pairs)
    assert [[d for d in found] for found in dicts] == [[a.as_dict() for a in found] for found in expected]


def test_batch_cache_smaller_than_the_batch_gives_the_same(reference: Engine) -> None:
    pairs = all_examples()[:300]
    small = Engine(cache_size=7)  # cleared again and again while the batch is stored
    assert small.identify_values(pairs) == [reference._identify_value(k, v) for k, v in pairs]
    assert [small.identify_value(k, v) for k, v in pairs] == [reference._identify_value(k, v) for k, v in pairs]


@pytest.mark.skipif(hyperscan is None, reason="hyperscan not installed")
def test_match_many_equals_match_for_both_matchers() -> None:
    rules = default_rules()
    compiled, plain = CompiledMatcher(rules), ReMatcher(rules)
    by_kind: dict[str, list[str]] = {}
    for kind, value in all_examples():
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        many = compiled.match_many(kind, values)
        assert many == [compiled.match(kind, v) for v in values] == plain.match_many(kind, values)
    assert compiled.match_many("no.such.kind", ["a", "b"]) == [[], []]


kinds = st.sampled_from(sorted({k for k, _ in all_examples()} | {"mac", "snmp.sysobjectid", "cpe", "nope"}))
values = st.one_of(
    st.text(max_size=80),
    st.sampled_from([v for _, v in all_examples()]).flatmap(
        lambda v: st.builds(lambda a, b: a + v + b, st.text(max_size=5), st.text(max_size=5))
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(kinds, values), max_size=40))
def test_batch_equals_per_value_on_random_strings(pairs: list[tuple[str, str]]) -> None:
    engine = Engine(cache_size=16)
    expected = [per_value(k, v) for k, v in pairs]
    assert engine.identify_values(pairs) == expected
    assert [list(found) for found in engine.identify_values_as_dicts(pairs)] == [
        [a.as_dict() for a in found] for found in expected
    ]


def test_identify_lines_equals_per_value_and_keeps_bad_lines_in_place(reference: Engine) -> None:
    import json

    pairs = all_examples()[:200]
    lines = [json.dumps({"kind": k, "value": v, "site": "x"}).encode() for k, v in pairs]
    lines.insert(50, b"not json")
    lines.insert(120, b'{"kind": 1, "value": "v"}')
    lines.insert(121, b"")
    out = list(identify_lines(Engine(), lines, "obs.jsonl"))
    assert [n for n, _ in out] == list(range(1, len(lines) + 1))
    assert out[50][1]["error"].startswith("obs.jsonl line 51: not JSON")
    assert out[120][1] == {"line": 121, "error": "obs.jsonl line 121: needs string fields 'kind' and 'value'"}
    assert out[121][1] == {"line": 122, "error": "empty line"}
    good = [record for _, record in out if "error" not in record]
    assert [(r["kind"], r["value"], r["site"]) for r in good] == [(k, v, "x") for k, v in pairs]
    assert [r["attributions"] for r in good] == [[a.as_dict() for a in reference._identify_value(k, v)]
                                                  for k, v in pairs]


def test_attribute_batch_equals_per_value(reference: Engine) -> None:
    pa = pytest.importorskip("pyarrow")
    pairs = all_examples()[:150]
    batch = pa.RecordBatch.from_pylist(
        [{"kind": k, "value": v, "error": None} for k, v in pairs]
        + [{"kind": None, "value": "x", "error": None}, {"kind": "ssh.banner", "value": "x", "error": "bad line"}]
    )
    out = attribute_batch(batch, Engine()).to_pylist()
    for row, (k, v) in zip(out, pairs, strict=False):
        expected = [a.as_dict() for a in reference._identify_value(k, v)]
        assert row["attributions"] == expected
        assert row["vendor"] == (expected[0]["vendor"] if expected else None)
    assert out[-2]["error"] == "needs string fields 'kind' and 'value'" and out[-2]["attributions"] is None
    assert out[-1]["error"] == "bad line" and out[-1]["attributions"] is None


def test_identify_observations_equals_identify() -> None:
    from datetime import UTC, datetime

    from vendorscope.model import Observation

    seen = datetime(2026, 1, 1, tzinfo=UTC)
    observations = [Observation(kind=k, value=v, source="test", seen_at=seen) for k, v in all_examples()[:120]]
    observations.append(observations[3])  # the same observation twice
    engine = Engine()
    assert engine.identify_observations(observations) == [Engine(cache_size=0).identify(o) for o in observations]
