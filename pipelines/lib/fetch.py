"""Lines of a local file picked by number, in one forward pass (the bulk path's lines to redo and the raw text of
its rejected records): the file is never read twice and a line past the reader's limit is never held whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from pipelines.lib.reader import MAX_LINE_BYTES

_NEWLINE = ord("\n")


class PastTheEndError(ValueError):
    """A line asked for is past the end of the file (it changed since it was counted)."""


@dataclass
class LineFetcher:
    """Lines of a local file picked by number, in one forward pass: a buffer of `block_bytes` moves on through
    the file and is never read twice (asking for a line before the last one fetched starts again from the top).
    A line past `max_line_bytes` is never held whole: its first bytes and its length."""

    path: str
    max_line_bytes: int = MAX_LINE_BYTES
    block_bytes: int = 8 * 1024 * 1024
    buffer: bytes = b""  # the file from the start of line `first` on
    ends: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # newlines in `buffer`
    first: int = 1
    read_to: int = 0  # file offset just past `buffer`
    eof: bool = False

    def fetch(self, numbers: list[int]) -> list[tuple[int, bytes, int]]:
        """(number, bytes with terminator, full length) of each line of `numbers` (sorted)."""
        if numbers and numbers[0] < self.first:
            self.buffer, self.ends, self.first, self.read_to, self.eof = b"", self.ends[:0], 1, 0, False
        with open(self.path, "rb") as handle:
            handle.seek(self.read_to)
            return [self._line(handle, number) for number in numbers]

    def _line(self, handle: BinaryIO, number: int) -> tuple[int, bytes, int]:
        while True:
            index = number - self.first
            start = 0 if index == 0 else int(self.ends[index - 1]) + 1 if index <= len(self.ends) else -1
            if index < len(self.ends):
                end = int(self.ends[index]) + 1
                return number, self.buffer[start : min(end, start + self.max_line_bytes + 1)], end - start
            if self.eof:
                if index == len(self.ends) and start < len(self.buffer):  # a last line without its newline
                    end = len(self.buffer)
                    return number, self.buffer[start : min(end, start + self.max_line_bytes + 1)], end - start
                raise PastTheEndError(f"line {number} is past the end of the file")
            if (long := self._advance(handle, number)) is not None:
                return long

    def _advance(self, handle: BinaryIO, number: int) -> tuple[int, bytes, int] | None:
        """Drop the whole lines before line `number` and read on. A line longer than the limit is read to its
        end and passed over; when it is line `number`, its start and length are returned."""
        whole = min(number - self.first, len(self.ends))
        cut = 0 if whole == 0 else int(self.ends[whole - 1]) + 1
        self.first += whole
        tail = self.buffer[cut:]
        if len(tail) > self.max_line_bytes:  # line `first` is past the limit
            long = self._long_line(handle, tail)
            return long if long[0] == number else None
        block = handle.read(self.block_bytes)
        self.read_to += len(block)
        self.eof = not block
        self.buffer = tail + block
        self.ends = np.flatnonzero(np.frombuffer(self.buffer, dtype=np.uint8) == _NEWLINE)

    def _long_line(self, handle: BinaryIO, head: bytes) -> tuple[int, bytes, int]:
        """Read on to the end of line `first`, which starts with `head` and is past the limit; the buffer then
        starts after it. Returns the line's number, its first bytes and its length."""
        length = len(head)
        while True:
            block = handle.read(self.block_bytes)
            self.read_to += len(block)
            end = block.find(b"\n")
            if not block or end >= 0:
                break
            length += len(block)
        rest = block[end + 1 :] if block else b""
        length += end + 1 if block else 0
        self.eof = not block
        line = (self.first, head[: self.max_line_bytes + 1], length)
        self.first += 1
        self.buffer = rest
        self.ends = np.flatnonzero(np.frombuffer(rest, dtype=np.uint8) == _NEWLINE)
        return line
