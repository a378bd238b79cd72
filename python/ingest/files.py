"""Local input files: checked up front, opened as text whether gzip or plain, bytes counted."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from sniper.ingest.layout import sha256_of

GZIP_MAGIC = b"\x1f\x8b"


class FileProblem(Exception):
    """The file cannot be loaded at all (absent, empty, corrupt); nothing of it was."""


def check_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a loadable file, or a FileProblem saying why it is not."""
    if not path.exists():
        raise FileProblem(f"{path}: no such file")
    if not path.is_file():
        raise FileProblem(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise FileProblem(f"{path}: empty file (0 bytes)")
    return size, sha256_of(path)


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: io.RawIOBase, on_bytes: Callable[[int], None]) -> None:
        self.raw = raw
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        if count:
            self.on_bytes(count)
        return count


@contextmanager
def open_text(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[TextIO]:
    """The file as text lines; gzip is recognised by its magic bytes, not by its name.

    Undecodable bytes become U+FFFD, so such a line is rejected rather than stopping the load.
    """
    with path.open("rb", buffering=0) as raw:
        is_gzip = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        counted = io.BufferedReader(_CountingReader(raw, on_bytes or (lambda _: None)), buffer_size=1 << 20)
        binary = gzip.GzipFile(fileobj=counted, mode="rb") if is_gzip else counted
        with io.TextIOWrapper(binary, encoding="utf-8", errors="replace") as text:
            yield text


# What reading a damaged gzip raises, at any point of the stream.
CORRUPT_STREAM_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
