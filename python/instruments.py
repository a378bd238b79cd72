"""An instrument is (exchange, market, symbol): the spot BTCUSDT and the USD-M perpetual
BTCUSDT of one exchange are two instruments, and nothing ever aggregates them together.

Every layer keys by all three (raw, staging, candles, features, regimes, labels, the
training dataset, runs, predictions, the backfill ledger). Where one value has to name an
instrument (a dbt var, a log line, a report heading) it is the key ``exchange:market:symbol``
(``binance:um:BTCUSDT``), which :meth:`Instrument.parse` reads back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from sniper.errors import UserError
from sniper.validation import SYMBOL_PATTERN

Market = Literal["spot", "um"]
MARKETS: tuple[str, ...] = get_args(Market)
EXCHANGE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
# The key's pattern, built from its parts' (dbt_vars.py checks the var `instruments` with it).
INSTRUMENT_KEY_PATTERN = re.compile(
    f"^{EXCHANGE_PATTERN.pattern.strip('^$')}:({'|'.join(MARKETS)}):{SYMBOL_PATTERN.pattern.strip('^$')}$"
)


@dataclass(frozen=True, order=True)
class Instrument:
    exchange: str
    market: str
    symbol: str

    def __post_init__(self) -> None:
        if not INSTRUMENT_KEY_PATTERN.fullmatch(f"{self.exchange}:{self.market}:{self.symbol}"):
            raise ValueError(f"not an instrument: {self.exchange!r}, {self.market!r}, {self.symbol!r}")

    @property
    def key(self) -> str:
        """``exchange:market:symbol``.

        >>> Instrument("binance", "um", "BTCUSDT").key
        'binance:um:BTCUSDT'
        """
        return f"{self.exchange}:{self.market}:{self.symbol}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, key: str) -> Instrument:
        """The instrument of a key, or a one-line UserError.

        >>> Instrument.parse("synthetic:spot:ETHUSDT")
        Instrument(exchange='synthetic', market='spot', symbol='ETHUSDT')
        """
        if not INSTRUMENT_KEY_PATTERN.fullmatch(key):
            raise UserError(f"invalid instrument {key!r}: expected exchange:market:SYMBOL, e.g. binance:um:BTCUSDT")
        exchange, market, symbol = key.split(":")
        return cls(exchange, market, symbol)


def select_instruments(
    known: Iterable[Instrument],
    *,
    symbols: Sequence[str] | None = None,
    market: str | None = None,
    exchange: str | None = None,
) -> list[Instrument]:
    """The known instruments a command's --symbols / --market / --exchange name (each None: any).

    A symbol the warehouse does not hold in the asked market is a one-line UserError.

    >>> held = [Instrument("binance", "spot", "BTCUSDT"), Instrument("binance", "um", "BTCUSDT")]
    >>> [i.key for i in select_instruments(held, symbols=["BTCUSDT"], market="um")]
    ['binance:um:BTCUSDT']
    >>> [i.key for i in select_instruments(held)]
    ['binance:spot:BTCUSDT', 'binance:um:BTCUSDT']
    """
    known = sorted(set(known))
    chosen = [
        instrument for instrument in known
        if (market is None or instrument.market == market)
        and (exchange is None or instrument.exchange == exchange)
        and (symbols is None or instrument.symbol in symbols)
    ]
    for symbol in symbols or ():
        if not any(instrument.symbol == symbol for instrument in chosen):
            where = " ".join(part for part in (exchange, market) if part)
            held = ", ".join(i.key for i in known if i.symbol == symbol) or "none"
            raise UserError(
                f"no loaded data for {symbol}{' ' + where if where else ''} (held for this symbol: {held})"
            )
    return chosen
