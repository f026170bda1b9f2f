"""The audit log: one JSON line per probe (time, target, port, probe, outcome, duration).

Whoever authorised the scan can later see exactly what was sent where and
when, including the targets that were refused for being outside the scope.
Credentials never appear: SNMP probes name the credential by position.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol


class AuditSink(Protocol):
    def record(
        self,
        *,
        target: str,
        port: int | None,
        probe: str,
        outcome: str,
        duration: float,
        transport: str = "tcp",
        probe_id: str | None = None,
        detail: str | None = None,
    ) -> None: ...


class AuditLog:
    """Appends JSON lines to a file; each line is flushed so a crash loses nothing."""

    def __init__(self, stream: IO[str], path: str | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.path = path
        self.lines = 0

    @classmethod
    def open(cls, path: str | Path) -> AuditLog:
        path = Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("a", encoding="utf-8"), str(path))

    def record(
        self,
        *,
        target: str,
        port: int | None,
        probe: str,
        outcome: str,
        duration: float,
        transport: str = "tcp",
        probe_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "target": target,
            "port": port,
            "transport": transport,
            "probe": probe,
            "outcome": outcome,
            "duration": round(duration, 6),
        }
        if probe_id is not None:
            entry["probe_id"] = probe_id
        if detail:
            entry["detail"] = detail[:200]
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()
            self.lines += 1

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MemoryAudit:
    """Keeps entries in a list: for tests and callers that log elsewhere."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, **entry: Any) -> None:
        self.entries.append(entry)
