"""Where the user keeps recog: $VENDORSCOPE_RECOG and the ``rules add-recog`` list.

Apart from :mod:`vendorscope.identify.recog` (and its XML parser) so that every
command can ask whether recog is configured without importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

from vendorscope.identify.oui import data_dir

RECOG_ENV = "VENDORSCOPE_RECOG"


def recog_list_file() -> Path:
    """The persistent list of recog folders (``rules add-recog``), one path a line."""
    return data_dir() / "recog-paths.txt"


def configured_recog_paths() -> list[Path]:
    """$VENDORSCOPE_RECOG (paths separated by os.pathsep), then the folders added with ``rules add-recog``."""
    out: list[Path] = []
    env = os.environ.get(RECOG_ENV, "")
    out += [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    try:
        lines = recog_list_file().read_text("utf-8").splitlines()
    except OSError:
        lines = []
    out += [Path(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    unique = []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            unique.append(p)
    return unique
