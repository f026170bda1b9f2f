"""A pytest fixture factory for the lab of emulated devices (import it from any test module).

    from lab_fixture import lab              # module-scoped, one device per profile
    from lab_fixture import lab_fixture
    big_lab = lab_fixture(count=200)         # module-scoped, 200 devices

Each lab gets a random loopback network of its own, so labs of parallel
pytest-xdist workers (and a `vendorscope lab up` demo on 127.77.0.0/16) do not
collide; if the network is taken after all, another is tried.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vendorscope.lab import Lab, LabError

ATTEMPTS = 8
# `vendorscope lab up` uses 127.77.0.0/16 from its first addresses; tests keep clear of 127.77.0.x.
_SMALL_THIRD_OCTETS = range(16, 251)
_LARGE_SECOND_OCTETS = range(80, 120)


def _rng() -> random.Random:
    # Seeded from the worker id as well as the OS, so workers started together still differ.
    return random.Random(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:{os.getpid()}:{os.urandom(8).hex()}")


def random_base(count: int | None = None, rng: random.Random | None = None) -> str:
    """A loopback network with room for `count` devices that tests are unlikely to share."""
    rng = rng or _rng()
    if count is None or count <= 250:
        return f"127.77.{rng.choice(_SMALL_THIRD_OCTETS)}.0/24"
    return f"127.{rng.choice(_LARGE_SECOND_OCTETS)}.0.0/16"


def start_lab(count: int | None = None, **kwargs: Any) -> Lab:
    """Start a lab on a free random base (kwargs go to `Lab`)."""
    rng = _rng()
    last: LabError | None = None
    for _ in range(ATTEMPTS):
        lab = Lab(count=count, base=random_base(count, rng), **kwargs)
        try:
            return lab.start()
        except LabError as exc:
            if "already in use" not in str(exc):
                raise
            last = exc
    raise LabError(f"no free loopback network after {ATTEMPTS} attempts: {last}")


def lab_fixture(count: int | None = None, scope: str = "module", **kwargs: Any) -> Callable[..., Any]:
    """A fixture yielding a running `Lab`, stopped when its scope ends."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _lab() -> Iterator[Lab]:
        lab = start_lab(count, **kwargs)
        try:
            yield lab
        finally:
            lab.stop()

    return _lab


lab = lab_fixture()
