"""The bytes of a file at any fsspec URL, decompressed by what its first bytes say, verified to the end.

gzip, zstd, bzip2 and xz are recognised by their magic bytes (a gzip file named `.jsonl` is read as gzip; a `.gz`
name on plain text is read as text), and every compressed stream is read to its verified end (gzip's CRC and
length, zstd frame completion, bzip2 and xz end markers): a truncated file raises `IncompleteSourceError` instead
of passing for a shorter one. `pipelines.lib.reader` cuts these blocks into lines.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import typing
from collections.abc import Iterator
from typing import BinaryIO

import fsspec
import zstandard

_COMPRESSED_READ = 4 * 1024 * 1024
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)


class IncompleteSourceError(OSError):
    """A compressed stream that ends before its format says it does (a truncated or cut-off file)."""


def compression_of(head: bytes) -> str | None:
    """The compression whose magic bytes start `head`, or None for uncompressed content."""
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def is_compressed(url: str, **storage_options: typing.Any) -> bool:
    """The file's first bytes are a compression's magic (as `iter_blocks` tells), whatever its name says."""
    with fsspec.open(url, "rb", **storage_options) as raw:
        return compression_of(raw.read(8)) is not None


def _zstd_blocks(raw: BinaryIO, size: int) -> Iterator[bytes]:
    """Decompressed blocks of about `size` bytes of a zstd stream of one or more frames; raises
    IncompleteSourceError when the input ends inside a frame."""
    decompressor = zstandard.ZstdDecompressor()
    frame = decompressor.decompressobj()
    pending: list[bytes] = []
    held = 0
    in_frame = False
    while data := raw.read(_COMPRESSED_READ):
        while data:
            out = frame.decompress(data)
            in_frame = not frame.eof
            data = frame.unused_data if frame.eof else b""
            if frame.eof:
                frame = decompressor.decompressobj()
            if out:
                pending.append(out)
                held += len(out)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if in_frame:
        raise IncompleteSourceError("the zstd stream ends inside a frame (the file is truncated)")
    if pending:
        yield b"".join(pending)


def _stream_blocks(handle: BinaryIO, size: int, codec: str) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    except EOFError as err:  # gzip, bz2 and xz: the end-of-stream marker never came
        raise IncompleteSourceError(f"the {codec} stream ends early (the file is truncated): {err}") from err
    except (gzip.BadGzipFile, lzma.LZMAError) as err:
        raise IncompleteSourceError(f"the {codec} stream is corrupt: {err}") from err


def iter_blocks(url: str, size: int, start: int = 0, **storage_options: typing.Any) -> Iterator[bytes]:
    """The file's content from content offset `start` on, in blocks of about `size` bytes, decompressed by what
    its first bytes say. An uncompressed seekable file is read from `start`; a compressed one is decompressed
    from its beginning and what precedes `start` is dropped."""
    with fsspec.open(url, "rb", **storage_options) as raw:
        yield from blocks_of(raw, url, size, start)


def blocks_of(raw: BinaryIO, url: str, size: int, start: int = 0) -> Iterator[bytes]:
    """`iter_blocks` of an open file (`raw`, the bytes of `url`): an object's bytes fetched already, say."""
    head = raw.read(8)
    seekable = raw.seekable()
    if seekable:
        raw.seek(0)
    codec = compression_of(head)
    if codec is None and seekable:
        raw.seek(start)
        yield from iter(lambda: raw.read(size), b"")
        return
    if codec is not None and not seekable:
        raise IncompleteSourceError(f"{url}: a compressed stream that cannot be re-read after its header")
    yield from _skip(_decoded(raw, head, codec, size), start)


def _decoded(raw: BinaryIO, head: bytes, codec: str | None, size: int) -> Iterator[bytes]:
    if codec is None:  # a stream that cannot seek back over the peeked header
        yield head
        yield from iter(lambda: raw.read(size), b"")
    elif codec == "zstd":
        yield from _zstd_blocks(raw, size)
    else:
        openers = {"gzip": lambda f: gzip.GzipFile(fileobj=f), "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}
        with openers[codec](raw) as handle:
            yield from _stream_blocks(handle, size, codec)


def _skip(blocks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """`blocks` without their first `count` bytes."""
    for block in blocks:
        if count >= len(block):
            count -= len(block)
            continue
        yield block[count:] if count else block
        count = 0


def read_range(url: str, start: int, length: int, **storage_options: typing.Any) -> bytes:
    """`length` content bytes from offset `start` (fewer when the content ends first)."""
    out = bytearray()
    for block in iter_blocks(url, max(length, 1 << 16), start, **storage_options):
        out += block[: length - len(out)]
        if len(out) >= length:
            break
    return bytes(out)
