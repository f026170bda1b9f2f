"""A cache of derived reference data (compiled databases, parsed tables).

Everything here can be rebuilt from the bundled data, so a missing, stale or
damaged entry only costs time: entries are keyed by a hash of their inputs and
written atomically. The cache lives in $VENDORSCOPE_CACHE_DIR, else
$XDG_CACHE_HOME/vendorscope, else ~/.cache/vendorscope.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def default_cache_dir() -> Path:
    env = os.environ.get("VENDORSCOPE_CACHE_DIR")
    return Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vendorscope"


def cache_key(parts: Iterable[bytes | str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:32]


def write_atomically(path: Path, data: bytes) -> None:
    """Write, then rename: a concurrent reader never sees half a file. Errors are ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the rebuild


def cached_pickle(name: str, key: str, build: Callable[[], T], cache_dir: Path | None = None,
                  valid: Callable[[Any], bool] | None = None) -> T:
    """``build()``, or its pickled result from an earlier run with the same key.

    ``valid`` checks what was read back: a readable pickle of something else (a
    foreign file under this name) is rebuilt like a damaged one.
    """
    path = (cache_dir or default_cache_dir()) / f"{name}-{key}.pickle"
    try:
        with path.open("rb") as f:
            value = pickle.load(f)  # noqa: S301 - our own cache, written below
        if valid is None or valid(value):
            return value
    except Exception:  # noqa: BLE001 - a missing or damaged entry is rebuilt
        pass
    value = build()
    write_atomically(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value


def cached_blob(name: str, key: str, build: Callable[[], bytes], decode: Callable[[bytes], T],
                cache_dir: Path | None = None) -> T:
    """``decode(build())``, reading the bytes from an earlier run with the same key when there is one.

    For data whose cached form loads faster than a pickle (one read, no object
    per entry). ``decode`` must raise on bytes it did not expect: a damaged,
    truncated or foreign entry is then rebuilt and rewritten.
    """
    path = (cache_dir or default_cache_dir()) / f"{name}-{key}.bin"
    try:
        return decode(path.read_bytes())
    except Exception:  # noqa: BLE001 - a missing or damaged entry is rebuilt
        pass
    data = build()
    write_atomically(path, data)
    return decode(data)
