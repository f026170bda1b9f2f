"""Hypothesis over what the web reads from users and shows from data (bounded, deterministic)."""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from web_support import round_one

from vendorscope.pipeline import to_assets
from vendorscope.store.accounts import AccountError, check_name, check_password
from vendorscope.web.data import Assessment, AssetFilter, ListedAsset, listed_asset, row_matches, source_family
from vendorscope.web.pages import _local
from vendorscope.web.views import asset_filter, csv_cell, parse_day, visible
from vendorscope.web.watch import parse_every

FUZZ = settings(max_examples=300, derandomize=True, deadline=None)
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


@FUZZ
@given(st.text())
def test_visible_leaves_no_bidi_or_control_characters(text: str) -> None:
    shown = visible(text)
    assert not BIDI.search(shown)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", shown)


@FUZZ
@given(st.text())
def test_csv_cells_never_start_a_formula(text: str) -> None:
    assert csv_cell(text)[:1] not in ("=", "+", "-", "@", "\t", "\r")


@FUZZ
@given(st.text(max_size=40))
def test_parse_every_gives_seconds_or_one_clear_error(text: str) -> None:
    try:
        seconds = parse_every(text)
    except ValueError as exc:
        assert str(exc).startswith("--every:") and "\n" not in str(exc)
    else:
        assert seconds > 0


@FUZZ
@given(st.text(max_size=30))
def test_parse_day_gives_a_date_or_one_clear_error(text: str) -> None:
    try:
        parse_day(text)
    except ValueError as exc:
        assert str(exc).startswith("as_of:")


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=20), st.floats(allow_nan=True)))
def test_min_confidence_is_a_number_or_one_clear_error(value: object) -> None:
    try:
        flt = asset_filter(min_confidence=value)  # type: ignore[arg-type]
    except ValueError as exc:
        assert str(exc).startswith("min_confidence:")
    else:
        assert flt.min_confidence is None or isinstance(flt.min_confidence, float)


@FUZZ
@given(st.text(max_size=80))
def test_stored_hashes_that_are_garbage_never_match_nor_crash(stored: str) -> None:
    assert check_password("password", stored) is False


@FUZZ
@given(st.text(max_size=250))
def test_names_are_printable_or_refused(name: str) -> None:
    try:
        checked = check_name(name)
    except AccountError:
        return
    assert checked and checked.isprintable() and len(checked) <= 200


@FUZZ
@given(st.text(max_size=60))
def test_source_family_is_a_prefix(source: str) -> None:
    family = source_family(source)
    assert source.startswith(family)


@FUZZ
@given(st.text(max_size=30))
def test_text_filter_ignores_case(text: str) -> None:
    row = _sample_row()
    if text.upper().lower() == text.lower():
        assert row_matches(row, AssetFilter(text=text.upper()).normalised()) == \
            row_matches(row, AssetFilter(text=text.lower()).normalised())


@functools.cache
def _sample_row() -> ListedAsset:
    return listed_asset(to_assets(round_one())[0], "other", [])


@FUZZ
@given(st.text(max_size=60))
def test_login_redirects_stay_local(target: str) -> None:
    local = _local(target)
    assert local.startswith("/") and not local.startswith("//") and "\\" not in local
    assert local == target or local == "/"


@FUZZ
@given(st.lists(st.text(alphabet="ab.\n\x00c1", max_size=12), max_size=12), st.text(alphabet="ab.\nc1", max_size=4))
def test_text_search_finds_exactly_the_rows_a_loop_finds(texts: list[str], query: str) -> None:
    template = _sample_row()
    rows = [dataclasses.replace(template, id=str(i), search=t.replace("\x00", "")) for i, t in enumerate(texts)]
    assessment = Assessment(generation=(), as_of=date(2026, 1, 1), mode="statutory", report=None,  # type: ignore[arg-type]
                            rows=rows, findings_by_asset={}, packs=[], deadlines=[], overdue=[])
    if query:
        assert assessment.rows_containing(query) == [i for i, r in enumerate(rows) if query in r.search]


LIST_PARAMS = st.dictionaries(st.sampled_from(["group", "sort", "desc", "page", "size", "min_confidence", "q",
                                               "as_of", "other"]),
                              st.one_of(st.text(max_size=12), st.integers(-3, 600).map(str),
                                        st.sampled_from(["id", "confidence", "true", "0", "1e3", "nan"])),
                              max_size=6)


@FUZZ
@given(LIST_PARAMS)
def test_the_list_query_is_parsed_or_refused_in_one_line_naming_the_parameter(params: dict[str, str]) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from vendorscope.web.data import Page
    from vendorscope.web.views import list_query, page_links

    try:
        query = list_query(params)
    except ValueError as exc:
        message = str(exc)
        assert "\n" not in message and message.split(":", 1)[0] in params
        return
    assert 1 <= query.size <= 500 and query.page >= 1
    # The links carry every parameter given (but the page) and parse back to the same query.
    links = page_links("/api/v1/assets", query, Page([], 10 * query.size, 2, 3, query.size))
    for link in (links["prev"], links["next"]):
        assert link is not None
        again = list_query(dict(parse_qsl(urlsplit(link).query, keep_blank_values=True)))
        assert dataclasses.replace(again, page=query.page) == query
