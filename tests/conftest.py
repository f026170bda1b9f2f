from __future__ import annotations

import os

# Tables are checked by their text: give Rich a wide terminal before any console exists,
# so that no cell is folded across lines whatever the machine's terminal is.
os.environ["COLUMNS"] = "200"

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests are deterministic (the same examples on every run, in CI too) and not timed:
# the machines are shared and noisy. HYPOTHESIS_PROFILE=explore searches anew each run.
settings.register_profile("vendorscope", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vendorscope"))

from vendorscope.identify.engine import Engine, default_engine  # noqa: E402


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()
