"""The synthetic market: deterministic, regime-true, internally consistent, with a tunable edge.

Expected values are recomputed here from the rows (pandas, statistics.NormalDist), never
taken from the generator's own bookkeeping.
"""

from __future__ import annotations

import math
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from sniper.db.scratch import drop_scratch_database
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from tests.conftest import _create_database, run_cli

FINGERPRINT_QUERY = (
    "select md5(string_agg(concat_ws(',', symbol, trade_id, ts, price, qty, is_buyer_maker), ';'"
    " order by symbol, trade_id)) from raw.trades"
)


@pytest.fixture(scope="module")
def market(pg_cluster):
    """Two months (bull then bear) of BTCUSDT with the strongest planted signal."""
    db = _create_database(pg_cluster, "synth")
    config = SynthConfig(
        symbols=["BTCUSDT"], start=date(2024, 6, 1), months=2, seed=11,
        trades_per_day=1_500, signal_strength=1.0, schedule=["bull", "bear"], icebergs_per_day=4,
    )
    with db.connect(autocommit=True) as conn:
        generate(conn, config)
    yield db
    drop_scratch_database(pg_cluster, db.name)


def _trades(db) -> pd.DataFrame:
    frame = db.frame("select * from raw.trades order by ts, trade_id")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _flow_vs_future_return(trades: pd.DataFrame, lead_minutes: int = 15) -> float:
    """Correlation of a 5-minute bucket's taker imbalance with the next `lead` minutes' return."""
    signed = np.where(trades["is_buyer_maker"], -trades["qty"], trades["qty"])
    frame = trades.assign(signed=signed).set_index("ts")
    buckets = pd.DataFrame(
        {
            "imbalance": frame["signed"].resample("5min").sum() / frame["qty"].resample("5min").sum(),
            "close": frame["price"].resample("5min").last(),
        }
    ).dropna()
    steps = lead_minutes // 5
    future = np.log(buckets["close"].shift(-steps) / buckets["close"])
    both = pd.DataFrame({"imbalance": buckets["imbalance"], "future": future}).dropna()
    return float(both["imbalance"].corr(both["future"]))


def test_same_seed_same_market_other_seed_other_market(pg_cluster):
    fingerprints = []
    for seed in (3, 3, 4):
        db = _create_database(pg_cluster, "det")
        config = SynthConfig(symbols=["ETHUSDT"], start=date(2024, 6, 1), months=1, days=2, seed=seed,
                             trades_per_day=800)
        with db.connect(autocommit=True) as conn:
            generate(conn, config)
        fingerprints.append(db.scalar(FINGERPRINT_QUERY))
        drop_scratch_database(pg_cluster, db.name)
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] != fingerprints[2]


def test_symbols_written_side_by_side_equal_one_after_the_other(pg_cluster):
    """The demo writes its symbols in forked processes: every raw row, the ledger and the
    truth tables must be what one process writing them in turn gives."""
    config = SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 1), months=1, days=2, seed=5,
                         trades_per_day=800)
    tables = {
        table: f"select md5(string_agg(t::text, ';' order by t::text)) from {table} as t"
        for table in ("raw.trades", "raw.l1_quotes", "raw.depth_bands", "raw.options_chain", "raw.klines",
                      "synth.iceberg_truth", "synth.regime_truth")
    }
    tables["raw.load_ledger"] = (
        "select md5(string_agg(concat_ws(',', source, checksum, symbol, first_ts, last_ts, rows_loaded), ';'"
        " order by source)) from raw.load_ledger"
    )
    fingerprints = []
    for side_by_side in (False, True):
        db = _create_database(pg_cluster, "par")
        with db.connect(autocommit=True) as conn:
            results = generate(conn, config,
                               open_connection=(lambda: db.connect(autocommit=True)) if side_by_side else None)
        assert [(r.symbol, r.day, r.skipped) for r in results] == [
            (symbol, date(2024, 6, day), False) for symbol in config.symbols for day in (1, 2)
        ]
        assert db.scalar("select count(distinct symbol) from raw.trades") == 2
        fingerprints.append({table: db.scalar(query) for table, query in tables.items()})
        drop_scratch_database(pg_cluster, db.name)
    assert fingerprints[0] == fingerprints[1]


