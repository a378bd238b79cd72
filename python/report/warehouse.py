"""Read-only facts for `sniper status`: what is materialized, covered, backfilled and trained.

Every reader returns ``None`` when the dbt model it reads is not built yet, so an empty
warehouse is a normal state, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from sniper.report.relations import relation_exists

# Candle models, in the order they are shown (models/candles, macros/timeframes.sql).
TIMEFRAMES = ("5m", "15m", "1h", "4h", "1d", "1w", "1mo")
# An instrument as one value, its key exchange:market:SYMBOL (python/instruments.py).
INSTRUMENT_KEY = "exchange || ':' || market || ':' || symbol"


@dataclass(frozen=True)
class CandleWindow:
    timeframe: str
    instrument: str
    first_bucket_at: datetime
    last_bucket_at: datetime
    buckets: int
    complete_share: float


@dataclass(frozen=True)
class Coverage:
    instrument: str
    materialized_months: int
    bull_months: int
    bear_months: int
    sideways_months: int
    required_months: int
    required_bull_months: int
    required_bear_months: int
    required_sideways_months: int
    is_requirement_met: bool


@dataclass(frozen=True)
class BackfillAttempt:
    attempt_id: int
    instrument: str
    window_start_date: date
    window_days: int
    reason: str
    status: str
    rows_written: int | None
    duration_seconds: float | None
    error: str | None
    started_at: datetime


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    created_at: datetime
    n_trades: int
    win_rate: float | None
    sharpe: float | None
    max_drawdown: float | None
    deflated_sharpe: float | None
    pbo: float | None
    spa_p_value: float | None
    verdict: str


def candle_windows(conn: psycopg.Connection) -> list[CandleWindow] | None:
    """Per timeframe and instrument: first and last bucket, bucket count, share of complete buckets."""
    windows: list[CandleWindow] = []
    built = False
    for timeframe in TIMEFRAMES:
        if not relation_exists(conn, f"candles.candles_{timeframe}"):
            continue
        built = True
        query = sql.SQL(
            "select {instrument}, min(bucket_start_at), max(bucket_start_at), count(*),"
            " (count(*) filter (where is_complete))::float8 / count(*)"
            " from {table} group by exchange, market, symbol order by exchange, market, symbol"
        ).format(instrument=sql.SQL(INSTRUMENT_KEY), table=sql.Identifier("candles", f"candles_{timeframe}"))
        windows += [CandleWindow(timeframe, *row) for row in conn.execute(query)]
    return windows if built else None


def coverage(conn: psycopg.Connection) -> list[Coverage] | None:
    if not relation_exists(conn, "regimes.coverage_summary"):
        return None
    columns = ", ".join(_selected(Coverage))
    with conn.cursor(row_factory=class_row(Coverage)) as cursor:
        return cursor.execute(
            f"select {columns} from regimes.coverage_summary order by exchange, market, symbol"
        ).fetchall()


def backfill_attempts(conn: psycopg.Connection, limit: int = 5) -> list[BackfillAttempt] | None:
    if not relation_exists(conn, "ops.backfill_runs"):
        return None
    columns = ", ".join(_selected(BackfillAttempt))
    with conn.cursor(row_factory=class_row(BackfillAttempt)) as cursor:
        return cursor.execute(
            f"select {columns} from ops.backfill_runs order by started_at desc, attempt_id desc limit %s", (limit,)
        ).fetchall()


def training_runs(conn: psycopg.Connection, limit: int = 5) -> list[TrainingRun] | None:
    """The newest runs first: the first one's verdict is the current verdict."""
    if not relation_exists(conn, "evaluation.model_runs"):
        return None
    columns = ", ".join(TrainingRun.__dataclass_fields__)
    with conn.cursor(row_factory=class_row(TrainingRun)) as cursor:
        return cursor.execute(
            f"select {columns} from evaluation.model_runs order by created_at desc, run_id desc limit %s", (limit,)
        ).fetchall()


def _selected(row_type) -> list[str]:
    """The select list of a row dataclass: its fields, the instrument as its key."""
    return [f"{INSTRUMENT_KEY} as instrument" if name == "instrument" else name
            for name in row_type.__dataclass_fields__]
