"""`sniper ingest binance`: public archives, verified, loaded, ledgered, file by file.

Each file (a day, or a month for fundingRate) is independent: a bad archive or a 404
inside the kind's published range is reported and recorded in raw.load_failures, and
the other files still load. A 404 outside the published range (config.PUBLISHED_RANGES)
is "not published": reported in one line, not a failure. When every requested file
answered 404 and at least one lies inside the range, the archive does not have the
symbol: that is the user's mistake, refused with nothing written. Files already in the
ledger are not even downloaded again, so a re-run after any failure or crash loads only
the rest.
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
from sniper.errors import UserError
from sniper.ingest.archive_kinds import archive_context, iter_batches
from sniper.ingest.binance_csv import EXCHANGE, ArchiveContentError
from sniper.ingest.config import BinanceRequest
from sniper.ingest.fetch import ArchiveSource, DirSource, FetchError, HttpSource, MissingFile
from sniper.ingest.layout import ArchiveName, ChecksumFormatError, parse_checksum
from sniper.ingest.ledger import loaded_sources, record_failure
from sniper.ingest.progress import FileProgress, NoProgress
from sniper.ingest.writer import PARTITIONED_TABLES, ChecksumConflict, LoadResult, SourceFile, load_file

SOURCE_KIND = "binance"
Status = Literal["loaded", "already loaded", "missing", "not published", "failed"]


class DayFailure(Exception):
    """This day's archive cannot be loaded; nothing of it was."""


class ArchiveHasNoSymbol(UserError):
    """Every requested file answered 404, some inside the kind's published range: no such symbol there."""


@dataclass(frozen=True)
class DayOutcome:
    """What became of one file of the request (a day, or a month for a monthly kind)."""

    name: ArchiveName
    status: Status
    message: str = ""
    result: LoadResult | None = None

    @property
    def day(self) -> date:
        return self.name.day

    @property
    def label(self) -> str:
        return self.name.label

    @property
    def source(self) -> str:
        return self.name.relative_path

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "already loaded", "not published")


def archive_source(request: BinanceRequest) -> ArchiveSource:
    if request.from_dir is not None:
        return DirSource(request.from_dir)
    return HttpSource(request.base_url, request.retry)


def archive_names(request: BinanceRequest) -> list[ArchiveName]:
    return [
        ArchiveName(request.market, request.kind, request.symbol, period, request.interval)
        for period in request.periods
    ]


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def ingest_binance(
    conn: psycopg.Connection,
    request: BinanceRequest,
    *,
    progress: FileProgress | None = None,
    source: ArchiveSource | None = None,
    today: date | None = None,
) -> list[DayOutcome]:
    """Load every file of the request that the ledger does not hold yet; one outcome per file.

    ``today`` (UTC) decides where a still-published kind's range ends (yesterday, or last
    month). Raises ArchiveHasNoSymbol, before recording anything, when every requested
    file answered 404 and some of them lie inside the published range.
    """
    progress = progress or NoProgress()
    source = source or archive_source(request)
    today = today or utc_today()
    published = request.published
    names = archive_names(request)
    done = loaded_sources(conn, SOURCE_KIND, [name.relative_path for name in names])
    outcomes = []
    for name in names:
        if name.relative_path in done:
            outcomes.append(DayOutcome(name, "already loaded"))
            continue
        try:
            result = ingest_day(conn, request, source, name, progress)
        except MissingFile as error:
            if published.covers(name.day, today):
                outcome = DayOutcome(name, "missing", f"no archive for {name.label}: {error}")
            else:
                outcome = DayOutcome(name, "not published", published.describe())
        except (DayFailure, FetchError, ChecksumConflict) as error:
            outcome = DayOutcome(name, "failed", f"{name.zip_name}: {error}")
            record_failure(conn, SOURCE_KIND, name.relative_path, outcome.message)
        else:
            status: Status = "already loaded" if result.already_loaded else "loaded"
            outcome = DayOutcome(name, status, result=result)
        outcomes.append(outcome)
    _refuse_a_symbol_the_archive_lacks(request, outcomes)
    for outcome in outcomes:
        if outcome.status == "missing":
            record_failure(conn, SOURCE_KIND, outcome.source, outcome.message)
    return outcomes


def _refuse_a_symbol_the_archive_lacks(request: BinanceRequest, outcomes: list[DayOutcome]) -> None:
    answered_404 = all(o.status in ("missing", "not published") for o in outcomes)
    if not answered_404 or not any(o.status == "missing" for o in outcomes):
        return
    inside = [o for o in outcomes if o.status == "missing"]
    unit = "month" if request.published.cadence == "monthly" else "day"
    span = inside[0].label if len(inside) == 1 else f"{inside[0].label} .. {inside[-1].label}"
    raise ArchiveHasNoSymbol(
        f"the archive has no {request.market} {request.kind} for {request.symbol}: every requested {unit} it "
        f"publishes ({span}) answered 404 Not Found (a misspelled symbol, or one not listed then); nothing loaded"
    )


def not_published_line(request: BinanceRequest, outcomes: list[DayOutcome]) -> str | None:
    """The files outside the published range that answered 404, in one line (None when there are none).

    They lie before or after the range, so they form at most two runs of consecutive files.
    """
    runs: list[list[DayOutcome]] = []
    previous = None
    for outcome in outcomes:
        if outcome.status == "not published":
            if previous is None or previous.status != "not published":
                runs.append([])
            runs[-1].append(outcome)
        previous = outcome
    if not runs:
        return None
    spans = [run[0].label if len(run) == 1 else f"{run[0].label} .. {run[-1].label}" for run in runs]
    return f"{request.kind}: {' and '.join(spans)} not published ({request.published.describe()})"


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
            context = archive_context(name)
            ready = _prepare_partitions(conn, context.table, context.bounds_us)
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


def _prepare_partitions(
    conn: psycopg.Connection, table: str, bounds_us: tuple[int, int]
) -> dict[str, tuple[datetime, datetime]]:
    """Create the file's partitions (its day or month) in a short transaction of their own, before the file's."""
    if table not in PARTITIONED_TABLES:
        return {}
    start = datetime.fromtimestamp(bounds_us[0] / 1_000_000, tz=timezone.utc)
    last = datetime.fromtimestamp(bounds_us[1] / 1_000_000, tz=timezone.utc) - timedelta(microseconds=1)
    with conn.transaction():
        ensure_week_partitions(conn, [table], start, last)
    return {table: (start, last)}
