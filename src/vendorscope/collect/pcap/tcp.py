"""Just enough TCP reassembly to read the first message of each direction of a connection.

Each direction is its own stream, keyed by the 12 bytes (IPv4) or 36 bytes
(IPv6) of addresses and ports as they stand in the packet. A stream is
classified by its first bytes (:func:`first_message.classify`); uninteresting ones
are marked done at once, so bulk transfers cost a dictionary lookup per
packet. Memory is bounded three ways: bytes per stream (the message's own
cap), segments per stream, and the number of streams remembered (the oldest
are dropped; a dropped stream's pending bytes are delivered first).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice

from vendorscope.collect.pcap.first_message import MIN_CLASSIFY, FirstMessage, classify

MAX_STREAMS = 65_536
MAX_SEGMENTS = 24  # data segments looked at per direction: "the first packets of each flow"
MAX_OUT_OF_ORDER = 8
_WRAP = 1 << 32
_HALF = 1 << 31


class Stream:
    """One direction of one connection, while its first message is being read."""

    __slots__ = ("sport", "dport", "next_seq", "data", "parser", "frame", "ts", "l2src", "src", "segments",
                 "pending", "cut")

    def __init__(self, src: str, sport: int, dport: int, frame: int, ts: float, l2src: bytes | None) -> None:
        self.src, self.sport, self.dport = src, sport, dport
        self.frame, self.ts, self.l2src = frame, ts, l2src
        self.next_seq: int | None = None
        self.data = bytearray()
        self.parser: FirstMessage | None = None
        self.segments = 0
        self.pending: dict[int, bytes] = {}
        self.cut = False  # a segment was shorter than sent (snaplen): the message may be incomplete


Deliver = Callable[[Stream], None]


class Reassembler:
    """Feeds segments into streams and calls ``deliver`` once per interesting first message."""

    def __init__(self, deliver: Deliver, max_streams: int = MAX_STREAMS) -> None:
        self.deliver = deliver
        self.max_streams = max_streams
        # key → Stream while reading, None once done (kept so later packets are skipped cheaply)
        self.streams: dict[bytes, Stream | None] = {}

    def syn(self, key: bytes, seq: int, src: str, sport: int, dport: int, frame: int, ts: float,
            l2src: bytes | None) -> None:
        """A SYN fixes where the stream's data starts (a retransmitted SYN restarts it)."""
        old = self.streams.get(key)
        if old is not None and old.data:
            # The same addresses and ports again: the earlier connection ended unseen (its FIN lost);
            # what it said is delivered, not dropped.
            self._finish(key, old)
        stream = Stream(src, sport, dport, frame, ts, l2src)
        stream.next_seq = (seq + 1) % _WRAP
        self._put(key, stream)

    def segment(self, key: bytes, seq: int, payload: bytes, cut: bool, fin: bool, src: str, sport: int,
                dport: int, frame: int, ts: float, l2src: bytes | None) -> None:
        """A data segment of a stream not known to be done."""
        stream = self.streams.get(key)
        if stream is None:
            # First data seen without a SYN (capture started mid-connection): start here.
            stream = Stream(src, sport, dport, frame, ts, l2src)
            self._put(key, stream)
        if stream.next_seq is None or not stream.data and not stream.pending:
            if stream.next_seq is None:
                stream.next_seq = seq
            stream.frame, stream.ts, stream.l2src = frame, ts, l2src
        stream.segments += 1
        stream.cut |= cut
        self._add(stream, seq, payload)
        if stream.parser is None and len(stream.data) >= MIN_CLASSIFY:
            stream.parser = classify(bytes(stream.data[:64]), sport, dport)
            if stream.parser is None:
                self.streams[key] = None
                return
        parser = stream.parser
        if parser is None:
            if fin or cut or stream.segments >= MAX_SEGMENTS:
                self._finish(key, stream)
            return
        if (fin or cut or stream.segments >= MAX_SEGMENTS or len(stream.data) >= parser.max_bytes
                or len(stream.pending) > MAX_OUT_OF_ORDER or parser.complete(bytes(stream.data))):
            self._finish(key, stream)

    def _add(self, stream: Stream, seq: int, payload: bytes) -> None:
        assert stream.next_seq is not None
        ahead = (seq - stream.next_seq) % _WRAP
        if ahead >= _HALF:  # starts before what we have: a retransmission, maybe with new bytes
            overlap = _WRAP - ahead
            if overlap >= len(payload):
                return
            payload, seq = payload[overlap:], stream.next_seq
            ahead = 0
        if ahead:
            if len(stream.pending) <= MAX_OUT_OF_ORDER:
                stream.pending[seq] = payload
            return
        stream.data += payload
        stream.next_seq = (seq + len(payload)) % _WRAP
        while stream.pending:
            nxt = stream.pending.pop(stream.next_seq, None)
            if nxt is None:
                break
            stream.data += nxt
            stream.next_seq = (stream.next_seq + len(nxt)) % _WRAP

    def end(self, key: bytes) -> None:
        """FIN or RST without data: deliver what was read."""
        stream = self.streams.get(key)
        if stream is not None:
            self._finish(key, stream)

    def _finish(self, key: bytes, stream: Stream) -> None:
        self.streams[key] = None
        if stream.data and stream.parser is None:
            stream.parser = classify(bytes(stream.data[:64]), stream.sport, stream.dport)
        if stream.parser is not None and stream.data:
            self.deliver(stream)

    def _put(self, key: bytes, stream: Stream) -> None:
        streams = self.streams
        if key in streams:
            del streams[key]  # re-insert at the end: eviction drops the least recently started
        streams[key] = stream
        if len(streams) > self.max_streams:
            for old in list(islice(streams, max(1, self.max_streams // 8))):
                pending = streams.pop(old)
                if pending is not None and pending.data:
                    self._finish(old, pending)
                    streams.pop(old, None)

    def flush(self) -> None:
        """End of capture: deliver every message still being read."""
        for key, stream in list(self.streams.items()):
            if stream is not None:
                self._finish(key, stream)
        self.streams.clear()
