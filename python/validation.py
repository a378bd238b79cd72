"""Checks on user input at the edge; each failure is a one-line UserError."""

from __future__ import annotations

import re
from datetime import date

from sniper.errors import UserError

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")


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
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"invalid {name} {text!r}: expected YYYY-MM-DD") from None


def check_date_range(start: date, end: date) -> None:
    if start >= end:
        raise UserError(f"start {start.isoformat()} is not before end {end.isoformat()}")
