"""Stream the synthetic market into PostgreSQL, one symbol-day per transaction.

A day is generated an hour at a time and COPYed as it is made, so a writing process
holds at most one hour of ticks: peak memory follows the trade rate, not the period length.
A day's rows and its ledger entry commit together; a re-run skips ledgered days.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from sniper.db.copy import copy_frame, ensure_week_partitions
from sniper.db.statistics import analyze_raw
from sniper.errors import UserError
from sniper.synth.config import SynthConfig
from sniper.synth.depth import depth_bands_for_span
from sniper.synth.options import chain_frame, chain_snapshot, underlying_of
from sniper.synth.paths import MinutePath, build_minute_path, month_starts
from sniper.synth.ticks import TickGenerator

SOURCE_KIND = "synth"
TICK_TABLES = ["raw.trades", "raw.l1_quotes", "raw.depth_bands", "raw.options_chain"]
SYNTH_LOCK_KEY = 7_300_002
DAYS_PER_YEAR = 365.0
CHUNK_TRADES = 60_000


@dataclass
class DayResult:
    symbol: str
    day: date
    trades: int
    quotes: int
    skipped: bool


def hours_per_chunk(trades_per_day: int) -> int:
    """Generate about CHUNK_TRADES trades at a time (a divisor of 24 hours): memory stays flat."""
    wanted = max(1, min(24, 24 * CHUNK_TRADES // trades_per_day))
    return max(h for h in (1, 2, 3, 4, 6, 8, 12, 24) if h <= wanted)


def source_name(symbol: str, day: date) -> str:
    return f"synthetic/{symbol}/{day.isoformat()}"


def days_of(config: SynthConfig) -> list[date]:
    bounds = month_starts(config.start, config.months)
    n_days = config.days if config.days is not None else (bounds[-1] - config.start).days
    return [config.start + timedelta(days=i) for i in range(n_days)]


def check_compatible(conn: psycopg.Connection, config: SynthConfig) -> None:
    """Refuse to mix two different synthetic markets for the same symbol."""
    rows = conn.execute(
        "select distinct symbol, checksum from raw.load_ledger where source_kind = %s and symbol = any(%s)",
        (SOURCE_KIND, config.symbols),
    ).fetchall()
    fingerprint = config.fingerprint()
    clashes = sorted({symbol for symbol, checksum in rows if checksum != fingerprint})
    if clashes:
        raise UserError(
            f"the warehouse already holds a synthetic market for {', '.join(clashes)} generated with other "
            "parameters; run with --replace to regenerate it"
        )


def delete_synthetic(conn: psycopg.Connection, symbols: list[str]) -> None:
    with conn.transaction():
        for table in ("raw.trades", "raw.l1_quotes", "raw.depth_bands"):
            conn.execute(f"delete from {table} where exchange = 'synthetic' and symbol = any(%s)", (symbols,))
        underlyings = [underlying_of(symbol) for symbol in symbols]
        conn.execute(
            "delete from raw.options_chain where exchange = 'synthetic' and underlying = any(%s)", (underlyings,)
        )
        conn.execute("delete from raw.klines where exchange = 'synthetic' and symbol = any(%s)", (symbols,))
        conn.execute("delete from synth.iceberg_truth where symbol = any(%s)", (symbols,))
        conn.execute("delete from synth.regime_truth where symbol = any(%s)", (symbols,))
        conn.execute("delete from raw.load_ledger where source_kind = %s and symbol = any(%s)", (SOURCE_KIND, symbols))


def write_regime_truth(conn: psycopg.Connection, config: SynthConfig, symbol: str) -> None:
    bounds = month_starts(config.start, config.months)
    with conn.transaction():
        for index, month_start in enumerate(bounds[:-1]):
            regime = config.regime_of_month(index)
            params = config.regimes[regime]
            conn.execute(
                "insert into synth.regime_truth values (%s, %s, %s, %s, %s) on conflict do nothing",
                (symbol, month_start, regime, params.drift_per_month, params.vol_per_day),
            )


def generate(
    conn: psycopg.Connection,
    config: SynthConfig,
    on_day: Callable[[DayResult], None] | None = None,
    open_connection: Callable[[], psycopg.Connection] | None = None,
    on_writers_started: Callable[[], None] | None = None,
) -> list[DayResult]:
    """Write the whole market; returns one result per symbol-day (skipped when already loaded).

    With ``open_connection`` (an autocommit connection to the same database), the symbols
    are written side by side, one forked process per symbol up to the number of cores,
    each on a connection of its own: a symbol's days depend only on its own seeded path,
    so the rows are the same in either order. ``conn`` holds the lock throughout.
    ``on_writers_started`` runs in this process once the writers are forked (or before the
    one writer starts): other work to overlap with the writing, say a thread, which must
    not exist when the writers fork.
    """
    conn.execute("select pg_advisory_lock(%s)", (SYNTH_LOCK_KEY,))
    try:
        check_compatible(conn, config)
        workers = min(len(config.symbols), os.cpu_count() or 1) if open_connection else 1
        if workers > 1:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                     initargs=(open_connection, on_day)) as pool:
                # The fork start method forks every worker at the first submit (map submits all).
                running = pool.map(_symbol_in_worker, [config] * len(config.symbols), config.symbols)
                if on_writers_started:
                    on_writers_started()
                batches = list(running)
        else:
            if on_writers_started:
                on_writers_started()
            batches = [generate_symbol(conn, config, symbol, on_day) for symbol in config.symbols]
        results = [result for batch in batches for result in batch]
        if any(not result.skipped for result in results):
            analyze_raw(conn)
        return results
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (SYNTH_LOCK_KEY,))


def generate_symbol(
    conn: psycopg.Connection, config: SynthConfig, symbol: str, on_day: Callable[[DayResult], None] | None = None
) -> list[DayResult]:
    """One symbol's days, each in its own transaction; days already in the ledger are skipped."""
    path = build_minute_path(config, symbol)
    write_regime_truth(conn, config, symbol)
    generator = TickGenerator(config, symbol, path)
    loaded = {
        row[0]
        for row in conn.execute(
            "select source from raw.load_ledger where source_kind = %s and symbol = %s",
            (SOURCE_KIND, symbol),
        )
    }
    results = []
    for day_index, day in enumerate(days_of(config)):
        if source_name(symbol, day) in loaded:
            result = DayResult(symbol, day, 0, 0, skipped=True)
        else:
            result = write_day(conn, config, generator, path, day_index, day)
        results.append(result)
        if on_day:
            on_day(result)
    return results


