"""Where Binance's public data site keeps an archive, and how its .CHECKSUM reads.

The same relative layout serves https://data.binance.vision and a local mirror
(``--from-dir``): ``data/spot/daily/<kind>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM-DD>.zip``,
``data/futures/um/daily/...`` for USD-M futures, and klines add the interval:
``data/spot/daily/klines/<SYMBOL>/<interval>/<SYMBOL>-<interval>-<YYYY-MM-DD>.zip``.
A monthly kind (fundingRate) is ``data/futures/um/monthly/<kind>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM>.zip``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sniper.ingest.config import Cadence, published_range

MARKET_ROOTS = {"spot": "data/spot", "um": "data/futures/um"}
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class ArchiveName:
    """The archive of one symbol, kind and day (for a monthly kind: the month starting on ``day``)."""

    market: str
    kind: str
    symbol: str
    day: date
    interval: str | None = None

    @property
    def cadence(self) -> Cadence:
        return published_range(self.market, self.kind).cadence  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """The period as the file names it: 2024-03-30, or 2024-03 for a monthly file.

        >>> ArchiveName("um", "fundingRate", "BTCUSDT", date(2024, 3, 1)).relative_path
        'data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-03.zip'
        """
        return self.day.strftime("%Y-%m") if self.cadence == "monthly" else self.day.isoformat()

    @property
    def stem(self) -> str:
        middle = self.interval if self.kind == "klines" else self.kind
        return f"{self.symbol}-{middle}-{self.label}"

    @property
    def zip_name(self) -> str:
        return f"{self.stem}.zip"

    @property
    def csv_name(self) -> str:
        return f"{self.stem}.csv"

    @property
    def relative_path(self) -> str:
        folder = f"{MARKET_ROOTS[self.market]}/{self.cadence}/{self.kind}/{self.symbol}"
        if self.kind == "klines":
            folder = f"{folder}/{self.interval}"
        return f"{folder}/{self.zip_name}"

    @property
    def checksum_path(self) -> str:
        return f"{self.relative_path}.CHECKSUM"


class ChecksumFormatError(ValueError):
    """A .CHECKSUM file that is not ``<sha256>  <filename>``."""


def parse_checksum(text: str, expected_name: str) -> str:
    """The lower-case sha256 a .CHECKSUM file publishes for ``expected_name``.

    >>> parse_checksum("ab" * 32 + "  BTCUSDT-trades-2024-06-01.zip\\n", "BTCUSDT-trades-2024-06-01.zip")[:4]
    'abab'
    """
    parts = text.strip().split()
    if len(parts) != 2 or not SHA256_HEX.fullmatch(parts[0]):
        raise ChecksumFormatError(f"checksum file is not '<sha256>  <filename>': {text.strip()[:120]!r}")
    digest, name = parts
    if name.lstrip("*") != expected_name:
        raise ChecksumFormatError(f"checksum file names {name!r}, expected {expected_name!r}")
    return digest.lower()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
