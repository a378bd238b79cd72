"""`sniper cold move`: eligible instrument-weeks to verified Parquet files, then out of PostgreSQL.

Per week and raw table, oldest first, one step each:
1. every eligible instrument's rows of the week are written to its file by one COPY (one
   snapshot), the file is read back from the store, its sha256 and size compared with what was
   written and every page decoded (page checksums verified), its rows and min/max time compared
   with what was exported; then its manifest is written beside it;
2. one transaction locks, counts again what PostgreSQL holds, and only if every count equals
   its file's records the files in raw.cold_weeks and drops the rows:
   - the whole week partition (DROP TABLE) when the files hold every instrument it has: instant,
     and the space goes back to the filesystem; it needs an ACCESS EXCLUSIVE lock on the parent
     table, taken first (no deadlock with loaders) and held while the partition is counted;
   - else this step's instruments' rows (DELETE), under a SHARE lock on that partition only
     (writers of that old week wait): the rows become dead tuples, and the VACUUM run right
     after makes their pages reusable (it gives back only trailing empty pages; the file shrinks
     fully only when the week's last instrument goes cold and the partition is dropped).
A file that does not read back as written, or a count that changed since the export (raw
tables are append-only, so an equal count is the same rows), stops the move with one line;
nothing of that step is dropped, and the steps before it stay done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from sniper.cold.config import ColdConfig
from sniper.cold.eligibility import InstrumentWeek, instrument_weeks
from sniper.cold.kinds import RawKind, raw_kind, week_bounds
from sniper.cold.ledger import ColdFile, DroppedBy, record_cold
from sniper.cold.parquet import count_rows, export_week, read_back
from sniper.cold.store import ColdFileError, ColdStore, Manifest, relative_path
from sniper.errors import UserError
from sniper.instruments import Instrument

LOCK_TIMEOUT = "60s"


class ColdMoveConflict(UserError):
    """PostgreSQL's rows changed between the export and the drop: nothing was dropped."""


@dataclass(frozen=True)
class MovedFile:
    instrument: str  # exchange:market:SYMBOL
    kind: str
    week: date
    rows: int
    file_bytes: int
    dropped_by: DroppedBy


@dataclass(frozen=True)
class PlannedStep:
    """What a move would do with one week of one raw table."""

    week: date
    kind: str
    instruments: tuple[str, ...]
    rows: int
    dropped_by: DroppedBy


@dataclass
class MoveResult:
    store_url: str
    horizon_weeks: int
    blocked: list[InstrumentWeek]
    planned: list[PlannedStep]
    moved: list[MovedFile] = field(default_factory=list)
    vacuumed: list[str] = field(default_factory=list)


def instruments_in_partition(conn: psycopg.Connection, kind: str, week: date) -> dict[Instrument, int]:
    """Rows per instrument in one week partition (a scan of that partition only)."""
    start, end = week_bounds(week)
    return {
        Instrument(exchange, market, symbol): rows
        for exchange, market, symbol, rows in conn.execute(
            sql.SQL("select exchange, market, symbol, count(*) from {} where ts >= %s and ts < %s"
                    " group by exchange, market, symbol").format(sql.Identifier("raw", kind)),
            (start, end),
        )
    }


def plan_steps(conn: psycopg.Connection, eligible: Sequence[InstrumentWeek]) -> list[PlannedStep]:
    groups: dict[tuple[date, str], list[Instrument]] = defaultdict(list)
    for item in eligible:
        for kind in item.kinds:
            groups[(item.week, kind)].append(item.instrument)
    steps = []
    for (week, kind), instruments in sorted(groups.items()):
        present = instruments_in_partition(conn, kind, week)
        whole = set(present) <= set(instruments)
        steps.append(PlannedStep(week, kind, tuple(i.key for i in sorted(instruments)),
                                 sum(present.get(i, 0) for i in instruments),
                                 "drop_partition" if whole else "delete_rows"))
    return steps