def test_month_returns_follow_the_regime_schedule(market):
    trades = _trades(market)
    monthly = trades.set_index("ts")["price"].resample("MS").agg(["first", "last"])
    log_return = np.log(monthly["last"] / monthly["first"])
    truth = dict(market.rows("select month_start_date, regime from synth.regime_truth order by 1"))
    assert truth == {date(2024, 6, 1): "bull", date(2024, 7, 1): "bear"}
    assert log_return.loc["2024-06-01"] > 0.1  # bull: +0.25 drift, 0.11 monthly stdev
    assert log_return.loc["2024-07-01"] < -0.1  # bear


def test_every_trade_fills_at_the_quote_it_saw(market):
    violations = market.scalar(
        """
        select count(*) from raw.trades as t
        where not exists (
            select 1 from raw.l1_quotes as q
            where q.symbol = t.symbol and q.ts = t.ts
              and (case when t.is_buyer_maker then t.price <= q.bid_price else t.price >= q.ask_price end)
        )
        """
    )
    assert violations == 0
    crossed = market.scalar("select count(*) from raw.l1_quotes where bid_price >= ask_price")
    assert crossed == 0


def test_whale_sweeps_share_a_timestamp_and_walk_the_book(market):
    trades = _trades(market)
    groups = trades.groupby(["ts", "is_buyer_maker"])
    sizes = groups.size()
    sweeps = sizes[sizes >= 2]
    assert len(sweeps) > 50
    # Within one sweep the price moves away from the touch, one level per fill.
    for (ts, seller), _ in list(sweeps.items())[:50]:
        prices = trades.loc[(trades["ts"] == ts) & (trades["is_buyer_maker"] == seller)].sort_values("trade_id")["price"]
        steps = np.diff(prices.to_numpy())
        assert np.all(steps < 0) if seller else np.all(steps > 0), (ts, prices.tolist())


def test_planted_icebergs_execute_more_than_they_show(market):
    icebergs = market.rows("select side, price, started_at, ended_at, display_qty, refill_count from synth.iceberg_truth")
    assert len(icebergs) >= 100  # about 4 a day over 61 days
    for side, price, started, ended, display, refills in icebergs[:40]:
        executed = market.scalar(
            "select coalesce(sum(qty), 0) from raw.trades where symbol = 'BTCUSDT' and price = %s"
            " and is_buyer_maker = %s and ts between %s and %s",
            (price, side == "bid", started, ended),
        )
        shown = market.scalar(
            "select count(*) from raw.l1_quotes where symbol = 'BTCUSDT' and ts between %s - interval '1 second' and %s"
            " and (case when %s = 'bid' then bid_price = %s and bid_qty = %s else ask_price = %s and ask_qty = %s end)",
            (started, ended, side, price, display, price, display),
        )
        assert executed >= display * (refills + 1) - 1e-9
        assert shown >= refills + 1


def test_options_gamma_is_black_scholes(market):
    chain = market.frame("select * from raw.options_chain where ts = '2024-06-10 12:00+00'")
    assert len(chain) == 3 * 2 * 9
    normal = NormalDist()
    for row in chain.itertuples():
        years = (row.expiry_at - row.ts).total_seconds() / 86_400 / 365
        vol = row.mark_iv / 100
        d1 = (math.log(row.underlying_price / row.strike) + vol**2 * years / 2) / (vol * math.sqrt(years))
        expected = normal.pdf(d1) / (row.underlying_price * vol * math.sqrt(years))
        assert row.gamma == pytest.approx(expected, rel=1e-3)  # underlying_price is stored rounded to cents
    assert set(chain["option_type"]) == {"call", "put"}


