"""The cold store: a local directory or any fsspec URL, holding one Parquet file and one
manifest per instrument, raw table and week.

Layout (hive-style, so pyarrow or DuckDB can read the store as one dataset; files starting
with ``_`` are not data to them):

    <store>/<kind>/exchange=<e>/market=<m>/symbol=<s>/week=<YYYY-MM-DD>.parquet
    <store>/<kind>/exchange=<e>/market=<m>/symbol=<s>/_week=<YYYY-MM-DD>.manifest.json

A file is written under a temporary name and renamed into place, so a reader never sees half
of one. Every read verifies what it read against an expected manifest and raises
``ColdFileError`` (one line: which file, what is wrong) when it does not match.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from sniper.errors import UserError
from sniper.instruments import Instrument

MANIFEST_FORMAT = "sniper-cold/1"
READ_CHUNK_BYTES = 8 * 2**20


class ColdFileError(UserError):
    """A cold file is missing, unreadable, or not the file its manifest describes."""


@dataclass(frozen=True)
class Manifest:
    """What a cold file holds, written beside it and into raw.cold_weeks."""

    kind: str
    exchange: str
    market: str
    symbol: str
    week_start_date: date
    row_count: int
    first_ts: datetime
    last_ts: datetime
    sha256: str
    file_bytes: int

    def to_json(self) -> str:
        fields = asdict(self)
        fields.update(
            week_start_date=self.week_start_date.isoformat(),
            first_ts=self.first_ts.isoformat(),
            last_ts=self.last_ts.isoformat(),
        )
        return json.dumps({"format": MANIFEST_FORMAT, **fields}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        fields = json.loads(text)
        if fields.pop("format", None) != MANIFEST_FORMAT:
            raise ValueError(f"not a {MANIFEST_FORMAT} manifest")
        fields.update(
            week_start_date=date.fromisoformat(fields["week_start_date"]),
            first_ts=datetime.fromisoformat(fields["first_ts"]),
            last_ts=datetime.fromisoformat(fields["last_ts"]),
        )
        return cls(**fields)


def relative_path(kind: str, instrument: Instrument, week: date) -> str:
    """Where a week's file lives under the store's root.

    >>> relative_path("trades", Instrument("binance", "um", "BTCUSDT"), date(2024, 6, 3))
    'trades/exchange=binance/market=um/symbol=BTCUSDT/week=2024-06-03.parquet'
    """
    return (f"{kind}/exchange={instrument.exchange}/market={instrument.market}/symbol={instrument.symbol}"
            f"/week={week.isoformat()}.parquet")


def manifest_path(path: str) -> str:
    """The manifest beside a data file.

    >>> manifest_path("trades/exchange=b/market=um/symbol=X/week=2024-06-03.parquet")
    'trades/exchange=b/market=um/symbol=X/_week=2024-06-03.manifest.json'
    """
    folder, _, name = path.rpartition("/")
    return f"{folder}/_{name.removesuffix('.parquet')}.manifest.json"


class HashingWriter:
    """A write-only file that passes bytes through and keeps their sha256 and count."""

    def __init__(self, sink: BinaryIO):
        self._sink = sink
        self._hash = hashlib.sha256()
        self.bytes_written = 0
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data)
        self._hash.update(view)
        self.bytes_written += view.nbytes
        return self._sink.write(view)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        self.closed = True

    def tell(self) -> int:
        return self.bytes_written

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class ColdStore:
    """One store, by URL: paths are relative to its root."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as error:
            raise UserError(f"cold store {url!r} cannot be opened: {error}") from None

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def full_path(self, path: str) -> str:
        return f"{self.root.rstrip('/')}/{path}"

    def local_path(self, path: str) -> str | None:
        """The file's path on this machine, when the store is a local directory."""
        return self.full_path(path) if self.is_local else None

    @contextmanager
    def writing(self, path: str) -> Iterator[HashingWriter]:
        """Write a file under a temporary name; renamed into place only if the block succeeds."""
        final = self.full_path(path)
        temporary = f"{final}.tmp-{uuid.uuid4().hex[:8]}"
        self.fs.makedirs(final.rpartition("/")[0], exist_ok=True)
        try:
            with self.fs.open(temporary, "wb") as sink:
                writer = HashingWriter(sink)
                yield writer
            self.fs.mv(temporary, final)
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)

    def write_manifest(self, path: str, manifest: Manifest) -> None:
        final = self.full_path(manifest_path(path))
        temporary = f"{final}.tmp-{uuid.uuid4().hex[:8]}"
        with self.fs.open(temporary, "w") as handle:
            handle.write(manifest.to_json())
        self.fs.mv(temporary, final)

    def read_manifest(self, path: str) -> Manifest:
        where = self.full_path(manifest_path(path))
        try:
            with self.fs.open(where, "r") as handle:
                return Manifest.from_json(handle.read())
        except FileNotFoundError:
            raise ColdFileError(f"cold manifest missing: {where}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ColdFileError(f"cold manifest unreadable: {where} ({error})") from None

    def open(self, path: str) -> BinaryIO:
        where = self.full_path(path)
        try:
            return self.fs.open(where, "rb")
        except FileNotFoundError:
            raise ColdFileError(f"cold file missing: {where}") from None

    def sha256(self, path: str) -> tuple[str, int]:
        """The file's sha256 and size, read back from the store."""
        digest, size = hashlib.sha256(), 0
        with self.open(path) as handle:
            while chunk := handle.read(READ_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def check(self, path: str, expected: Manifest) -> None:
        """The file is there, its manifest agrees with ``expected``, and its bytes hash to it."""
        where = self.full_path(path)
        stored = self.read_manifest(path)
        if stored != expected:
            differing = [name for name in asdict(expected) if getattr(stored, name) != getattr(expected, name)]
            raise ColdFileError(f"cold manifest of {where} disagrees with the ledger on {', '.join(differing)}")
        sha, size = self.sha256(path)
        if size != expected.file_bytes or sha != expected.sha256:
            raise ColdFileError(
                f"cold file corrupted: {where} has {size:,} bytes with sha256 {sha[:12]}..., "
                f"its manifest says {expected.file_bytes:,} bytes with sha256 {expected.sha256[:12]}..."
            )

    def size(self, path: str) -> int:
        return int(self.fs.size(self.full_path(path)))
