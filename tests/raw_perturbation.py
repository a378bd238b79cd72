"""The look-ahead tests' perturbation: every raw event at or after a time changed, new ones added at it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestDatabase


def perturb_raw_from(db: TestDatabase, cutoff: pd.Timestamp) -> None:
    """Change every raw event at or after `cutoff` (sizes, prices, sides, depth, greeks, open
    interest) and add trades and quotes exactly at it."""
    with db.connect() as conn:
        conn.execute(
            "insert into raw.trades select exchange, market, symbol, trade_id + 1000000000000, %s, price * 0.97,"
            " qty * 50, quote_qty * 48.5, not is_buyer_maker from raw.trades where ts >= %s"
            " order by ts limit 20", (cutoff, cutoff),
        )
        conn.execute(
            "update raw.trades set qty = qty * 3, quote_qty = quote_qty * 3 * 1.01, price = price * 1.01,"
            " is_buyer_maker = not is_buyer_maker where ts >= %s", (cutoff,),
        )
        conn.execute(
            "insert into raw.l1_quotes select exchange, market, symbol, update_id + 1000000000000, %s,"
            " bid_price * 0.99, bid_qty * 9, ask_price * 1.01, ask_qty / 9 from raw.l1_quotes where ts >= %s"
            " order by ts limit 5", (cutoff, cutoff),
        )
        conn.execute(
            "update raw.l1_quotes set bid_qty = bid_qty * 2, ask_qty = ask_qty / 2, bid_price = bid_price + 0.5,"
            " ask_price = ask_price + 0.5 where ts >= %s", (cutoff,),
        )
        conn.execute("update raw.depth_bands set depth = depth * 3 where side = 'bid' and ts >= %s", (cutoff,))
        conn.execute(
            "update raw.options_chain set gamma = gamma * 5, open_interest = open_interest + 100,"
            " mark_iv = mark_iv * 1.5 where ts >= %s", (cutoff,),
        )
