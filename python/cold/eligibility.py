"""Which instrument-weeks may go cold: past the horizon, every loaded day materialized, and the
candles still reconciling with the trades.

"Materialized and verified", decided here once:
- the week starts ``horizon_weeks`` weeks or more before the week of the instrument's newest
  loaded event (raw.load_ledger; the ledger keeps its rows when the ticks go cold, so the
  horizon does not move when they do);
- it holds at least one day that a load of trades touched, and every such day is materialized
  per regimes.materialization_days (a succeeded backfill window holding the day started after
  the day's newest load: candles, features, regimes, and the window's data tests, built
  together) or was expired on purpose by a retention run;
- `candles_5m_reconcile_with_trades`, run again now over the week, finds no day whose 5m
  candles disagree with the trades (python/cold/verification.py).
Every raw table holding the instrument's rows of such a week goes cold with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import psycopg

from sniper.cold.kinds import COLD_KINDS, WEEK, week_bounds, week_start, weeks_overlapping
from sniper.cold.verification import failing_days
from sniper.instruments import Instrument

MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class InstrumentWeek:
    """A week past the horizon whose rows PostgreSQL still holds, and whether it may go cold."""

    instrument: Instrument
    week: date
    kinds: tuple[str, ...]  # the raw tables holding the instrument's rows of the week
    blocked_by: str | None  # None: it may go cold; else why not, in one line

    @property
    def is_eligible(self) -> bool:
        return self.blocked_by is None


def _loaded_weeks(conn: psycopg.Connection, instrument: Instrument) -> tuple[list[date], date | None]:
    """The weeks any load of the instrument touched, and the week of its newest loaded event."""
    spans = conn.execute(
        "select first_ts, last_ts from raw.load_ledger"
        " where exchange = %s and market = %s and symbol = %s and first_ts is not null and last_ts is not null",
        (instrument.exchange, instrument.market, instrument.symbol),
    ).fetchall()
    if not spans:
        return [], None
    weeks: set[date] = set()
    for first_ts, last_ts in spans:
        # A generated day is ledgered up to the next midnight, exclusive: 1 us before it.
        last_day = _utc_day(max(first_ts, last_ts - MICROSECOND))
        weeks.update(weeks_overlapping(_utc_day(first_ts), last_day + timedelta(days=1)))
    newest = max(_utc_day(max(first_ts, last_ts - MICROSECOND)) for first_ts, last_ts in spans)
    return sorted(weeks), week_start(newest)


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def _materialization(conn: psycopg.Connection, instrument: Instrument) -> dict[date, bool] | None:
    """Per loaded day: materialized (or expired on purpose). None: the warehouse was never built."""
    if conn.execute("select to_regclass('regimes.materialization_days') is null").fetchone()[0]:
        return None
    return {
        day: bool(materialized or expired)
        for day, materialized, expired in conn.execute(
            "select day_date, is_materialized, is_expired from regimes.materialization_days"
            " where exchange = %s and market = %s and symbol = %s",
            (instrument.exchange, instrument.market, instrument.symbol),
        )
    }


def _hot_kinds(conn: psycopg.Connection, instrument: Instrument, week: date) -> tuple[str, ...]:
    return tuple(kind for kind in COLD_KINDS if _holds_rows(conn, kind, instrument, week))


def _holds_rows(conn: psycopg.Connection, kind: str, instrument: Instrument, week: date) -> bool:
    start, end = week_bounds(week)
    return conn.execute(
        f"select exists (select from raw.{kind} where symbol = %s and ts >= %s and ts < %s"  # noqa: S608 - kind is ours
        " and market = %s and exchange = %s)",
        (instrument.symbol, start, end, instrument.market, instrument.exchange),
    ).fetchone()[0]


def _blocked_by_materialization(days: dict[date, bool] | None, week: date) -> str | None:
    if days is None:
        return "the warehouse has never been built (run `sniper backfill run`)"
    in_week = {day: done for day, done in days.items() if week <= day < week + WEEK}
    if not in_week:
        return "no trades loaded in this week: nothing was materialized from it"
    pending = sorted(day for day, done in in_week.items() if not done)
    if pending:
        return f"not materialized: {', '.join(f'{day:%Y-%m-%d}' for day in pending)} (run `sniper backfill run`)"
    return None


def instrument_weeks(
    conn: psycopg.Connection, instruments: Sequence[Instrument], horizon_weeks: int, *, verify: bool = True
) -> list[InstrumentWeek]:
    """Every week past the horizon that PostgreSQL holds rows of, per instrument, oldest first.

    ``verify=False`` skips the reconciliation (a dbt compile and a read of the weeks' trades):
    for showing what lies past the horizon, not for deciding what to drop.
    """
    found: list[InstrumentWeek] = []
    for instrument in instruments:
        weeks, newest_week = _loaded_weeks(conn, instrument)
        if newest_week is None:
            continue
        last_cold_week = newest_week - timedelta(weeks=horizon_weeks)
        days = _materialization(conn, instrument)
        for week in weeks:
            if week > last_cold_week:
                continue
            kinds = _hot_kinds(conn, instrument, week)
            if kinds:
                found.append(InstrumentWeek(instrument, week, kinds, _blocked_by_materialization(days, week)))
    if verify:
        found = _reconciled(conn, found)
    return sorted(found, key=lambda item: (item.week, item.instrument))


def _reconciled(conn: psycopg.Connection, found: list[InstrumentWeek]) -> list[InstrumentWeek]:
    candidates = [item for item in found if item.is_eligible and "trades" in item.kinds]
    if not candidates:
        return found
    failing: dict[tuple[Instrument, date], list[date]] = defaultdict(list)
    for instrument, day in failing_days(conn, {item.week for item in candidates}):
        failing[(instrument, week_start(day))].append(day)
    checked = []
    for item in found:
        bad = sorted(failing.get((item.instrument, item.week), []))
        if item.is_eligible and bad:
            reason = f"5m candles do not reconcile with the trades on {', '.join(f'{d:%Y-%m-%d}' for d in bad)}"
            item = InstrumentWeek(item.instrument, item.week, item.kinds, reason)
        checked.append(item)
    return checked

