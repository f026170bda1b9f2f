"""What can go wrong reading a capture, and the report of what was skipped.

Decoders raise :class:`DecodeError` for input they cannot parse; the extractor
catches it, counts it in a :class:`SkipReport` and goes on with the next frame.
Only a file that is not a capture at all stops a file (:class:`NotACaptureError`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vendorscope.evidence.record import DecodeError  # raised by the protocol modules

# How many places to remember per reason: enough to find them in Wireshark,
# bounded so that a capture full of garbage does not fill memory.
MAX_PLACES_PER_REASON = 3
MAX_REASONS = 200

__all__ = ["MAX_PLACES_PER_REASON", "MAX_REASONS", "DecodeError", "NotACaptureError", "Place", "SkipReport"]


class NotACaptureError(Exception):
    """The file is not a pcap or pcapng capture (compressed or not)."""


@dataclass(frozen=True, slots=True)
class Place:
    file: str
    frame: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        where = f"frame {self.frame:,}" if self.frame is not None else f"byte {self.offset:,}"
        return f"{where} of {self.file}"


@dataclass
class SkipReport:
    """Counts of what was skipped and the first places of each reason.

    ``frames`` and ``bytes`` count what was read, so a reader of the report
    can tell "3 skipped out of 2 million" from "3 skipped out of 4".
    """

    counts: Counter[str] = field(default_factory=Counter)
    places: dict[str, list[Place]] = field(default_factory=dict)
    frames: int = 0
    bytes: int = 0
    files: int = 0

    def add(self, reason: str, file: str, frame: int | None = None, offset: int | None = None) -> None:
        if reason not in self.counts and len(self.counts) >= MAX_REASONS:
            reason = "other problems"
        self.counts[reason] += 1
        places = self.places.setdefault(reason, [])
        if len(places) < MAX_PLACES_PER_REASON:
            places.append(Place(file, frame, offset))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return self.total > 0

    def lines(self) -> list[str]:
        """One line per reason, most frequent first."""
        out = []
        for reason, count in self.counts.most_common():
            places = ", ".join(str(p) for p in self.places.get(reason, ()))
            more = " …" if count > len(self.places.get(reason, ())) else ""
            out.append(f"{count:,} × {reason} at {places}{more}")
        return out

    def summary(self) -> str:
        """``3 frames skipped: truncated LLDP TLV at frame 1,204 of a.pcap, …``"""
        if not self:
            return f"{self.frames:,} frames read, nothing skipped"
        first = self.counts.most_common(1)[0][0]
        places = self.places.get(first, [])
        where = f" at {places[0]}" if places else ""
        rest = " …" if self.total > 1 else ""
        noun = "problem" if self.total == 1 else "problems"
        return f"{self.total:,} {noun} skipped in {self.frames:,} frames: {first}{where}{rest}"
