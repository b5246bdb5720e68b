"""Line streaming: boundaries across chunks, terminators, compression, undecodable bytes."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest
import zstandard

from pipelines.lib.blocks import IncompleteSourceError
from pipelines.lib.reader import (
    EXCERPT_BYTES,
    INVALID_UTF8,
    LineReader,
    ReadMark,
    iter_line_batches,
    nonblank_lines,
    too_long,
)


def _read(path, **kwargs) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]], int]:
    """(line number, text) of the lines passed on, (line number, reason, excerpt) of the rejected ones, blanks."""
    good: list[tuple[int, str]] = []
    bad: list[tuple[int, str, str]] = []
    blank = 0
    for batch in iter_line_batches(str(path), **kwargs):
        data = batch.lines.to_pydict()
        good += [(n, raw.rstrip("\r\n")) for n, raw in zip(data["source_line"], data["raw"], strict=True)]
        bad += batch.rejected
        blank += batch.blank
    return good, bad, blank


def _lines(path, **kwargs) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    good, bad, _ = _read(path, **kwargs)
    return good, [(n, excerpt) for n, _, excerpt in bad]


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 1 << 20])
def test_lines_are_numbered_across_chunk_boundaries(tmp_path, chunk_bytes):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"alpha\n\nbeta\r\ngamma-without-newline")
    good, bad, blank = _read(path, chunk_bytes=chunk_bytes)
    assert good == [(1, "alpha"), (3, "beta"), (4, "gamma-without-newline")]
    assert (bad, blank) == ([], 1)  # the blank line is counted, not passed on


def test_final_newline_does_not_add_a_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nb\n")
    assert _lines(path)[0] == [(1, "a"), (2, "b")]


def test_empty_file_has_no_lines(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert _lines(path) == ([], [])


def test_invalid_utf8_only_affects_its_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"ok1\nbad\xff\xfe\nok2\n")
    good, bad = _lines(path)
    assert good == [(1, "ok1"), (3, "ok2")]
    assert [n for n, _ in bad] == [2]
    assert INVALID_UTF8 == "not valid UTF-8"


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".zst", lambda b: zstandard.ZstdCompressor().compress(b))],
)
def test_compression_is_recognised_by_its_magic_bytes(tmp_path, suffix, compress):
    path = tmp_path / f"x.jsonl{suffix}"
    payload = b"".join(b'{"n": %d}\n' % i for i in range(10_000))
    path.write_bytes(compress(payload))
    good, _ = _lines(path, chunk_bytes=4096)
    assert len(good) == 10_000
    assert good[-1] == (10_000, '{"n": 9999}')


def test_nonblank_lines_are_whole_and_skip_blanks(tmp_path):
    path = tmp_path / "x.jsonl"
    long = "x" * (5 * 1024 * 1024)
    path.write_text(f"\n\n  \nfirst\n{long}\n")
    assert list(nonblank_lines(str(path))) == ["first", long]


_COMPRESSORS = {
    "gzip": gzip.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}
_PAYLOAD = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i % 97)) for i in range(5_000))


@pytest.mark.parametrize("codec", sorted(_COMPRESSORS))
def test_content_decides_the_compression_not_the_name(tmp_path, codec):
    path = tmp_path / "logs.jsonl"  # compressed content under a plain name
    path.write_bytes(_COMPRESSORS[codec](_PAYLOAD))
    good, bad = _lines(path, chunk_bytes=4096)
    assert (len(good), bad) == (5_000, [])


def test_plain_text_under_a_compressed_name_is_read_as_text(tmp_path):
    path = tmp_path / "logs.jsonl.gz"
    path.write_bytes(_PAYLOAD)
    assert len(_lines(path)[0]) == 5_000


@pytest.mark.parametrize("codec", sorted(_COMPRESSORS))
@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_compressed_file_fails_instead_of_reading_short(tmp_path, codec, keep):
    whole = _COMPRESSORS[codec](_PAYLOAD)
    path = tmp_path / f"logs.jsonl.{codec}"
    path.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(IncompleteSourceError, match=r"truncated|ends early|corrupt"):
        _lines(path, chunk_bytes=4096)


def test_zstd_files_of_several_frames_are_read_whole(tmp_path):
    path = tmp_path / "logs.jsonl.zst"
    frames = [zstandard.ZstdCompressor().compress(_PAYLOAD[i : i + 10_000]) for i in range(0, len(_PAYLOAD), 10_000)]
    path.write_bytes(b"".join(frames))
    good, _ = _lines(path, chunk_bytes=1000)
    assert len(good) == 5_000 and good[-1][0] == 5_000


def test_a_byte_order_mark_is_not_content(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n')
    assert _lines(path, chunk_bytes=2) == ([(1, '{"a": 1}'), (2, '{"b": 2}')], [])


@pytest.mark.parametrize("chunk_bytes", [3, 10, 25, 4096])
def test_a_line_past_the_limit_is_rejected_with_its_length_and_an_excerpt(tmp_path, chunk_bytes):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"short\n" + b"{" + b"y" * 99 + b"\nafter\n" + b"z" * 50)
    good, bad, _ = _read(path, chunk_bytes=chunk_bytes, max_line_bytes=40)
    assert good == [(1, "short"), (3, "after")]
    assert [(n, reason) for n, reason, _ in bad] == [
        (2, too_long(101, 40)),  # the newline counts
        (4, too_long(50, 40)),  # the last line, without a newline
    ]
    assert bad[0][2].startswith("{yyy") and bad[1][2].startswith("zzz")


def test_a_huge_line_is_never_held_whole(tmp_path):
    """An excerpt and a count are kept past the limit, so memory does not grow with the line."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"[" * 3_000_000 + b"\nok\n")
    good, bad, _ = _read(path, chunk_bytes=65_536, max_line_bytes=100_000)
    assert good == [(2, "ok")]
    assert bad[0][:2] == (1, too_long(3_000_001, 100_000)) and len(bad[0][2]) <= EXCERPT_BYTES


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"a", [(1, "a")]), (b"a\n", [(1, "a")]), (b"\xef\xbb\xbf", []), (b"\xef\xbb\xbfa", [(1, "a")]), (b"\n", [])],
)
def test_files_shorter_than_a_byte_order_mark(tmp_path, content, expected):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    assert _lines(path, chunk_bytes=1)[0] == expected