def move_cold(
    conn: psycopg.Connection, config: ColdConfig, instruments: Sequence[Instrument], *, dry_run: bool = False
) -> MoveResult:
    """Move every eligible instrument-week of ``instruments`` (an autocommit connection)."""
    weeks = instrument_weeks(conn, instruments, config.horizon_weeks)
    eligible = [item for item in weeks if item.is_eligible]
    result = MoveResult(config.resolved_store_url, config.horizon_weeks,
                        blocked=[item for item in weeks if not item.is_eligible], planned=plan_steps(conn, eligible))
    if dry_run:
        return result
    store = ColdStore(config.resolved_store_url)
    for step in result.planned:
        kind = raw_kind(conn, step.kind)
        try:
            files = [export_verified(conn, kind, Instrument.parse(key), step.week, store) for key in step.instruments]
            dropped_by = finalize(conn, kind, step.week, files)
        except UserError as error:
            done = f"; {len(result.moved)} files moved before it" if result.moved else ""
            raise type(error)(f"{error} (nothing of raw.{step.kind} week {step.week} was dropped{done})") from None
        result.moved += [MovedFile(f.instrument.key, f.kind, f.week, f.manifest.row_count, f.manifest.file_bytes,
                                   dropped_by) for f in files]
        if dropped_by == "delete_rows":
            partition = kind.partition(step.week)
            conn.execute(sql.SQL("vacuum {}").format(sql.Identifier("raw", partition)))
            result.vacuumed.append(f"raw.{partition}")
    return result


def export_verified(conn: psycopg.Connection, kind: RawKind, instrument: Instrument, week: date,
                    store: ColdStore) -> ColdFile:
    """Write the file, read it back from the store, and write its manifest; raises ColdFileError
    when what is read back is not what was written."""
    path = relative_path(kind.name, instrument, week)
    written = export_week(conn, kind, instrument, week, store, path)
    sha, size = store.sha256(path)
    if (sha, size) != (written.sha256, written.file_bytes):
        raise ColdFileError(
            f"cold file {store.full_path(path)} does not read back as written: {size:,} bytes with sha256 "
            f"{sha[:12]}..., written {written.file_bytes:,} bytes with sha256 {written.sha256[:12]}..."
        )
    rows, first_ts, last_ts = read_back(store, path, kind)
    if (rows, first_ts, last_ts) != (written.row_count, written.first_ts, written.last_ts):
        raise ColdFileError(
            f"cold file {store.full_path(path)} reads back {rows:,} rows from {first_ts} to {last_ts}, "
            f"{written.row_count:,} rows from {written.first_ts} to {written.last_ts} were exported"
        )
    manifest = Manifest(kind.name, instrument.exchange, instrument.market, instrument.symbol, week, rows, first_ts,
                        last_ts, sha, size)
    store.write_manifest(path, manifest)
    if store.read_manifest(path) != manifest:
        raise ColdFileError(f"cold manifest of {store.full_path(path)} does not read back as written")
    return ColdFile(store.url, path, manifest)


def finalize(conn: psycopg.Connection, kind: RawKind, week: date, files: Sequence[ColdFile]) -> DroppedBy:
    """One transaction: lock, count again, record the files, drop the partition or delete the rows."""
    partition = sql.Identifier("raw", kind.partition(week))
    expected = {f.instrument: f.manifest.row_count for f in files}
    whole = set(instruments_in_partition(conn, kind.name, week)) <= set(expected)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
            if whole:
                conn.execute(sql.SQL("lock table only {} in access exclusive mode").format(
                    sql.Identifier("raw", kind.name)))
                present = instruments_in_partition(conn, kind.name, week)
                whole = set(present) <= set(expected)
            if not whole:
                conn.execute(sql.SQL("lock table {} in share mode").format(partition))
                present = {f.instrument: count_rows(conn, f"raw.{kind.partition(week)}", f.instrument, week)
                           for f in files}
            for f in files:
                held = present.get(f.instrument, 0)
                if held != f.manifest.row_count:
                    raise ColdMoveConflict(
                        f"raw.{kind.name} holds {held:,} rows of {f.instrument} for the week of {week}, its file "
                        f"{f.manifest.row_count:,}: rows were loaded or deleted meanwhile; run `sniper cold move` again"
                    )
            dropped_by: DroppedBy = "drop_partition" if whole else "delete_rows"
            for f in files:
                record_cold(conn, f, dropped_by)
            if whole:
                conn.execute(sql.SQL("drop table {}").format(partition))
            else:
                for f in files:
                    conn.execute(
                        sql.SQL("delete from {} where exchange = %s and market = %s and symbol = %s").format(partition),
                        (f.instrument.exchange, f.instrument.market, f.instrument.symbol),
                    )
    except psycopg.errors.LockNotAvailable:
        raise UserError(f"raw.{kind.name} stayed busy for {LOCK_TIMEOUT}: nothing was dropped; try again") from None
    return dropped_by
