"""Do a week's candles still hold exactly its trades? Asked of dbt's own test, not re-implemented.

The backfill's window build already ran `candles_5m_reconcile_with_trades` when it
materialized the week; before the raw rows leave PostgreSQL the same test runs again over
the weeks about to go cold (its SQL compiled by dbt for that window, then read here), so a
week whose trades changed since (a load added rows, rows were deleted by hand) stays hot.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import psycopg

from sniper.dbt_vars import ProjectVars
from sniper.errors import UserError
from sniper.instruments import Instrument

RECONCILIATION_TEST = "candles_5m_reconcile_with_trades"
# A window is at most 92 days (python/dbt_vars.py): 13 weeks per compiled query.
WEEKS_PER_QUERY = 13


def _spans(weeks: Iterable[date]) -> list[tuple[date, int]]:
    """(first day, days) windows of at most WEEKS_PER_QUERY weeks covering the given Mondays.

    >>> _spans([date(2024, 6, 3), date(2024, 6, 17)])
    [(datetime.date(2024, 6, 3), 21)]
    """
    ordered = sorted(set(weeks))
    spans: list[tuple[date, int]] = []
    while ordered:
        first = ordered[0]
        inside = [week for week in ordered if week < first + timedelta(weeks=WEEKS_PER_QUERY)]
        spans.append((first, (inside[-1] - first).days + 7))
        ordered = ordered[len(inside):]
    return spans


def compiled_test(window_start: date, window_days: int) -> str:
    from sniper.warehouse import invoke_dbt

    window = ProjectVars(window_start=window_start, window_days=window_days)
    result = invoke_dbt(["--log-level", "none", "compile", "--select", RECONCILIATION_TEST], window.overrides())
    if not result.success or not result.result or not result.result.results:
        raise UserError(f"dbt could not compile {RECONCILIATION_TEST}: run `sniper dbt compile` to see why")
    return result.result.results[0].node.compiled_code


def failing_days(conn: psycopg.Connection, weeks: Iterable[date]) -> set[tuple[Instrument, date]]:
    """Every (instrument, UTC day) in the given weeks where the 5m candles and the trades disagree."""
    failing: set[tuple[Instrument, date]] = set()
    for start, days in _spans(weeks):
        for exchange, market, symbol, day in conn.execute(
            "select exchange, market, symbol, (day_start_at at time zone 'UTC')::date"
            f" from ({compiled_test(start, days)}) as failures"
        ):
            failing.add((Instrument(exchange, market, symbol), day))
    return failing
