"""Cut a TCP byte stream into CoT events. Pure (no Django).

TAK streams over TCP have no length prefix: an event ends at `</event>`. Packets split events and join them,
and a broken client can send anything between them. The framer keeps what it has not yet framed, hands out
each complete event from its last `<event` start (with the `<?xml …?>` prolog just before it, if any), reports
what came before that start as garbage, and drops a buffer that grows past the size cap without an end tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sitaware.ingest.tak.cot import MAX_EVENT_BYTES

END = b"</event>"
START_RE = re.compile(rb"<event[\s>/]")
PROLOG_RE = re.compile(rb"<\?xml[^>]{0,200}\?>\s*$")


@dataclass(frozen=True)
class Frame:
    """`event` (bytes to parse), `garbage` (bytes that were not an event) or `oversize` (dropped, too long)."""

    kind: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class Framer:
    def __init__(self, max_bytes: int = MAX_EVENT_BYTES):
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        # True while dropping the rest of an oversize event (its tail is not reported as garbage again).
        self.skipping = False

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            end = self.buffer.find(END)
            if end < 0:
                break
            chunk = bytes(self.buffer[: end + len(END)])
            del self.buffer[: end + len(END)]
            if self.skipping:
                self.skipping = False
                continue
            frames.extend(self._split(chunk))
        if len(self.buffer) > self.max_bytes:
            # No end tag within the cap: whatever this is, it is not an event we will take.
            frames.append(Frame("oversize", bytes(self.buffer[:256])))
            self.buffer.clear()
            self.skipping = True
        return frames

    def _split(self, chunk: bytes) -> list[Frame]:
        starts = list(START_RE.finditer(chunk))
        if not starts:
            return [Frame("garbage", chunk)] if chunk.strip() else []
        begin = starts[-1].start()
        prolog = PROLOG_RE.search(chunk, 0, begin)
        if prolog is not None:
            begin = prolog.start()
        out: list[Frame] = []
        if chunk[:begin].strip():
            out.append(Frame("garbage", chunk[:begin]))
        event = chunk[begin:]
        out.append(Frame("oversize", event[:256]) if len(event) > self.max_bytes else Frame("event", event))
        return out