def _resume(path, mark=None, **kwargs) -> tuple[list[tuple[int, str]], LineReader]:
    reader = LineReader(str(path), resume=mark, **kwargs)
    lines = []
    for batch in reader:
        data = batch.lines.to_pydict()
        lines += [(n, raw.rstrip("\n")) for n, raw in zip(data["source_line"], data["raw"], strict=True)]
    return lines, reader


def test_a_grown_file_is_read_from_where_the_last_read_ended(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nb\n")
    lines, first = _resume(path)
    assert lines == [(1, "a"), (2, "b")] and first.mark == ReadMark(4, 2, 2, first.mark.head, first.mark.tail)
    path.write_bytes(b"a\nb\nc\n")
    lines, second = _resume(path, first.mark, chunk_bytes=1)
    assert (lines, second.first_line) == ([(3, "c")], 3)
    assert (second.mark.offset, second.mark.lines) == (6, 3)
    assert second.mark == _resume(path)[1].mark  # the same mark as a read from the start


def test_a_touched_file_reads_nothing_again(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nb\n")
    mark = _resume(path)[1].mark
    lines, again = _resume(path, mark)
    assert lines == [] and again.mark == mark


def test_a_rewritten_file_is_read_from_its_start(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nb\n" + b"x" * 100_000 + b"\n")
    mark = _resume(path)[1].mark
    for changed in (b"A\nb\n" + b"x" * 100_000 + b"\nc\n", b"a\nb\n" + b"x" * 99_999 + b"y\nc\n", b"a\n"):
        path.write_bytes(changed)
        lines, reader = _resume(path, mark)
        assert reader.first_line == 1 and lines[0][0] == 1


def test_a_line_read_without_its_newline_is_read_again_whole(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\nb")
    mark = _resume(path)[1].mark
    assert (mark.offset, mark.lines, mark.through_line) == (2, 1, 2)
    path.write_bytes(b"a\nbc\nd\n")
    assert _resume(path, mark)[0] == [(2, "bc"), (3, "d")]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_an_appended_compressed_file_resumes_too(tmp_path, codec):
    path = tmp_path / "x.jsonl.gz"
    first = b"".join(b"line %d\n" % i for i in range(20_000))
    path.write_bytes(_COMPRESSORS[codec](first))
    mark = _resume(path)[1].mark
    path.write_bytes(_COMPRESSORS[codec](first) + _COMPRESSORS[codec](b"new 1\nnew 2\n"))
    lines, reader = _resume(path, mark, chunk_bytes=4096)
    assert lines == [(20_001, "new 1"), (20_002, "new 2")] and reader.mark.lines == 20_002
