"""Choose the next windows to materialize, in the roadmap's priority.

1. A month of a regime the coverage still lacks (bull, then bear, then sideways): the
   most recent such month first, its first unmaterialized day first. When the latest
   training run said MORE DATA NEEDED URGENTLY and named the regime with the fewest
   samples, that regime goes first, and its unmaterialized months are collected even
   when the coverage requirement already counts enough of them.
2. Then the most recent unmaterialized weeks (Monday-aligned), newest first.

Which days can be materialized, and which are done, is dbt's to say, not the planner's:
regimes.materialization_days lists every day a load of trades touched (a daily archive, a
generated day, a recording), whether the backfill materialized it since its newest load,
and whether a retention run expired it. A month's regime comes from
regimes.regime_coverage (candles where materialized, exchange klines before). Each planned
window says why it was chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from sniper.instruments import EXCHANGE_PATTERN, Instrument
from sniper.validation import SYMBOL_PATTERN

REGIME_PRIORITY = ("bull", "bear", "sideways")
# The one instrument of a query's three parameters (exchange, market, symbol).
INSTRUMENT_IS = "exchange = %s and market = %s and symbol = %s"


@dataclass(frozen=True)
class PlannedWindow:
    instrument: Instrument
    start: date
    days: int
    reason: str

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True)
class InstrumentState:
    """What the planner knows of one instrument."""

    instrument: Instrument
    tick_days: frozenset[date]  # days a load of trades touched, not expired (materialization_days)
    materialized_days: frozenset[date]  # of those, days materialized since their newest load
    month_regimes: dict[date, tuple[str | None, str]]  # month start -> (regime, label source)
    missing: dict[str, int]  # regime (and "months") -> months still missing
    urgent_regime: str | None = None  # named by the latest training run's diagnosis


def regime_priority(urgent_regime: str | None) -> tuple[str, ...]:
    """Bull, bear, sideways; a regime the latest training run urgently needs goes first."""
    if urgent_regime not in REGIME_PRIORITY:
        return REGIME_PRIORITY
    return (urgent_regime, *(regime for regime in REGIME_PRIORITY if regime != urgent_regime))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def plan_instrument(state: InstrumentState, windows: int, window_days: int) -> list[PlannedWindow]:
    """Up to `windows` windows for one instrument, highest priority first."""
    todo = sorted(state.tick_days - state.materialized_days)
    planned: list[PlannedWindow] = []
    claimed: set[date] = set()

    def take(days: Iterable[date], reason: str) -> None:
        for day in days:
            if len(planned) >= windows:
                return
            if day in claimed:
                continue
            window = PlannedWindow(state.instrument, day, window_days, reason)
            planned.append(window)
            claimed.update(window.start + timedelta(days=i) for i in range(window_days))

    for regime in regime_priority(state.urgent_regime):
        need = state.missing.get(regime, 0)
        urgent = regime == state.urgent_regime
        if urgent:
            # Every unmaterialized month of the regime, not just the requirement's count.
            need = max(need, len(state.month_regimes))
        if need <= 0:
            continue
        months = sorted(
            (m for m, (label, _) in state.month_regimes.items() if label == regime),
            reverse=True,
        )
        candidates = [m for m in months if any(_month_start(d) == m for d in todo)][:need]
        for month in candidates:
            source = state.month_regimes[month][1]
            days = [d for d in todo if month <= d < _next_month(month)]
            if urgent:
                reason = (
                    f"{month:%Y-%m} is {regime} (labelled from {source}); the latest training run "
                    f"needs more {regime} data urgently"
                )
            else:
                reason = (
                    f"{month:%Y-%m} is {regime} (labelled from {source}); coverage needs "
                    f"{need} more {regime} month{'s' if need > 1 else ''}"
                )
            take(days, reason)

    # Then the newest unmaterialized weeks: each window ends with the newest day still to
    # do and starts on a Monday (or where that run of days starts), so a 7-day window is
    # one week partition and a longer one covers as many whole weeks as it holds; a run
    # of days shorter than a window is taken in one window.
    weeks_per_window = max(1, window_days // 7)
    while len(planned) < windows:
        remaining = [d for d in todo if d not in claimed]
        if not remaining:
            break
        newest = remaining[-1]
        run_start = newest
        while run_start - timedelta(days=1) in state.tick_days and run_start - timedelta(days=1) in remaining:
            run_start -= timedelta(days=1)
        monday = newest - timedelta(days=newest.weekday()) - timedelta(weeks=weeks_per_window - 1)
        # A gap one window can hold is taken whole, whatever weekday it starts on.
        fits = (newest - run_start).days < window_days
        start = run_start if fits else max(run_start, monday)
        take([start], f"most recent unmaterialized week ({newest - timedelta(days=newest.weekday()):%Y-%m-%d})")
    return planned


def load_state(conn: psycopg.Connection, instrument: Instrument) -> InstrumentState:
    key = (instrument.exchange, instrument.market, instrument.symbol)
    days = _rows(
        conn,
        "select day_date, is_materialized from regimes.materialization_days"
        f" where {INSTRUMENT_IS} and not is_expired",
        key,
    )
    month_regimes = {
        month: (regime, source)
        for month, regime, source in _rows(
            conn,
            f"select month_start_date, regime, label_source from regimes.regime_coverage where {INSTRUMENT_IS}",
            key,
        )
    }
    summary = _rows(
        conn,
        "select missing_bull_months, missing_bear_months, missing_sideways_months, missing_months"
        f" from regimes.coverage_summary where {INSTRUMENT_IS}",
        key,
    )
    if summary:
        bull, bear, sideways, months = summary[0]
    else:
        bull, bear, sideways, months = _required(conn)
    missing = {"bull": bull, "bear": bear, "sideways": sideways, "months": months}
    return InstrumentState(
        instrument,
        tick_days=frozenset(day for day, _ in days),
        materialized_days=frozenset(day for day, materialized in days if materialized),
        month_regimes=month_regimes,
        missing=missing,
        urgent_regime=_urgent_regime(conn),
    )


def is_built(conn: psycopg.Connection) -> bool:
    """Whether dbt has built the warehouse's state (the planner has nothing to read before)."""
    return _relation_exists(conn, "regimes.materialization_days") and _relation_exists(
        conn, "regimes.regime_coverage"
    )


