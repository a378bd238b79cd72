"""``sniper demo``: the whole job end to end on the configured (by default embedded) database.

Synthetic 8-month market for 2 symbols (bull, bear and sideways months, a planted
order-flow signal of the calibrated default strength) -> the backfill flow until coverage
is met -> training with walk-forward and leave-one-regime-out -> the verdict -> the HTML
report. Every stage reuses what exists: a second run regenerates nothing, materializes
nothing and only retrains.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from datetime import date

from rich.console import Console

from sniper.db.connection import connect, resolve_target
from sniper.db.migrate import migrate
from sniper.prefect_env import quiet_prefect, start_temporary_server
from sniper.warehouse import DbtFailed, parse_project
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate

console = Console(stderr=True)
# Eight months: walk-forward (4 months train, 2 test, stepping 2) gets two folds and four
# test months, so the gate's win rate over the last 3 test months is really computed.
# 2,000 trades a day per symbol keep the whole demo within a few minutes.
DEMO_MARKET = SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 1), months=8, seed=7,
                          trades_per_day=2_000)
# The nightly job materializes one 7-day window per symbol per night; the demo compresses
# those nights into quarter-long windows (the longest dbt accepts) so the whole job fits in
# a few minutes: three windows per symbol cover the eight months.
DEMO_WINDOW_DAYS = 92


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("demo", help="run the whole pipeline on a synthetic 8-month market")
    parser.set_defaults(handler=run)


def _stage(number: int, total: int, name: str, work: Callable[[], str]) -> None:
    started = time.perf_counter()
    console.print(f"[bold][{number}/{total}][/] {name} ...")
    summary = work()
    console.print(f"      {summary} ({time.perf_counter() - started:.1f} s)")


def run(_: argparse.Namespace) -> int:
    quiet_prefect()
    target = resolve_target()
    outcome: dict = {}
    # Work the market stage starts for the backfill (the Prefect server, the dbt parse),
    # joined before the backfill needs it.
    background: list[threading.Thread] = []
    stages: list[tuple[str, Callable[[], str]]] = [
        ("database", lambda: _database(target)),
        (f"synthetic market: 2 symbols x {DEMO_MARKET.months} months (bull, bear, sideways), planted signal "
         f"{DEMO_MARKET.signal_strength:g}", lambda: _market(background)),
        ("backfill until the coverage requirement is met", lambda: _backfill(background)),
        ("training: walk-forward (4 months train, 2 test) and leave-one-regime-out", lambda: _train(outcome)),
        ("report", lambda: _report(outcome)),
    ]
    for number, (name, work) in enumerate(stages, start=1):
        _stage(number, len(stages), name, work)
    trained = outcome["train"]
    console.print(trained.report)
    for alarm in trained.alarms:
        console.print(f"ALARM  {alarm}")
    console.print(trained.diagnosis)
    console.print(f"[bold]{trained.verdict}[/]  report: {outcome['report_path']}")
    return 0


def _database(target) -> str:
    with connect(target) as conn:
        migrate(conn)
    return f"{target.kind}: {target.display}"


def _market(background: list[threading.Thread]) -> str:
    def progress(result) -> None:
        if result.day.day == 1 and not result.skipped:
            console.print(f"      {result.symbol} {result.day:%Y-%m} ...")

    def prepare_backfill() -> None:
        # The backfill flow's temporary Prefect server starts, and dbt parses the project,
        # while the market is written (each took 10-20 s after it, one core busy).
        def work() -> None:
            start_temporary_server()
            try:
                parse_project()
            except DbtFailed:
                pass  # the backfill's first build parses again and reports what is wrong

        thread = threading.Thread(target=work, name="prepare-backfill", daemon=True)
        thread.start()
        background.append(thread)

    with connect(autocommit=True) as conn:
        # One process per symbol (two cores here): the market took 111 s one symbol after the other.
        results = generate(conn, DEMO_MARKET, on_day=progress, open_connection=lambda: connect(autocommit=True),
                           on_writers_started=prepare_backfill)
    written = [r for r in results if not r.skipped]
    return f"{len(written)} symbol-days written, {len(results) - len(written)} reused"


def _backfill(background: list[threading.Thread]) -> str:
    from sniper.flows.backfill import backfill

    while background:
        background.pop().join()

    windows = backfill(weeks=12, instruments=[instrument.key for instrument in DEMO_MARKET.instruments],
                       window_days=DEMO_WINDOW_DAYS, sleep_seconds=0)
    with connect() as conn:
        met = conn.execute(
            "select exchange || ':' || market || ':' || symbol, is_requirement_met from regimes.coverage_summary"
            " order by exchange, market, symbol"
        ).fetchall()
    state = ", ".join(f"{instrument} {'met' if ok else 'NOT met'}" for instrument, ok in met)
    return f"{len(windows)} windows materialized; coverage requirement: {state}"


def _train(outcome: dict) -> str:
    from sniper.flows.train import train

    outcome["train"] = trained = train()
    return f"run {trained.run_id}: {trained.verdict}"


def _report(outcome: dict) -> str:
    from sniper.commands.report import write_report

    outcome["report_path"] = str(write_report(outcome["train"].run_id))
    return outcome["report_path"]
