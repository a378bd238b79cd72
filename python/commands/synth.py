"""``sniper synth``: generate the deterministic synthetic regime market into the raw schema."""

from __future__ import annotations

import argparse
import sys
import time

from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sniper.db.connection import connect
from sniper.db.migrate import migrate
from sniper.errors import UserError
from sniper.synth.config import SynthConfig
from sniper.synth.writer import days_of, delete_synthetic, generate
from sniper.validation import check_in_range, parse_date, parse_symbols


def _default(field: str):
    """SynthConfig's default: the one place it is decided."""
    return SynthConfig.model_fields[field].default


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("synth", help="generate a synthetic market with known regimes and signal")
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    parser.add_argument("--start", default="2024-06-01", help="first day, YYYY-MM-DD")
    parser.add_argument("--months", type=int, default=_default("months"), help="calendar months to generate")
    parser.add_argument("--days", type=int, help="stop after this many days (benchmarks)")
    parser.add_argument("--seed", type=int, default=_default("seed"))
    parser.add_argument("--trades-per-day", type=int, default=_default("trades_per_day"), help="per symbol")
    parser.add_argument("--signal-strength", type=float, default=_default("signal_strength"),
                        help="0 = no planted edge, 1 = strongest; the default is calibrated (docs/evaluation.md)")
    parser.add_argument("--signal-source", choices=["informed", "decoy"], default=_default("signal_source"),
                        help="decoy: the same tilted flow, predicting nothing (a signal switched off)")
    parser.add_argument("--regimes", help="comma-separated monthly schedule, e.g. bull,bear,sideways (cycles)")
    parser.add_argument("--replace", action="store_true", help="delete an existing synthetic market first")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    fields = {
        "symbols": parse_symbols(args.symbols),
        "start": parse_date(args.start, name="--start"),
        "months": args.months,
        "days": args.days,
        "seed": args.seed,
        "trades_per_day": args.trades_per_day,
        "signal_strength": args.signal_strength,
        "signal_source": args.signal_source,
    }
    if args.regimes:
        fields["schedule"] = [part.strip() for part in args.regimes.split(",")]
    try:
        config = SynthConfig(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        raise UserError(f"invalid --{where.split('.')[0].replace('_', '-')}: {first['msg']}") from None
    check_in_range(days_of(config)[-1], name="the market's last day")
    return config


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    started = time.perf_counter()
    with connect(autocommit=True) as conn:
        migrate(conn)
        if args.replace:
            delete_synthetic(conn, config.symbols)
        total_days = len(days_of(config)) * len(config.symbols)
        with Progress(
            TextColumn("[bold]synth[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not sys.stderr.isatty(),
            console=None,
        ) as progress:
            task = progress.add_task("symbol-days", total=total_days)

            def advance(result) -> None:
                progress.update(task, advance=1, description=f"{result.symbol} {result.day}")

            results = generate(conn, config, on_day=advance)
    written = [r for r in results if not r.skipped]
    trades = sum(r.trades for r in written)
    quotes = sum(r.quotes for r in written)
    elapsed = time.perf_counter() - started
    print(
        f"synth: {len(written)} symbol-days written, {len(results) - len(written)} already present; "
        f"{trades:,} trades, {quotes:,} L1 quotes in {elapsed:.1f} s"
    )
    return 0
