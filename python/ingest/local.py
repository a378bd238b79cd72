"""`sniper ingest recording|options`: local files, each loaded whole or not at all.

A file is known to the ledger by its name and sha256: loading it again is a no-op,
and a different file under a loaded name is refused rather than mixed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import psycopg

from sniper.ingest.config import FileRequest
from sniper.ingest.files import CORRUPT_STREAM_ERRORS, FileProblem, check_file, open_text
from sniper.ingest.lines import Batch
from sniper.ingest.ledger import record_failure
from sniper.ingest.progress import FileProgress, NoProgress
from sniper.ingest.recording import (
    EXCHANGE,
    RecordingParser,
    RecordingProblem,
    iter_recording_batches,
    shape_of_file,
)
from sniper.ingest.tardis import OptionsProblem, day_of_file, iter_options_batches
from sniper.ingest.writer import ChecksumConflict, LoadResult, SourceFile, load_file

RECORDING_KIND = "recording"
OPTIONS_KIND = "tardis_options_chain"
FileStatus = Literal["loaded", "already loaded", "failed"]


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: FileStatus
    message: str = ""
    result: LoadResult | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass(frozen=True)
class _Plan:
    """How to load one file: its ledger identity and how to turn its text into batches."""

    source: SourceFile
    batches: Callable[[TextIO], Iterable[Batch]]


def _ingest_files(
    conn: psycopg.Connection,
    files: list[Path],
    source_kind: str,
    plan: Callable[[Path, str], _Plan],
    progress: FileProgress,
) -> list[FileOutcome]:
    outcomes = []
    for path in files:
        try:
            size, checksum = check_file(path)
            progress.start(path.name, size)
            chosen = plan(path, checksum)
            with open_text(path, progress.advance_bytes) as stream:
                result = load_file(conn, chosen.source, chosen.batches(stream), on_rows=progress.add_rows)
        except CORRUPT_STREAM_ERRORS as error:
            outcome = FileOutcome(path, "failed", f"{path.name}: corrupt gzip stream ({error}); nothing loaded")
        except (FileProblem, RecordingProblem, OptionsProblem, ChecksumConflict) as error:
            message = str(error) if str(error).startswith((str(path), path.name)) else f"{path.name}: {error}"
            outcome = FileOutcome(path, "failed", message)
        else:
            outcome = FileOutcome(path, "already loaded" if result.already_loaded else "loaded", result=result)
        if not outcome.ok:
            record_failure(conn, source_kind, path.name, outcome.message)
        outcomes.append(outcome)
    return outcomes


def ingest_recordings(
    conn: psycopg.Connection, request: FileRequest, *, progress: FileProgress | None = None
) -> list[FileOutcome]:
    """Load recorded combined streams: trades to raw.trades, bookTicker to raw.l1_quotes."""

    def plan(path: Path, checksum: str) -> _Plan:
        shape = shape_of_file(path, open_text, request.market, request.symbol)
        parser = RecordingParser(shape.market, shape.symbol)
        source = SourceFile(
            source_kind=RECORDING_KIND,
            source=path.name,
            checksum=checksum,
            data_kind="trade+bookTicker",
            exchange=EXCHANGE,
            market=shape.market,
            symbol=shape.symbol,
        )
        return _Plan(source, lambda stream: iter_recording_batches(stream, parser, request.chunk_rows))

    return _ingest_files(conn, request.files, RECORDING_KIND, plan, progress or NoProgress())


def ingest_options(
    conn: psycopg.Connection, request: FileRequest, *, progress: FileProgress | None = None
) -> list[FileOutcome]:
    """Load Tardis options_chain CSVs (gzip or plain) into raw.options_chain."""

    def plan(path: Path, checksum: str) -> _Plan:
        day = day_of_file(path)
        source = SourceFile(source_kind=OPTIONS_KIND, source=path.name, checksum=checksum, data_kind="options_chain")
        return _Plan(source, lambda stream: iter_options_batches(stream, day, request.chunk_rows))

    return _ingest_files(conn, request.files, OPTIONS_KIND, plan, progress or NoProgress())
