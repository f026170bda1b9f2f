"""The pcap reader's fast paths change nothing: the same captures give exactly the observations
and the skip report recorded before they were written (tests/fixtures/pcap_baseline.json).

The captures are the bundled demo and lab captures in both file formats and every link type,
plus copies damaged in fixed places (overwritten blocks, cut records, a cut end), so the paths
where the fast loop hands over to the careful reader are covered too. Regenerate the fixture
only on purpose, with the code whose results it should hold:
``python tests/test_pcap_speedpaths.py --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.collect.pcap import SkipReport, read_observations, reader
from vendorscope.collect.pcap.extract import Extractor
from vendorscope.collect.pcap.reader import read_frames
from vendorscope.lab.capture import DEMO_PATH, generate
from vendorscope.model import Observation

FIXTURE = Path(__file__).parent / "fixtures" / "pcap_baseline.json"
SIZE = 3_000_000


def _damage(data: bytes, every: int, width: int, fill: int) -> bytes:
    """Overwrite ``width`` bytes every ``every`` bytes (after the file head) with ``fill``."""
    out = bytearray(data)
    for pos in range(4096, len(out) - width, every):
        out[pos : pos + width] = bytes([fill]) * width
    return bytes(out)


def build_cases(workdir: Path) -> dict[str, Path]:
    """name → capture file, all deterministic."""
    cases: dict[str, Path] = {"demo": DEMO_PATH}
    for fmt in ("pcapng", "pcap"):
        for link in ("ethernet", "sll", "sll2", "raw"):
            path = workdir / f"{link}.{fmt}"
            generate(path, size=SIZE, fmt=fmt, link=link)
            cases[f"{link}.{fmt}"] = path
        clean = (workdir / f"ethernet.{fmt}").read_bytes()
        for name, data in {
            "holes": _damage(clean, 37_003, 16, 0xFF),
            "zeros": _damage(clean, 51_001, 3_000, 0x00),
            "cut-end": clean[: len(clean) - 777],
            "cut-middle": clean[: len(clean) // 2] + clean[len(clean) // 2 + 1_001 :],
        }.items():
            path = workdir / f"{name}.{fmt}"
            path.write_bytes(data)
            cases[f"{name}.{fmt}"] = path
    return cases


def _observation(o: Observation) -> dict[str, Any]:
    return {"kind": o.kind, "value": o.value, "keys": o.keys.as_dict(),
            "seen_at": o.seen_at.isoformat() if o.seen_at else None, "context": o.context}


def result(path: Path, max_distinct: int = 100_000) -> dict[str, Any]:
    report = SkipReport()
    observations = [_observation(o) for o in read_observations(path, report=report, name="capture",
                                                               max_distinct=max_distinct)]
    places = {reason: [[p.frame, p.offset] for p in places] for reason, places in report.places.items()}
    return {"observations": observations, "counts": dict(report.counts), "places": places,
            "frames": report.frames, "bytes": report.bytes}


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_cases(tmp_path_factory.mktemp("speedpaths"))


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_every_case_has_a_baseline(cases: dict[str, Path], baseline: dict[str, Any]) -> None:
    assert set(cases) | {"ethernet.pcapng@small-table"} == set(baseline)


@pytest.mark.parametrize("name", [
    "demo",
    *(f"{link}.{fmt}" for fmt in ("pcapng", "pcap") for link in ("ethernet", "sll", "sll2", "raw")),
    *(f"{damage}.{fmt}" for fmt in ("pcapng", "pcap") for damage in ("holes", "zeros", "cut-end", "cut-middle")),
])
def test_same_observations_and_report_as_before(name: str, cases: dict[str, Path], baseline: dict[str, Any]) -> None:
    got = _normal(result(cases[name]))
    want = baseline[name]
    assert got["counts"] == want["counts"]
    assert got["places"] == want["places"]
    assert (got["frames"], got["bytes"]) == (want["frames"], want["bytes"])
    assert got["observations"] == want["observations"]  # in the same order, with the same counts and frames


def test_small_table_drains_at_the_same_frames(cases: dict[str, Path], baseline: dict[str, Any]) -> None:
    """A table that fills up is emitted at the same places as before (order and counts show it)."""
    assert _normal(result(cases["ethernet.pcapng"], max_distinct=20)) == baseline["ethernet.pcapng@small-table"]


@pytest.mark.parametrize("chunk", [4_096, 65_536])
@pytest.mark.parametrize("name", ["ethernet.pcapng", "ethernet.pcap", "holes.pcapng", "zeros.pcapng", "zeros.pcap",
                                  "cut-middle.pcap"])
def test_buffer_size_changes_nothing(name: str, chunk: int, cases: dict[str, Path], baseline: dict[str, Any],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs end at every refill of the reader's buffer: small buffers put many records across the seams."""
    monkeypatch.setattr(reader, "CHUNK", chunk)
    assert _normal(result(cases[name])) == baseline[name]


def _frame_by_frame(path: Path, max_distinct: int = 100_000) -> dict[str, Any]:
    """What the extractor makes of the reader's frames one by one, without runs: the reference
    the walkers must agree with (``Extractor._frame`` holds the same fast paths, on a frame)."""
    report = SkipReport()
    report.files += 1
    extractor = Extractor("capture", report, max_distinct)
    observations: list[Any] = []
    frame = 0
    for frame, ts, link_type, data, orig in read_frames(str(path), report, "capture"):  # noqa: B007
        if extractor._frame(frame, ts, link_type, data, orig) and not frame & 0x3FF \
                and len(extractor.seen) + len(extractor.macs) >= max_distinct:
            observations.extend(extractor.drain())
    report.frames += frame
    extractor.tcp.flush()
    observations.extend(extractor.drain())
    return {"observations": [_observation(o) for o in observations], "counts": dict(report.counts),
            "places": {r: [[p.frame, p.offset] for p in ps] for r, ps in report.places.items()},
            "frames": report.frames, "bytes": report.bytes}


@pytest.mark.parametrize("name", ["ethernet.pcapng", "ethernet.pcap", "sll.pcapng", "zeros.pcap", "holes.pcapng"])
def test_walkers_agree_with_frame_by_frame(name: str, cases: dict[str, Path]) -> None:
    assert _normal(result(cases[name])) == _normal(_frame_by_frame(cases[name]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_walkers_agree_on_damaged_captures(data: st.DataObject, cases: dict[str, Path],
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """Bytes overwritten anywhere (headers, lengths, packet fields): the runs read what frame-by-frame reads."""
    name = data.draw(st.sampled_from(["ethernet.pcapng", "ethernet.pcap"]))
    raw = bytearray(cases[name].read_bytes()[:300_000])
    for _ in range(data.draw(st.integers(1, 12))):
        pos = data.draw(st.integers(256, len(raw) - 1))  # the file head stays: not-a-capture is tested elsewhere
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        raw[pos : pos + len(chunk)] = chunk
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(bytes(raw))
    assert _normal(result(path)) == _normal(_frame_by_frame(path))


def _write() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp))
        out = {name: _normal(result(path)) for name, path in cases.items()}
        out["ethernet.pcapng@small-table"] = _normal(result(cases["ethernet.pcapng"], max_distinct=20))
    FIXTURE.write_text(json.dumps(out, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE} ({len(out)} cases)")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        _write()
