"""How much the CLI says on stderr: -1 quiet (-q), 0 normal, 1+ verbose (-v)."""

from __future__ import annotations

_level = 0


def set_level(level: int) -> None:
    global _level
    _level = level


def level() -> int:
    return _level


def quiet() -> bool:
    return _level < 0


def verbose() -> bool:
    return _level > 0
