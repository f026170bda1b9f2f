"""Start-up caches: the OUI blob and the compiled Hyperscan databases are rebuilt whenever
their inputs change, ignored when damaged or foreign, and optional when the cache is read-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vendorscope.identify.cache import cached_blob, default_cache_dir
from vendorscope.identify.oui import (
    OuiDataError,
    OuiTable,
    decode_oui_blob,
    encode_oui_blob,
    load_oui_table,
    manuf_path,
    parse_manuf,
)

MANUF = """\
00:E0:FC\tHuawei\tHuawei Technologies Co.,Ltd
70:B3:D5\tIEEERegi\tIEEE Registration Authority
70:B3:D5:F2:A0:00/36\tHikvisio\tHangzhou Hikvision Digital Technology Co.,Ltd.
A0:BB:3E:50:00:00/28\tMessi\tMessi & Paoloni
"""


def _table_from(text: str) -> OuiTable:
    return OuiTable.from_entries(parse_manuf(text))


def test_blob_holds_every_entry_of_the_registry() -> None:
    entries = parse_manuf(manuf_path().read_text("utf-8"))
    table = decode_oui_blob(encode_oui_blob(entries))
    assert table.entries() == entries and len(table) == len(entries)


def test_blob_lookups_by_block_size() -> None:
    table = _table_from(MANUF)
    assert table.lookup("00:e0:fc:01:02:03").registrant == "Huawei Technologies Co.,Ltd"
    hik = table.lookup("70:b3:d5:f2:a1:23")
    assert (hik.block, hik.prefix, hik.registrant) == ("MA-S", "70:B3:D5:F2:A", "Hangzhou Hikvision Digital "
                                                       "Technology Co.,Ltd.")
    assert table.lookup("a0:bb:3e:51:00:00").block == "MA-M"
    assert table.lookup("70:b3:d5:00:00:01").block == "MA-L"  # outside the MA-S block: the 24-bit entry
    assert table.lookup("00:11:22:33:44:55").registrant is None
    assert table.is_split(0x70B3D5) and table.is_split(0xA0BB3E) and not table.is_split(0x00E0FC)
    assert table.prefixes_of({"Huawei Technologies Co.,Ltd", "Messi & Paoloni"}) == 2


def test_empty_registry_gives_an_empty_table() -> None:
    table = _table_from("")
    assert len(table) == 0 and table.lookup("00:e0:fc:01:02:03").registrant is None


@pytest.mark.parametrize("damage", [
    lambda b: b[:-7],  # truncated
    lambda b: b[:20],  # truncated inside the header
    lambda b: b"VSOUI\x00\x00\x09" + b[8:],  # another blob version
    lambda b: b"\x80\x05 a pickle of old" + b[16:],  # a foreign file
    lambda b: b"",
])
def test_damaged_or_foreign_blob_is_refused(damage) -> None:  # type: ignore[no-untyped-def]
    blob = encode_oui_blob(parse_manuf(MANUF))
    with pytest.raises(OuiDataError):
        decode_oui_blob(damage(blob))


def _write_manuf(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_changed_registry_file_is_reparsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, data, manuf = tmp_path / "cache", tmp_path / "data", tmp_path / "manuf"
    _write_manuf(manuf, MANUF, 1_000_000_000)
    monkeypatch.setenv("VENDORSCOPE_CACHE_DIR", str(cache))
    assert load_oui_table(data, manuf).lookup("00:e0:fc:01:02:03").registrant == "Huawei Technologies Co.,Ltd"
    assert len(list(cache.glob("oui-*.bin"))) == 1
    _write_manuf(manuf, MANUF.replace("Huawei Technologies", "Renamed Company"), 2_000_000_000)
    assert load_oui_table(data, manuf).lookup("00:e0:fc:01:02:03").registrant == "Renamed Company Co.,Ltd"
    assert len(list(cache.glob("oui-*.bin"))) == 2


def test_damaged_cached_blob_is_rebuilt_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    manuf = tmp_path / "manuf"
    _write_manuf(manuf, MANUF, 1_000_000_000)
    load_oui_table(tmp_path / "data", manuf)
    (blob,) = (tmp_path / "cache").glob("oui-*.bin")
    for damaged in (blob.read_bytes()[:100], b"garbage", b""):
        blob.write_bytes(damaged)
        assert load_oui_table(tmp_path / "data", manuf).lookup("a0:bb:3e:51:00:00").registrant == "Messi & Paoloni"
        decode_oui_blob(blob.read_bytes())  # rewritten whole


def test_cached_blob_counts_builds(tmp_path: Path) -> None:
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"ok:42"

    def decode(data: bytes) -> int:
        if not data.startswith(b"ok:"):
            raise ValueError("foreign")
        return int(data[3:])

    assert cached_blob("t", "k1", build, decode, tmp_path) == 42 and len(builds) == 1
    assert cached_blob("t", "k1", build, decode, tmp_path) == 42 and len(builds) == 1  # read back
    (tmp_path / "t-k1.bin").write_bytes(b"\x00foreign")
    assert cached_blob("t", "k1", build, decode, tmp_path) == 42 and len(builds) == 2
    assert cached_blob("t", "k2", build, decode, tmp_path) == 42 and len(builds) == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_cache_dir_still_works(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert cached_blob("t", "k", lambda: b"7", int, ro) == 7
        assert not list(ro.iterdir())
    finally:
        ro.chmod(stat.S_IRWXU)


def test_cache_dir_that_cannot_exist_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Works for root too: a cache "directory" below a regular file can never be created.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert cached_blob("t", "k", lambda: b"7", int, blocker / "cache") == 7
    manuf = tmp_path / "manuf"
    _write_manuf(manuf, MANUF, 1_000_000_000)
    monkeypatch.setenv("VENDORSCOPE_CACHE_DIR", str(blocker / "cache"))
    assert load_oui_table(tmp_path / "data", manuf).lookup("00:e0:fc:00:00:01").block == "MA-L"


def test_cache_dir_follows_xdg_and_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VENDORSCOPE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "vendorscope"
    monkeypatch.setenv("VENDORSCOPE_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def _rule(rule_id: str, pattern: str) -> object:
    from vendorscope.identify.rules import Rule

    return Rule(id=rule_id, kinds=("http.server",), pattern=pattern, vendor="huawei", confidence=0.9)


def test_changed_rule_data_recompiles_the_database(tmp_path: Path) -> None:
    from vendorscope.identify.matcher import CompiledMatcher, hyperscan

    if hyperscan is None:
        pytest.skip("hyperscan wheels exist for x86_64 only")
    first = CompiledMatcher([_rule("a", r"HuaweiServer/\d+")], cache_dir=tmp_path)  # type: ignore[list-item]
    first.compile_all()
    assert len(list(tmp_path.glob("hs-*.db"))) == 1
    assert first.match("http.server", "HuaweiServer/2") and not first.match("http.server", "VRP-Web/1")
    again = CompiledMatcher([_rule("a", r"HuaweiServer/\d+")], cache_dir=tmp_path)  # type: ignore[list-item]
    again.compile_all()
    assert len(list(tmp_path.glob("hs-*.db"))) == 1 and again.match("http.server", "HuaweiServer/2")
    changed = CompiledMatcher([_rule("a", r"VRP-Web/\d+")], cache_dir=tmp_path)  # type: ignore[list-item]
    changed.compile_all()
    assert len(list(tmp_path.glob("hs-*.db"))) == 2  # another pattern, another key: compiled anew
    assert changed.match("http.server", "VRP-Web/1") and not changed.match("http.server", "HuaweiServer/2")


def test_foreign_database_file_is_recompiled(tmp_path: Path) -> None:
    from vendorscope.identify.matcher import CompiledMatcher, hyperscan

    if hyperscan is None:
        pytest.skip("hyperscan wheels exist for x86_64 only")
    CompiledMatcher([_rule("a", r"HuaweiServer/\d+")], cache_dir=tmp_path).compile_all()  # type: ignore[list-item]
    (path,) = tmp_path.glob("hs-*.db")
    CompiledMatcher([_rule("b", r"VRP-Web/\d+")], cache_dir=tmp_path / "other").compile_all()  # type: ignore[list-item]
    (other,) = (tmp_path / "other").glob("hs-*.db")
    for foreign in (other.read_bytes(), other.read_bytes()[:50], b"\x00" * 64):
        path.write_bytes(foreign)
        matcher = CompiledMatcher([_rule("a", r"HuaweiServer/\d+")], cache_dir=tmp_path)  # type: ignore[list-item]
        assert matcher.match("http.server", "HuaweiServer/2"), "a foreign database is never used"


def test_databases_load_on_first_use_of_their_kind(tmp_path: Path) -> None:
    from vendorscope.identify.matcher import CompiledMatcher, hyperscan
    from vendorscope.identify.rules import Rule

    if hyperscan is None:
        pytest.skip("hyperscan wheels exist for x86_64 only")
    rules = [_rule("a", r"HuaweiServer/\d+"),
             Rule(id="b", kinds=("ssh.banner",), pattern=r"HUAWEI", vendor="huawei", confidence=0.9)]
    matcher = CompiledMatcher(rules, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert not list(tmp_path.glob("hs-*.db")) and matcher.kinds() == {"http.server", "ssh.banner"}
    assert [m.rule.id for m in matcher.match("ssh.banner", "SSH-2.0-HUAWEI-1.5")] == ["b"]
    assert len(list(tmp_path.glob("hs-*.db"))) == 1  # only the kind that was matched
    assert matcher.match("snmp.sysdescr", "HUAWEI") == []  # a kind without rules loads nothing
    assert [m.rule.id for m in matcher.match("http.server", "HuaweiServer/9")] == ["a"]
    assert len(list(tmp_path.glob("hs-*.db"))) == 2


def _pcap_devices(cache: Path) -> str:
    import subprocess
    import sys

    from vendorscope.lab.capture import DEMO_PATH

    src = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-m", "vendorscope", "pcap", "--no-db", "--format", "jsonl", str(DEMO_PATH)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": src, "VENDORSCOPE_CACHE_DIR": str(cache)})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-500:]
    return done.stdout


def test_pcap_gives_the_same_devices_cold_warm_damaged_and_unwritable(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = _pcap_devices(cache)
    assert cold.count("\n") > 5 and "huawei" in cold
    names = sorted(p.name for p in cache.iterdir())
    assert any(n.startswith("oui-") for n in names) and any(n.startswith("hs-") for n in names)
    assert any(n.startswith("rules-") for n in names)
    assert _pcap_devices(cache) == cold  # warm: everything read back
    for entry in cache.iterdir():
        entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 3])  # every entry truncated
    assert _pcap_devices(cache) == cold
    assert sorted(p.name for p in cache.iterdir()) == names  # rebuilt in place
    blocker = tmp_path / "file"
    blocker.write_text("a cache directory cannot be made below a file")
    assert _pcap_devices(blocker / "cache") == cold


def test_foreign_rules_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from vendorscope.identify.rules import load_rules

    monkeypatch.setenv("VENDORSCOPE_CACHE_DIR", str(tmp_path))
    rules = load_rules()
    (entry,) = tmp_path.glob("rules-*.pickle")
    for foreign in ({"rules": 860}, [("too", "short")], rules[:3]):  # readable pickles of something else
        entry.write_bytes(pickle.dumps(foreign))
        assert load_rules() == rules
    assert load_rules() == rules and pickle.loads(entry.read_bytes())[0][0] == rules[0].id  # rewritten
