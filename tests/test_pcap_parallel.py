"""A large capture read by several processes gives what one process gives."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from vendorscope.collect.pcap import SkipReport, read_observations
from vendorscope.collect.pcap.parallel import plan_parts
from vendorscope.identify.engine import Engine
from vendorscope.lab.capture import generate
from vendorscope.pipeline import to_assets


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("par") / "big.pcapng"
    generate(path, size=3_000_000)
    return path


def first_frames(path: Path, jobs: int, report: SkipReport | None = None) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for obs in read_observations(path, report=report, jobs=jobs, parallel_min_bytes=0):
        key = (obs.kind, obs.value)
        found[key] = min(found.get(key, 1 << 62), obs.context["frame"])
    return found


@pytest.mark.parametrize("jobs", [2, 3])
def test_parts_find_the_same_evidence_in_the_same_frames(capture: Path, jobs: int) -> None:
    plan = plan_parts(str(capture), jobs, min_bytes=0)
    assert plan is not None and len(plan.parts) == jobs
    assert plan.parts[0][1] == plan.head_end and plan.parts[-1][2] == capture.stat().st_size
    assert all(a[2] == b[1] for a, b in zip(plan.parts, plan.parts[1:], strict=False)), "parts are contiguous"
    one, many = SkipReport(), SkipReport()
    assert first_frames(capture, 1, one) == first_frames(capture, jobs, many)
    assert many.frames == one.frames and many.bytes == one.bytes and not many and not one


def test_parts_give_the_same_devices(capture: Path, engine: Engine) -> None:
    def verdicts(jobs: int) -> set[tuple[str | None, str | None]]:
        assets = to_assets(read_observations(capture, jobs=jobs, parallel_min_bytes=0), engine)
        return {(a.verdict.group, a.verdict.product) for a in assets if a.verdict.vendor}

    assert verdicts(2) == verdicts(1)


def test_damage_in_a_later_part_is_reported_with_whole_file_frame_numbers(capture: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pcapng"
    data = bytearray(capture.read_bytes())
    plan = plan_parts(str(capture), 2, min_bytes=0)
    assert plan is not None
    cut = plan.parts[1][1]
    data[cut + 4 : cut + 8] = b"\xff\xff\xff\x7f"  # an impossible block length right after the cut
    damaged.write_bytes(bytes(data))
    one, two = SkipReport(), SkipReport()
    list(read_observations(damaged, report=one))
    list(read_observations(damaged, report=two, jobs=2, parallel_min_bytes=0))
    assert one.total >= 1 and one.frames > 1000
    assert two.lines() == one.lines() and two.frames == one.frames


def test_what_is_read_by_one_process(capture: Path, tmp_path: Path) -> None:
    assert plan_parts(str(capture), 2) is None, "small files are not worth a second process"
    assert plan_parts(str(capture), 1, min_bytes=0) is None
    packed = tmp_path / "big.pcapng.gz"
    with capture.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert plan_parts(str(packed), 2, min_bytes=0) is None, "a compressed stream cannot be cut"
    classic = tmp_path / "big.pcap"
    generate(classic, size=200_000, fmt="pcap")
    assert plan_parts(str(classic), 2, min_bytes=0) is None, "classic pcap has no block markers"
