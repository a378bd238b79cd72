"""``sniper demo``: the whole job end to end on the configured (by default embedded) database.

Each stage reuses what already exists, so a second run is fast.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date

from rich.console import Console

from sniper.db.connection import connect, resolve_target
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.synth.config import SynthConfig
from sniper.synth.writer import generate
from sniper.warehouse import invoke_dbt

console = Console(stderr=True)
DEMO_MARKET = SynthConfig(symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 1), months=6, seed=7)


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("demo", help="run the whole pipeline on a synthetic 6-month market")
    parser.set_defaults(handler=run)


def _stage(number: int, total: int, name: str, work: Callable[[], str]) -> None:
    started = time.perf_counter()
    console.print(f"[bold][{number}/{total}][/] {name} ...")
    summary = work()
    console.print(f"      {summary} ({time.perf_counter() - started:.1f} s)")


def run(_: argparse.Namespace) -> int:
    target = resolve_target()
    stages: list[tuple[str, Callable[[], str]]] = [
        ("database", lambda: _database(target)),
        ("synthetic market: 2 symbols x 6 months (bull, bear, sideways)", _market),
        ("dbt build", _dbt_build),
    ]
    for number, (name, work) in enumerate(stages, start=1):
        _stage(number, len(stages), name, work)
    return 0


def _database(target) -> str:
    with connect(target) as conn:
        migrate(conn)
    return f"{target.kind}: {target.display}"


def _market() -> str:
    def progress(result) -> None:
        if result.day.day == 1 and not result.skipped:
            console.print(f"      {result.symbol} {result.day:%Y-%m} ...")

    with connect(autocommit=True) as conn:
        results = generate(conn, DEMO_MARKET, on_day=progress)
    written = [r for r in results if not r.skipped]
    return f"{len(written)} symbol-days written, {len(results) - len(written)} reused"


def _dbt_build() -> str:
    result = invoke_dbt(["build", "--quiet"])
    if not result.success:
        raise UserError("dbt build failed; run `sniper dbt build` to see the failing models and tests")
    return f"{len(result.result or [])} nodes built and tested"
