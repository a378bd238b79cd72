"""The --symbols / --market / --exchange options of every command that reads the warehouse.

Omitted, an option does not filter: `sniper backfill run` covers every instrument with
loaded data, `--symbols BTCUSDT` both its spot and USD-M instruments when both are loaded,
`--symbols BTCUSDT --market um` the perpetual alone. A symbol the warehouse does not hold
in the asked market is a one-line error, before anything is written.
"""

from __future__ import annotations

import argparse

import psycopg

from sniper.instruments import EXCHANGE_PATTERN, MARKETS, Instrument, select_instruments
from sniper.errors import UserError
from sniper.validation import parse_symbols


def add_instrument_arguments(parser: argparse.ArgumentParser, *, symbols_help: str) -> None:
    parser.add_argument("--symbols", help=symbols_help)
    parser.add_argument("--market", choices=MARKETS, help="spot or um (USD-M perpetual); default: every market")
    parser.add_argument("--exchange", help="e.g. binance or synthetic; default: every exchange")


def requested_filters(args: argparse.Namespace) -> tuple[list[str] | None, str | None, str | None]:
    """The options, checked before anything is connected or written."""
    symbols = parse_symbols(args.symbols) if args.symbols is not None else None
    if args.exchange is not None and not EXCHANGE_PATTERN.fullmatch(args.exchange):
        raise UserError(f"invalid exchange {args.exchange!r}: expected lower-case letters, digits or _, e.g. binance")
    return symbols, args.market, args.exchange


def chosen_instruments(
    conn: psycopg.Connection, filters: tuple[list[str] | None, str | None, str | None]
) -> list[Instrument]:
    from sniper.backfill.planner import known_instruments

    symbols, market, exchange = filters
    return select_instruments(known_instruments(conn), symbols=symbols, market=market, exchange=exchange)