# A forked worker's connection factory and progress callback: set by the pool's
# initializer, which a fork passes without pickling (closures are fine).
_worker: dict = {}


def _start_worker(open_connection: Callable[[], psycopg.Connection], on_day) -> None:
    _worker.update(open_connection=open_connection, on_day=on_day)


def _symbol_in_worker(config: SynthConfig, symbol: str) -> list[DayResult]:
    with _worker["open_connection"]() as conn:
        return generate_symbol(conn, config, symbol, _worker["on_day"])


def write_day(
    conn: psycopg.Connection,
    config: SynthConfig,
    generator: TickGenerator,
    path: MinutePath,
    day_index: int,
    day: date,
) -> DayResult:
    symbol = generator.symbol
    day_start = datetime(day.year, day.month, day.day, tzinfo=path.origin.tzinfo)
    n_trades = n_quotes = 0
    kline = DailyKline(symbol, day_start)
    with conn.transaction():
        # Committed on its own: the partition function's lock lasts until its transaction ends,
        # and held through the day's COPY it made side-by-side writers take turns.
        ensure_week_partitions(conn, TICK_TABLES, day_start, day_start + timedelta(days=1))
    with conn.transaction():
        first_hour = day_index * 24
        span_hours = hours_per_chunk(config.trades_per_day)
        for chunk_start in range(first_hour, first_hour + 24, span_hours):
            ticks = generator.span(chunk_start, span_hours)
            n_trades += copy_frame(conn, "raw.trades", ticks.trades, skip_duplicates=False)
            kline.add(ticks.trades)
            n_quotes += copy_frame(conn, "raw.l1_quotes", ticks.quotes, skip_duplicates=False)
            copy_frame(conn, "synth.iceberg_truth", _iceberg_truth(path, symbol, ticks.icebergs), skip_duplicates=False)
        depth = depth_bands_for_span(path, symbol, config.seed, first_hour, 24)
        copy_frame(conn, "raw.depth_bands", depth, skip_duplicates=False)
        options = chain_frame([_options_for_hour(config, path, symbol, h) for h in range(first_hour, first_hour + 24)])
        copy_frame(conn, "raw.options_chain", options, skip_duplicates=False)
        copy_frame(conn, "raw.klines", kline.frame(), skip_duplicates=False)
        conn.execute(
            "insert into raw.load_ledger (source_kind, source, checksum, exchange, market, symbol, data_kind,"
            " first_ts, last_ts, rows_loaded) values (%s, %s, %s, 'synthetic', 'spot', %s, 'ticks', %s, %s, %s)",
            (
                SOURCE_KIND,
                source_name(symbol, day),
                config.fingerprint(),
                symbol,
                day_start,
                day_start + timedelta(days=1),
                n_trades,
            ),
        )
    return DayResult(symbol, day, n_trades, n_quotes, skipped=False)


