"""Line streaming: boundaries across chunks, terminators, compression, undecodable bytes."""

from __future__ import annotations

import gzip

import pytest
import zstandard

from pipelines.lib.reader import INVALID_UTF8, iter_line_batches, nonblank_lines


def _lines(path, **kwargs) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    good: list[tuple[int, str]] = []
    bad: list[tuple[int, str]] = []
    for batch in iter_line_batches(str(path), **kwargs):
        data = batch.lines.to_pydict()
        good += [(n, raw.rstrip("\r\n")) for n, raw in zip(data["source_line"], data["raw"], strict=True)]
        bad += batch.undecodable
    return good, bad


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 1 << 20])
def test_lines_are_numbered_across_chunk_boundaries(tmp_path, chunk_bytes):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"alpha\n\nbeta\r\ngamma-without-newline")
    good, bad = _lines(path, chunk_bytes=chunk_bytes)
    assert good == [(1, "alpha"), (2, ""), (3, "beta"), (4, "gamma-without-newline")]
    assert bad == []


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
def test_compression_is_inferred_from_the_extension(tmp_path, suffix, compress):
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
