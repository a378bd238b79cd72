"""`sniper ingest binance`: daily public archives, verified, loaded, ledgered, day by day.

Each day is independent: a missing day (404) or a bad archive is reported and recorded
in raw.load_failures, and the other days still load. Days already in the ledger are
not even downloaded again, so a re-run after any failure or crash loads only the rest.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import psycopg

from sniper.db.copy import ensure_week_partitions
from sniper.ingest.binance_csv import EXCHANGE, ArchiveContentError, ArchiveContext, iter_batches
from sniper.ingest.config import BinanceRequest
from sniper.ingest.fetch import ArchiveSource, DirSource, FetchError, HttpSource, MissingFile
from sniper.ingest.layout import ArchiveName, ChecksumFormatError, parse_checksum
from sniper.ingest.ledger import loaded_sources, record_failure
from sniper.ingest.progress import FileProgress, NoProgress
from sniper.ingest.writer import PARTITIONED_TABLES, ChecksumConflict, LoadResult, SourceFile, load_file

SOURCE_KIND = "binance"
Status = Literal["loaded", "already loaded", "missing", "failed"]


class DayFailure(Exception):
    """This day's archive cannot be loaded; nothing of it was."""


@dataclass(frozen=True)
class DayOutcome:
    day: date
    source: str
    status: Status
    message: str = ""
    result: LoadResult | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "already loaded")


def archive_source(request: BinanceRequest) -> ArchiveSource:
    if request.from_dir is not None:
        return DirSource(request.from_dir)
    return HttpSource(request.base_url, request.retry)


def archive_names(request: BinanceRequest) -> list[ArchiveName]:
    return [
        ArchiveName(request.market, request.kind, request.symbol, day, request.interval) for day in request.days
    ]


def ingest_binance(
    conn: psycopg.Connection,
    request: BinanceRequest,
    *,
    progress: FileProgress | None = None,
    source: ArchiveSource | None = None,
) -> list[DayOutcome]:
    """Load every day of the request that the ledger does not hold yet; one outcome per day."""
    progress = progress or NoProgress()
    source = source or archive_source(request)
    names = archive_names(request)
    done = loaded_sources(conn, SOURCE_KIND, [name.relative_path for name in names])
    outcomes = []
    for name in names:
        path = name.relative_path
        if path in done:
            outcomes.append(DayOutcome(name.day, path, "already loaded"))
            continue
        try:
            result = ingest_day(conn, request, source, name, progress)
        except MissingFile as error:
            outcome = DayOutcome(name.day, path, "missing", f"no archive for {name.day}: {error}")
        except (DayFailure, FetchError, ChecksumConflict) as error:
            outcome = DayOutcome(name.day, path, "failed", f"{name.zip_name}: {error}")
        else:
            status: Status = "already loaded" if result.already_loaded else "loaded"
            outcome = DayOutcome(name.day, path, status, result=result)
        if not outcome.ok:
            record_failure(conn, SOURCE_KIND, path, outcome.message)
        outcomes.append(outcome)
    return outcomes


def ingest_day(
    conn: psycopg.Connection,
    request: BinanceRequest,
    source: ArchiveSource,
    name: ArchiveName,
    progress: FileProgress,
) -> LoadResult:
    """Fetch one archive, verify it against its .CHECKSUM, then load it in one transaction."""
    progress.start(name.zip_name)
    with tempfile.TemporaryDirectory(prefix="sniper-ingest-") as workdir:
        fetched = source.fetch(name.relative_path, Path(workdir), progress.advance_bytes)
        if fetched.size == 0:
            raise DayFailure("empty file (0 bytes); not loaded")
        expected = _published_checksum(source, name)
        if fetched.sha256 != expected:
            raise DayFailure(
                f"checksum mismatch: .CHECKSUM says {expected[:16]}..., the file is {fetched.sha256[:16]}...; "
                "not loaded"
            )
        try:
            archive = zipfile.ZipFile(fetched.path)
        except zipfile.BadZipFile:
            raise DayFailure("not a zip archive; not loaded") from None
        with archive:
            member = _single_csv(archive, name)
            context = ArchiveContext(request.market, request.kind, request.symbol, name.day, request.interval)
            ready = _prepare_partitions(conn, context.table, name.day)
            file = SourceFile(
                source_kind=SOURCE_KIND,
                source=name.relative_path,
                checksum=fetched.sha256,
                data_kind=request.data_kind,
                exchange=EXCHANGE,
                market=request.market,
                symbol=request.symbol,
            )
            try:
                with archive.open(member) as raw:
                    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
                    batches = iter_batches(stream, context, request.chunk_rows)
                    return load_file(conn, file, batches, on_rows=progress.add_rows, partitions_ready=ready)
            except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                raise DayFailure(f"corrupt archive ({error}); nothing loaded") from None
            except ArchiveContentError as error:
                raise DayFailure(f"{error}; nothing loaded") from None


def _published_checksum(source: ArchiveSource, name: ArchiveName) -> str:
    try:
        text = source.read_text(name.checksum_path)
    except MissingFile:
        raise DayFailure(f"no .CHECKSUM published at {source.describe(name.checksum_path)}; not loaded") from None
    try:
        return parse_checksum(text, name.zip_name)
    except ChecksumFormatError as error:
        raise DayFailure(f"{error}; not loaded") from None


def _single_csv(archive: zipfile.ZipFile, name: ArchiveName) -> zipfile.ZipInfo:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) == 1 and members[0].filename == name.csv_name:
        return members[0]
    if len(members) == 1:
        found = members[0].filename
        found_symbol = found.split("-", 1)[0]
        if found_symbol != name.symbol:
            raise DayFailure(f"archive holds {found} (symbol {found_symbol}), expected {name.csv_name}; not loaded")
        raise DayFailure(f"archive holds {found}, expected {name.csv_name}; not loaded")
    listed = ", ".join(info.filename for info in members[:5]) or "nothing"
    raise DayFailure(f"archive holds {len(members)} files ({listed}), expected only {name.csv_name}; not loaded")


def _prepare_partitions(conn: psycopg.Connection, table: str, day: date) -> dict[str, tuple[datetime, datetime]]:
    """Create the day's partitions in a short transaction of their own, before the file's."""
    if table not in PARTITIONED_TABLES:
        return {}
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    last = start + timedelta(days=1) - timedelta(microseconds=1)
    with conn.transaction():
        ensure_week_partitions(conn, [table], start, last)
    return {table: (start, last)}