class DailyKline:
    """The exchange's daily candle of a generated day, accumulated span by span.

    A real exchange publishes daily klines for all of its history; the synthetic market
    does too, so months whose ticks are not materialized yet still get a regime.
    """

    def __init__(self, symbol: str, day_start: datetime):
        self.symbol = symbol
        self.day_start = day_start
        self.parts: list[dict] = []

    def add(self, trades: pd.DataFrame) -> None:
        if trades.empty:
            return
        buys = ~trades["is_buyer_maker"]
        self.parts.append(
            {
                "open": trades["price"].iat[0],
                "high": trades["price"].max(),
                "low": trades["price"].min(),
                "close": trades["price"].iat[-1],
                "volume": trades["qty"].sum(),
                "quote_volume": trades["quote_qty"].sum(),
                "trade_count": len(trades),
                "taker_buy_volume": trades.loc[buys, "qty"].sum(),
                "taker_buy_quote_volume": trades.loc[buys, "quote_qty"].sum(),
            }
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame()
        parts = pd.DataFrame(self.parts)
        return pd.DataFrame(
            {
                "exchange": ["synthetic"],
                "market": ["spot"],
                "symbol": [self.symbol],
                "interval": ["1d"],
                "open_at": [pd.Timestamp(self.day_start)],
                "close_at": [pd.Timestamp(self.day_start) + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)],
                "open": [parts["open"].iat[0]],
                "high": [parts["high"].max()],
                "low": [parts["low"].min()],
                "close": [parts["close"].iat[-1]],
                "volume": [parts["volume"].sum()],
                "quote_volume": [parts["quote_volume"].sum()],
                "trade_count": [int(parts["trade_count"].sum())],
                "taker_buy_volume": [parts["taker_buy_volume"].sum()],
                "taker_buy_quote_volume": [parts["taker_buy_quote_volume"].sum()],
            }
        )


def _options_for_hour(config: SynthConfig, path: MinutePath, symbol: str, hour: int) -> dict[str, np.ndarray]:
    minute = hour * 60
    at = path.origin + timedelta(hours=hour)
    spot = float(np.exp(path.log_mid[minute]))
    regime = ["bull", "bear", "sideways"][int(path.regime_code[minute])]
    atm_vol = config.regimes[regime].vol_per_day * np.sqrt(DAYS_PER_YEAR)
    return chain_snapshot(symbol, config.seed, at, spot, atm_vol, hour)


def _iceberg_truth(path: MinutePath, symbol: str, icebergs) -> pd.DataFrame:
    origin = np.datetime64(path.origin.replace(tzinfo=None), "us")
    return pd.DataFrame(
        {
            "symbol": symbol,
            "side": [i.side for i in icebergs],
            "price": [i.price for i in icebergs],
            "started_at": [origin + np.timedelta64(i.start_us, "us") for i in icebergs],
            "ended_at": [origin + np.timedelta64(i.end_us, "us") for i in icebergs],
            "display_qty": [i.display_qty for i in icebergs],
            "total_qty": [i.display_qty * (i.refills + 1) for i in icebergs],
            "refill_count": [i.refills for i in icebergs],
        }
    )

