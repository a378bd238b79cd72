"""Checks on user input at the edge; each failure is a one-line UserError."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from sniper.errors import UserError

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
# Dates a command accepts: from the first bitcoin block (2009-01-03) to a year after
# today (UTC). Nothing traded before; a later date is a typo, and far-future dates
# overflow date arithmetic (9999-12-31 + a window).
EARLIEST_DATE = date(2009, 1, 3)
MAX_DAYS_AHEAD = 366


def latest_date() -> date:
    return datetime.now(timezone.utc).date() + timedelta(days=MAX_DAYS_AHEAD)


def parse_symbol(text: str) -> str:
    if not SYMBOL_PATTERN.fullmatch(text):
        raise UserError(f"invalid symbol {text!r}: expected 2-20 upper-case letters or digits, e.g. BTCUSDT")
    return text


def parse_symbols(text: str) -> list[str]:
    symbols = [part.strip() for part in text.split(",") if part.strip()]
    if not symbols:
        raise UserError("no symbol given: expected a comma-separated list such as BTCUSDT,ETHUSDT")
    parsed = [parse_symbol(symbol) for symbol in symbols]
    if len(set(parsed)) != len(parsed):
        raise UserError(f"symbol listed twice in {text!r}")
    return parsed


def parse_date(text: str, *, name: str = "date") -> date:
    """A YYYY-MM-DD date inside the accepted range, or a one-line UserError."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"invalid {name} {text!r}: expected YYYY-MM-DD") from None
    check_in_range(day, name=name)
    return day


def check_in_range(day: date, *, name: str = "date") -> None:
    """Refuse a date before the first bitcoin block or more than a year after today."""
    latest = latest_date()
    if not EARLIEST_DATE <= day <= latest:
        raise UserError(
            f"{name} {day.isoformat()} is outside the accepted range {EARLIEST_DATE.isoformat()} .. "
            f"{latest.isoformat()} (the first bitcoin block to a year after today)"
        )


def check_date_range(start: date, end: date) -> None:
    if start >= end:
        raise UserError(f"start {start.isoformat()} is not before end {end.isoformat()}")