def _urgent_regime(conn: psycopg.Connection) -> str | None:
    """The regime the newest diagnosis urgently needs data for, if any: the latest training
    run's, or the latest forward evaluation's of a deployed model (python/live/forward.py),
    whichever is newer."""
    diagnoses = _rows(conn, "select created_at, diagnosis from evaluation.model_runs order by created_at desc limit 1",
                      ())
    diagnoses += _rows(conn, "select evaluated_at, diagnosis from ml.forward_evaluations"
                       " order by evaluated_at desc, evaluation_id desc limit 1", ())
    if not diagnoses:
        return None
    diagnosis = max(diagnoses, key=lambda row: row[0])[1] or {}
    return diagnosis.get("scarcest_regime") if diagnosis.get("urgent") else None


def plan(
    conn: psycopg.Connection, instruments: list[Instrument], windows_per_instrument: int, window_days: int
) -> list[PlannedWindow]:
    return [
        window
        for instrument in instruments
        for window in plan_instrument(load_state(conn, instrument), windows_per_instrument, window_days)
    ]


def known_instruments(conn: psycopg.Connection) -> list[Instrument]:
    """Instruments with loaded data (raw.load_ledger), in key order."""
    return sorted(
        Instrument(exchange, market, symbol)
        for exchange, market, symbol in conn.execute(
            "select distinct exchange, market, symbol from raw.load_ledger"
            " where first_ts is not null and exchange ~ %s and market in ('spot', 'um') and symbol ~ %s",
            (EXCHANGE_PATTERN.pattern, SYMBOL_PATTERN.pattern),
        )
    )


def _rows(conn: psycopg.Connection, query: str, params) -> list[tuple]:
    relation = query.split(" from ", 1)[1].split()[0]
    if not _relation_exists(conn, relation):
        return []
    return conn.execute(query, params).fetchall()


def _relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def _required(conn: psycopg.Connection) -> tuple[int, int, int, int]:
    """Before the first dbt build there is no coverage table: everything is missing."""
    from sniper.backfill.requirement import coverage_requirement

    requirement = coverage_requirement()
    return requirement.bull, requirement.bear, requirement.sideways, requirement.months
