"""Rapid7 recog as a rule source: Ruby regex semantics, params, the engine, the CLI, malformed XML."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.identify.check import recog_disagreements
from vendorscope.identify.engine import Engine
from vendorscope.identify.matcher import SetMatcher
from vendorscope.identify.recog import (
    RecogDatabase,
    RecogError,
    VendorMap,
    expected_naming,
    load_recog,
    observed_value,
    parse_recog_xml,
    translate_pattern,
)
from vendorscope.identify.registry import Registry, default_registry

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "recog"
sys.path.insert(0, str(ROOT / "benchmarks"))
from accuracy import shared_recog  # noqa: E402

# Examples of the full recog database whose vendor and product vendorscope does not reproduce
# exactly, with the reason.
_TRIMMED = "recog's captured product ends in a space ('FE Series '); vendorscope trims names"
RECOG_ALLOW_LIST: dict[str, str] = {
    "HiPath Wireless Access Controller - FE Series , System Version V5 R1.10034.0": _TRIMMED,
    "HiPath Wireless Access Controller - GE Series , System Version V5 R3.10404.0": _TRIMMED,
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


@pytest.fixture(scope="module")
def fixture_db(registry: Registry) -> RecogDatabase:
    return load_recog([FIXTURES], registry)


@pytest.fixture(scope="module")
def recog_engine(registry: Registry, fixture_db: RecogDatabase) -> Engine:
    return Engine(registry=registry, recog=fixture_db)


def _search(pattern: str, flags: list[str], text: str) -> re.Match[str] | None:
    translated, case_sensitive, _ = translate_pattern(pattern, flags)
    return re.search(translated, text, re.ASCII | (0 if case_sensitive else re.IGNORECASE))


# -- Ruby semantics ---------------------------------------------------------------


def test_anchors_always_match_at_line_ends() -> None:
    assert _search("^b$", [], "a\nb\nc")


def test_dot_newline_flags_and_inline_m_mean_dotall() -> None:
    for flags in (["REG_DOT_NEWLINE"], ["REG_MULTILINE"], ["REG_LINE_ANY_CRLF"]):
        assert _search("a.b", flags, "a\nb")
    assert not _search("a.b", [], "a\nb")
    assert _search("(?m)a.b", [], "a\nb")  # Ruby's m is Python's s
    assert _search("x(?m:a.b)", [], "xa\nb")


def test_icase_flag_and_mid_pattern_caret_icase() -> None:
    assert _search("^abc", ["REG_ICASE"], "ABC")
    assert not _search("^abc", [], "ABC")
    assert _search("^(?i)abc def", [], "ABC DEF")


def test_capture_groups_are_numbered_like_ruby() -> None:
    translated, _, groups = translate_pattern(r"^(a)\((?:b)[(x)](c(d))(?<e>e)$")
    assert groups == 4
    m = re.search(translated, "a(b(cde")
    assert m is not None and m.groupdict() == {"_1": "a", "_2": "cd", "_3": "d", "_4": "e"}


def test_vendor_names_map_by_whole_name_or_the_data_table(registry: Registry) -> None:
    vendor_of = VendorMap(registry)
    assert (vendor_of("Huawei"), vendor_of("ZTE"), vendor_of("Hikvision"), vendor_of("Dahua")) == (
        "huawei", "zte", "hikvision", "dahua")
    assert vendor_of("Dahua Scale Factory") is None  # no prefix guessing: look-alikes stay apart
    overridden = VendorMap(registry, {"Examplesoft Labs": "huawei", "Hikvision": ""})
    assert overridden("Examplesoft Labs") == "huawei" and overridden("Hikvision") is None


# -- the loader ---------------------------------------------------------------------


def test_loader_maps_files_by_matches_or_name(fixture_db: RecogDatabase) -> None:
    kinds = {fp.rule.kinds[0] for fp in fixture_db.fingerprints.values()}
    assert kinds == {"ssh.banner", "telnet.banner", "http.server"}
    assert fixture_db.skipped_files == ["gopher_banners.xml"]
    assert fixture_db.kinds()["ssh.banner"] == "SSH-2.0-"


def test_params_interpolation_and_base64(fixture_db: RecogDatabase) -> None:
    huawei = fixture_db.fingerprints["recog.ssh_banners.0001"]
    values = huawei.values({"_1": "1.5"})
    assert values["os.cpe23"] == "cpe:/o:huawei:vrp:1.5" and values["service.version"] == "1.5"
    assert huawei.rule.vendor == "huawei"  # recog's "Huawei" is the registry's huawei
    base64_example = fixture_db.fingerprints["recog.telnet_banners.0005"].examples[0]
    assert base64_example.text == "first line\nLine two says Thing\nlast line"


@pytest.mark.parametrize(
    ("kind", "value", "vendor", "vendor_name", "product", "version"),
    [
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5", "huawei", "Huawei", "VRP", None),
        ("ssh.banner", "SSH-1.99-HUAWEI-1.5", "huawei", "Huawei", "VRP", None),
        ("ssh.banner", "SSH-2.0-Examplesoft_2.1 (Box 9)", "examplesoft-labs", "Examplesoft Labs", "Box 9", None),
        ("telnet.banner", "F668\r\n\rLogin:\n", "zte", "ZTE", "F668", None),
        ("telnet.banner", "Welcome to Acmeware OS\nVersion 4.2\nlogin:", "acmeware", "Acmeware", "Acmeware OS",
         "4.2"),
        ("telnet.banner", "Gizmo switch\nfirmware ready", "gizmo-networks", "Gizmo Networks", "Gizmo switch", None),
        ("telnet.banner", "WIDGET Router login:", "widget", "Widget Corp", "Router", None),
        ("http.server", "Dahua-httpd/1.0", "dahua", "Dahua", "httpd", "1.0"),
    ],
)
def test_recog_attributions(recog_engine: Engine, kind: str, value: str, vendor: str, vendor_name: str,
                            product: str, version: str | None) -> None:
    found = [a for a in recog_engine.identify_value(kind, value) if a.rule.startswith("recog.")]
    assert [(a.vendor, a.vendor_name, a.product, a.version) for a in found] == [
        (vendor, vendor_name, product, version)]


def test_ssh_patterns_see_only_the_part_after_the_version(recog_engine: Engine) -> None:
    assert not [a for a in recog_engine.identify_value("ssh.banner", "HUAWEI-1.5") if a.rule.startswith("recog.")]


def test_curated_rules_win_and_disagreements_are_reported(recog_engine: Engine) -> None:
    found = recog_engine.identify_value("http.server", "App-webs/")
    assert found and {a.group for a in found} == {"hikvision"}  # recog's "Acme Cameras" is dropped
    assert "acme-cameras" in {a.vendor for a in recog_engine.recog_attributions("http.server", "App-webs/")}
    agreeing = recog_engine.identify_value("http.server", "DNVRS-Webs")
    assert found[0].rule.startswith("http.") and any(a.rule == "recog.http_servers.0002" for a in agreeing)
    problems = recog_disagreements(recog_engine)
    assert [p.rule for p in problems] == ["recog.http_servers.0001"]
    assert "Acme Cameras" in problems[0].what and "http.hikvision" in problems[0].what


def test_patterns_re2_refuses_run_with_python_re(recog_engine: Engine) -> None:
    found = recog_engine.identify_value("http.server", "LookaheadServer/2")
    assert [(a.vendor_name, a.product) for a in found] == [("Lookahead", "Server")]
    assert recog_engine.identify_value("http.server", "LookaheadServer/x") == ()
    matcher = SetMatcher(recog_engine.recog.rules if recog_engine.recog else [])
    matcher.compile_all()
    assert matcher.fallback_rules == ["recog.http_servers.0005"]


def test_no_vendor_no_attribution(recog_engine: Engine) -> None:
    assert recog_engine.identify_value("http.server", "no-vendor-here") == ()


def test_every_fixture_example_gives_its_vendor_and_product(recog_engine: Engine, fixture_db: RecogDatabase) -> None:
    checked = _check_examples(recog_engine, fixture_db)
    assert checked == 12  # every example that names a vendor


def _check_examples(engine: Engine, database: RecogDatabase) -> int:
    wrong, checked = [], 0
    for rule_id, fp in database.fingerprints.items():
        for example in fp.examples:
            vendor, product, complete = expected_naming(fp, example)
            value = observed_value(fp, example)
            if vendor is None or value in RECOG_ALLOW_LIST:
                continue
            got = [(a.vendor_name, a.product) for a in engine.recog_attributions(fp.rule.kinds[0], value)
                   if a.rule == rule_id]
            checked += 1
            if not got or (complete and got[0] != (vendor, product)):
                wrong.append(f"{rule_id} {value[:80]!r}: recog says {(vendor, product)}, got {got}")
    assert not wrong, f"{len(wrong)} examples not reproduced:\n" + "\n".join(wrong[:40])
    return checked


def test_every_shared_recog_example(registry: Registry) -> None:
    path = shared_recog()
    if path is None:
        pytest.skip("no recog checkout at ../shared/recog (or $VENDORSCOPE_TEST_RECOG): the fixtures cover the loader")
    database = load_recog([path], registry)
    assert len(database.fingerprints) > 4000 and not database.skipped_files
    engine = Engine(registry=registry, recog=database)
    assert _check_examples(engine, database) > 6500
    # Through identify: recog's vendor, unless a curated rule names another group, which
    # `rules check` then reports as a disagreement (the reason such an example cannot pass).
    disagreeing = {p.rule for p in recog_disagreements(engine)}
    unexplained = []
    for rule_id, fp in database.fingerprints.items():
        for example in fp.examples:
            vendor, _, complete = expected_naming(fp, example)
            if vendor is None or not complete:
                continue
            value = observed_value(fp, example)
            names = {a.vendor_name for a in engine.identify_value(fp.rule.kinds[0], value)}
            if vendor not in names and rule_id not in disagreeing:
                unexplained.append(f"{rule_id} {value[:80]!r}")
    assert not unexplained, unexplained[:20]


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<fingerprints matches='ssh.banner'><fingerprint pattern='a'>", "x.xml: line 1: not well-formed XML"),
        (b"<fingerprints matches='ssh.banner'>\n<fingerprint>\n</fingerprint></fingerprints>",
         "x.xml: line 2: fingerprint without a pattern"),
        (b"<fingerprints matches='ssh.banner'>\n<fingerprint pattern='(a)'>\n<param pos='2' name='hw.vendor'/>"
         b"</fingerprint></fingerprints>", "x.xml: line 3: param 'hw.vendor': pos 2 but the pattern has 1 groups"),
        (b"<fingerprints matches='ssh.banner'>\n<fingerprint pattern='(a'></fingerprint></fingerprints>",
         "x.xml: line 2: pattern does not compile"),
        (b"<fingerprints matches='ssh.banner'>\n<fingerprint pattern='a' flags='REG_BOGUS'></fingerprint>"
         b"</fingerprints>", "x.xml: line 2: unknown flag 'REG_BOGUS'"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
         b"<fingerprints matches='ssh.banner'>&b;</fingerprints>", "x.xml: line 1: forbidden XML construct"),
    ],
)
def test_malformed_files_give_one_line_errors(xml: bytes, message: str) -> None:
    with pytest.raises(RecogError) as info:
        parse_recog_xml(xml, "x.xml")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


_SEED = (FIXTURES / "xml" / "telnet_banners.xml").read_bytes()


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_SEED)), st.integers(0, 40), st.binary(max_size=12)), max_size=4))
def test_fuzzed_recog_xml_loads_or_fails_in_one_line(edits: list[tuple[int, int, bytes]]) -> None:
    data = _SEED
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut:]
    try:
        matches, fingerprints = parse_recog_xml(data, "fuzz.xml")
    except RecogError as exc:
        assert str(exc).startswith("fuzz.xml: line ") and "\n" not in str(exc)
        return
    for fp in fingerprints:
        re.compile(fp.rule.pattern)


# -- where users keep recog --------------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "vendorscope"), *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **env}, timeout=120, check=False)


def test_env_var_and_add_remove_recog(tmp_path: Path) -> None:
    env = {"VENDORSCOPE_DATA_DIR": str(tmp_path / "data"), "VENDORSCOPE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("VENDORSCOPE_RECOG", None)
    r = _cli("identify", "--kind", "telnet.banner", "Gizmo switch\nfirmware ready", "-f", "jsonl", env=env)
    assert r.returncode == 0 and r.stdout.strip() == ""
    r = _cli("identify", "--kind", "telnet.banner", "Gizmo switch\nfirmware ready", "-f", "jsonl",
             env={**env, "VENDORSCOPE_RECOG": str(FIXTURES / "xml")})
    assert r.returncode == 0 and '"vendor_name": "Gizmo Networks"' in r.stdout
    r = _cli("rules", "add-recog", str(FIXTURES), env=env)
    assert r.returncode == 0 and "12 recog fingerprints" in r.stdout and "gopher_banners.xml" in r.stderr
    r = _cli("identify", "--kind", "telnet.banner", "Gizmo switch\nfirmware ready", "-f", "jsonl", env=env)
    assert '"vendor_name": "Gizmo Networks"' in r.stdout
    r = _cli("rules", "check", env=env)
    assert "recog.http_servers.0001" in r.stdout + r.stderr and "1 disagreements" in r.stdout
    r = _cli("rules", "remove-recog", str(FIXTURES), env=env)
    assert r.returncode == 0
    r = _cli("identify", "--kind", "telnet.banner", "Gizmo switch\nfirmware ready", "-f", "jsonl", env=env)
    assert r.stdout.strip() == ""
    r = _cli("rules", "add-recog", str(tmp_path / "missing"), env=env)
    assert r.returncode != 0 and "no such file or folder" in r.stderr and "Traceback" not in r.stderr


@cache
def _fixture_engine() -> Engine:  # Hypothesis tests take no function-scoped fixtures
    return Engine(registry=default_registry(), recog=load_recog([FIXTURES], default_registry()))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(["ssh.banner", "telnet.banner", "http.server"]), st.text(max_size=300))
def test_hostile_values_never_raise_with_recog(kind: str, value: str) -> None:
    for attribution in _fixture_engine().identify_value(kind, "SSH-2.0-" + value if kind == "ssh.banner" else value):
        assert attribution.vendor and attribution.group and len(attribution.vendor_name) <= 200

