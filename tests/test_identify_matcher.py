"""The compiled matcher and the `re` fallback give the same answers, on anything."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.identify.matcher import CompiledMatcher, ReMatcher, clean_text, hyperscan
from vendorscope.identify.rules import default_rules

pytestmark = pytest.mark.skipif(hyperscan is None, reason="hyperscan wheels exist for x86_64 only")

RULES = default_rules()
KINDS = sorted({k for r in RULES for k in r.kinds})
EXAMPLES = [e for r in RULES for e in r.examples + r.counterexamples]


@pytest.fixture(scope="module")
def matchers() -> tuple[CompiledMatcher, ReMatcher]:
    return CompiledMatcher(RULES), ReMatcher(RULES)


def _same(matchers: tuple[CompiledMatcher, ReMatcher], kind: str, value: str) -> None:
    fast, slow = matchers
    a = [(m.rule.id, m.groups) for m in fast.match(kind, value)]
    b = [(m.rule.id, m.groups) for m in slow.match(kind, value)]
    assert a == b, (kind, value)


def test_agree_on_every_example(matchers: tuple[CompiledMatcher, ReMatcher]) -> None:
    for rule in RULES:
        for value in rule.examples + rule.counterexamples:
            for kind in rule.kinds:
                _same(matchers, kind, value)


# Mutations of real banners find the edges of patterns far better than noise.
mutated = st.builds(
    lambda base, cut, junk, upper: (base[:cut] + junk + base[cut:]).upper() if upper else base[:cut] + junk,
    st.sampled_from(EXAMPLES),
    st.integers(0, 80),
    st.text(max_size=12),
    st.booleans(),
)
adversarial = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="aA0 -_./:()\\\n\r\t\x00ſKﬀ华为", max_size=300),
    mutated,
    st.sampled_from(EXAMPLES).map(lambda e: e + "\n"),
    st.sampled_from(EXAMPLES).map(lambda e: "\n" + e),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), value=adversarial)
def test_agree_on_adversarial_strings(matchers: tuple[CompiledMatcher, ReMatcher], kind: str, value: str) -> None:
    _same(matchers, kind, value)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clean_text_is_always_encodable(value: str) -> None:
    clean_text(value).encode("utf-8")


def test_compiled_database_cache_roundtrip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = CompiledMatcher(RULES, cache_dir=tmp_path)
    first.compile_all()  # databases otherwise load on each kind's first match
    files = sorted(tmp_path.glob("hs-*.db"))
    assert files, "databases are cached"
    for f in files[: len(files) // 2]:
        f.write_bytes(b"corrupt")  # a damaged cache entry is recompiled, never trusted
    second = CompiledMatcher(RULES, cache_dir=tmp_path)
    for rule in RULES:
        for value in rule.examples:
            for kind in rule.kinds:
                assert [m.rule.id for m in first.match(kind, value)] == [m.rule.id for m in second.match(kind, value)]
