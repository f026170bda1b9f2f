"""Just enough TCP reassembly to read the first message of each direction of a connection
(and, for HTTP and RTSP, the messages after it).

Each direction is its own stream, keyed by the 12 bytes (IPv4) or 36 bytes
(IPv6) of addresses and ports as they stand in the packet. A stream is
classified by its first bytes (:func:`first_message.classify`); uninteresting ones
are marked done at once, so bulk transfers cost a dictionary lookup per
packet. Memory is bounded three ways: bytes per stream (the message's own
cap), segments per stream, and the number of streams remembered (the oldest
are dropped; a dropped stream's pending bytes are delivered first).

HTTP and RTSP (the protocols whose :class:`~.first_message.FirstMessage` has a ``length``) are
read message after message: each whole message is cut off and delivered, and the direction is read
on, up to :data:`MAX_MESSAGES` messages, each classified afresh by its own first bytes (what follows
must again be a message we read, or the direction is done). A message whose end cannot be told (no
length, longer than its bound) ends the direction as before, so a large download costs what it did.
Each request's method and target are queued per connection (at most :data:`MAX_MESSAGES` targets of
at most 512 characters, less than the 16 KiB a request direction may hold itself; pipelined requests
queue up) and each answer takes the oldest (an informational ``1xx`` answer takes none), so an
answer's body is read with the path that produced it; an answer whose request the capture lacks
gets none.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice

from vendorscope.collect.pcap.first_message import (
    MIN_CLASSIFY,
    REQUEST,
    RESPONSE,
    FirstMessage,
    classify,
    undecided,
)
from vendorscope.evidence.http import request_target

MAX_STREAMS = 65_536
MAX_SEGMENTS = 24  # data segments looked at per message: "the first packets of each flow"
# Messages read per direction of an HTTP/RTSP connection: the probe asks at most 16 paths on one
# keep-alive connection (first page and 2 redirects, favicon, ONVIF, 2 UPnP, 9 deep vendor endpoints).
# Each message costs a parse (about 15 µs): a capture of nothing but keep-alive polling costs up to
# this many parses per connection, where it cost one.
MAX_MESSAGES = 24
# A message after the first is classified once it has this many bytes: enough for "HTTP/1.", "RTSP/1."
# or "OPTIONS " (a first message's fewer bytes come from a server that spoke first: a banner).
NEXT_CLASSIFY = 8
# Bytes a direction is classified by: a request line is told from its end (" HTTP/1.1"), and a
# request for a long path (a query string) has its end far past the first 64 bytes.
CLASSIFY_WINDOW = 2048
MAX_OUT_OF_ORDER = 8
_WRAP = 1 << 32
_HALF = 1 << 31


class Stream:
    """One direction of one connection, while its messages are being read."""

    __slots__ = ("sport", "dport", "next_seq", "data", "parser", "frame", "ts", "l2src", "src", "segments",
                 "pending", "cut", "messages", "queued")

    def __init__(self, src: str, sport: int, dport: int, frame: int, ts: float, l2src: bytes | None) -> None:
        self.src, self.sport, self.dport = src, sport, dport
        self.frame, self.ts, self.l2src = frame, ts, l2src
        self.next_seq: int | None = None
        self.data = bytearray()
        self.parser: FirstMessage | None = None
        self.segments = 0
        self.pending: dict[int, bytes] = {}
        self.cut = False  # a segment was shorter than sent (snaplen): the message may be incomplete
        self.messages = 0  # whole messages delivered so far (HTTP, RTSP)
        self.queued = False  # the request being read was queued as asked when its head arrived


# (stream, the message's bytes, for an answer the target of the request it answers)
Deliver = Callable[[Stream, bytes, "str | None"], None]
Asked = tuple[str, str]  # a request's method and target


def reverse_key(key: bytes) -> bytes:
    """The key of the other direction: addresses and ports swapped."""
    n = (len(key) - 4) // 2
    return key[n : 2 * n] + key[:n] + key[2 * n + 2 : 2 * n + 4] + key[2 * n : 2 * n + 2]


class Reassembler:
    """Feeds segments into streams and calls ``deliver`` once per interesting message."""

    def __init__(self, deliver: Deliver, max_streams: int = MAX_STREAMS) -> None:
        self.deliver = deliver
        self.max_streams = max_streams
        # key → Stream while reading, None once done (kept so later packets are skipped cheaply)
        self.streams: dict[bytes, Stream | None] = {}
        # request direction's key → requests not answered yet (bounded like ``streams``)
        self.asked: dict[bytes, deque[Asked]] = {}

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
        self.asked.pop(key, None)  # a new connection: the old one's unanswered requests are not its
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
        self._read(key, stream, fin or cut, frame, ts, l2src)

    def _read(self, key: bytes, stream: Stream, ending: bool, frame: int, ts: float, l2src: bytes | None) -> None:
        """Deliver what the stream's bytes hold now; mark the stream done when nothing more is read from it."""
        while True:
            if stream.parser is None and len(stream.data) >= (MIN_CLASSIFY if not stream.messages else NEXT_CLASSIFY):
                window = bytes(stream.data[:CLASSIFY_WINDOW])
                stream.parser = classify(window, stream.sport, stream.dport)
                if stream.parser is None and not undecided(window):
                    self.streams[key] = None
                    return
            parser = stream.parser
            if parser is None:
                if ending or stream.segments >= MAX_SEGMENTS:
                    self._finish(key, stream)
                return
            followed = False
            if parser.length is not None:
                length = parser.length(bytes(stream.data), self._method_asked(key, parser))
                if 0 < length <= len(stream.data):
                    self._next_message(key, stream, length)
                    if self.streams.get(key) is not stream:
                        return  # done: MAX_MESSAGES read
                    if not stream.data:
                        if ending:
                            self.streams[key] = None
                        return  # the next message starts with a later segment (which sets its frame)
                    stream.frame, stream.ts, stream.l2src = frame, ts, l2src  # it started in this one
                    continue
                if length > 0 and parser.role == REQUEST and not stream.queued:
                    # The head is here, the body is not: the request is asked now. A server may answer
                    # before the body (a 401, a 100 Continue) and that answer is this request's.
                    stream.queued = True
                    self._queue(key, bytes(stream.data))
                # A length not reached yet is waited for (``complete`` may be true before the end of a
                # chunked body); a message whose end cannot be told is read as a first message was.
                followed = length >= 0
            if (ending or stream.segments >= MAX_SEGMENTS or len(stream.data) >= parser.max_bytes
                    or len(stream.pending) > MAX_OUT_OF_ORDER or not followed and parser.complete(bytes(stream.data))):
                self._finish(key, stream)
            return

    def _method_asked(self, key: bytes, parser: FirstMessage) -> str | None:
        """For an answer: the method of the oldest request not answered yet (a HEAD's answer has no body)."""
        if parser.role != RESPONSE:
            return None
        queue = self.asked.get(reverse_key(key))
        return queue[0][0] if queue else None

    def _next_message(self, key: bytes, stream: Stream, length: int) -> None:
        """Cut the whole message at the start of the stream's bytes off and deliver it; the rest is the next."""
        message = bytes(stream.data[:length])
        del stream.data[:length]
        stream.messages += 1
        stream.segments = 0
        self._deliver(key, stream, message)
        stream.parser = None  # the next message is classified by its own first bytes
        if stream.messages >= MAX_MESSAGES:
            self.streams[key] = None

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
            stream.parser = classify(bytes(stream.data[:CLASSIFY_WINDOW]), stream.sport, stream.dport)
        if stream.parser is not None and stream.data:
            self._deliver(key, stream, bytes(stream.data))

    def _deliver(self, key: bytes, stream: Stream, message: bytes) -> None:
        """Deliver one message: a request queues what it asked, an answer takes the oldest request's target."""
        assert stream.parser is not None
        role, path = stream.parser.role, None
        if role == REQUEST:
            if not stream.queued:
                self._queue(key, message)
            stream.queued = False
        elif role == RESPONSE and not _informational(message):
            queue = self.asked.get(reverse_key(key))
            if queue:
                path = queue.popleft()[1]
        self.deliver(stream, message, path)

    def _queue(self, key: bytes, request: bytes) -> None:
        """Queue what a request asks, for the answer to take."""
        asked = request_target(request)
        if asked is None:
            return
        queue = self.asked.get(key)
        if queue is None:
            queue = self.asked[key] = deque(maxlen=MAX_MESSAGES)
            if len(self.asked) > self.max_streams:
                for old in list(islice(self.asked, max(1, self.max_streams // 8))):
                    del self.asked[old]
        queue.append(asked)

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


def _informational(message: bytes) -> bool:
    """A ``1xx`` answer (``HTTP/1.1 100 Continue``): the final answer to the same request follows."""
    return message[8:10] == b" 1" and message[9:12].isdigit()