def test_planted_signal_is_there_and_absent_at_strength_zero(market, pg_cluster):
    assert _flow_vs_future_return(_trades(market)) > 0.2
    db = _create_database(pg_cluster, "nosignal")
    config = SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 1), months=1, days=10, seed=11,
                         trades_per_day=1_500, signal_strength=0.0)
    with db.connect(autocommit=True) as conn:
        generate(conn, config)
    correlation = _flow_vs_future_return(_trades(db))
    drop_scratch_database(pg_cluster, db.name)
    # 2,880 buckets: the standard error of a zero correlation is about 0.019.
    assert abs(correlation) < 0.06


def test_a_decoy_tilts_the_flow_as_much_but_predicts_nothing():
    """The decoy (the forward test's "signal switched off"): the same price path, a tilt of the
    same size, and no relation between the tilt and the coming move, computed here from the path."""
    from sniper.synth.paths import build_minute_path

    informed = SynthConfig(symbols=["BTCUSDT"], start=date(2024, 6, 1), months=2, seed=11, signal_strength=0.5)
    decoy = informed.model_copy(update={"signal_source": "decoy"})
    real, fake = build_minute_path(informed, "BTCUSDT"), build_minute_path(decoy, "BTCUSDT")
    np.testing.assert_array_equal(real.log_mid, fake.log_mid)
    lead = informed.signal_lead_minutes
    coming = real.log_mid[lead:] - real.log_mid[:-lead]  # the move over the next `lead` minutes
    n = len(coming)
    assert np.corrcoef(real.tilt[:n], coming)[0, 1] > 0.9
    # 87,840 minutes, overlapping 15-minute moves: a zero correlation's standard error is about 0.013.
    assert abs(np.corrcoef(fake.tilt[:n], coming)[0, 1]) < 0.05
    assert 0.9 < fake.tilt.std() / real.tilt.std() < 1.1
    assert abs(fake.tilt).max() <= 0.5
    assert informed.fingerprint() != decoy.fingerprint()  # never mistaken for the informed market


def test_rerun_skips_what_exists_and_refuses_a_different_market(database):
    args = ["synth", "--symbols", "ETHUSDT", "--months", "1", "--days", "2", "--trades-per-day", "500"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "2 symbol-days written" in first.stdout
    trades = database.scalar("select count(*) from raw.trades")
    again = run_cli(*args)
    assert "0 symbol-days written, 2 already present" in again.stdout
    assert database.scalar("select count(*) from raw.trades") == trades

    other = run_cli(*args, "--seed", "99")
    assert other.returncode == 2
    assert "--replace" in other.stderr and other.stderr.count("\n") == 1
    replaced = run_cli(*args, "--seed", "99", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert database.scalar("select count(distinct checksum) from raw.load_ledger") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "btc-usdt"], "invalid symbol"),
        (["--symbols", "BTCUSDT,BTCUSDT"], "listed twice"),
        (["--start", "2024-13-01"], "invalid --start"),
        (["--months", "0"], "invalid --months"),
        (["--signal-strength", "1.5"], "invalid --signal-strength"),
        (["--regimes", "bull,crab"], "invalid --schedule"),
        (["--months", "1", "--days", "45"], "longer than"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(database, args, message):
    result = run_cli("synth", "--trades-per-day", "200", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert database.scalar("select count(*) from raw.trades") == 0
    assert database.scalar("select count(*) from raw.load_ledger") == 0


def test_daily_klines_summarize_the_days_trades(market):
    trades = _trades(market)
    day = trades[(trades["ts"] >= "2024-06-05") & (trades["ts"] < "2024-06-06")]
    kline = market.frame("select * from raw.klines where symbol = 'BTCUSDT' and open_at = '2024-06-05'").iloc[0]
    assert kline["interval"] == "1d"
    assert kline["open"] == day["price"].iloc[0] and kline["close"] == day["price"].iloc[-1]
    assert kline["high"] == day["price"].max() and kline["low"] == day["price"].min()
    assert kline["trade_count"] == len(day)
    assert kline["volume"] == pytest.approx(day["qty"].sum(), rel=1e-12)
    assert kline["taker_buy_volume"] == pytest.approx(day.loc[~day["is_buyer_maker"], "qty"].sum(), rel=1e-12)
    assert market.scalar("select count(*) from raw.klines") == 61
