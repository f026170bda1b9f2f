from __future__ import annotations

import os

# Tables are checked by their text: give Rich a wide terminal before any console exists,
# so that no cell is folded across lines whatever the machine's terminal is.
os.environ["COLUMNS"] = "200"

import pytest  # noqa: E402

from vendorscope.identify.engine import Engine, default_engine  # noqa: E402


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()
