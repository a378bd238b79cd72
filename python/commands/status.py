"""``sniper status``: the warehouse on one screen: database, raw rows, hot and cold raw sizes,
candles, coverage, backfill and training, saying "not built yet" for whatever dbt has not made yet."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from rich import box
from rich.console import Console
from rich.table import Table

from sniper.cold.sizes import tier_sizes
from sniper.commands.cold import tier_table
from sniper.db.connection import connect, resolve_target
from sniper.db.migrate import migrate
from sniper.db.status import raw_row_counts, server_version
from sniper.report import warehouse
from sniper.training.gate import READY

console = Console()
NOT_BUILT = "not built yet"
# Free-text columns (reasons, verdicts) keep at least this width and wrap; the others never wrap.
MIN_TEXT_WIDTH = 16


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("status", help="the warehouse on one screen: data, coverage, backfill, training")
    parser.set_defaults(handler=run)


def _at(value: datetime | None) -> str:
    """A timestamp in UTC, to the minute."""
    return f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M}" if value else "-"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _table(title: str, *columns: str, wrap: tuple[str, ...] = ()) -> Table:
    """A compact table; only the columns named in ``wrap`` may wrap (numbers and times never do)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        numeric = column in {"rows", "buckets", "complete", "trades", "win rate", "Sharpe", "max DD", "DSR", "PBO",
                             "SPA p", "seconds", "signals 24h", "median latency s"}
        table.add_column(column, no_wrap=column not in wrap, justify="right" if numeric else "left",
                         overflow="fold" if column in wrap else "ellipsis",
                         min_width=MIN_TEXT_WIDTH if column in wrap else None)
    return table


def _raw_table(counts) -> Table:
    table = _table("raw rows", "raw table", "rows", "first", "last")
    for row in counts:
        table.add_row(row.table, f"{row.rows:,}", _at(row.first_ts), _at(row.last_ts))
    return table


def _candles(windows: list[warehouse.CandleWindow] | None) -> Table | str:
    if windows is None:
        return f"candles: {NOT_BUILT} (run `sniper backfill run`)"
    if not windows:
        return "candles: built, but no bucket materialized yet"
    table = _table("materialized candles", "instrument", "timeframe", "first bucket", "last bucket", "buckets",
                   "complete")
    for window in sorted(windows, key=lambda w: (w.instrument, warehouse.TIMEFRAMES.index(w.timeframe))):
        table.add_row(window.instrument, window.timeframe, _at(window.first_bucket_at), _at(window.last_bucket_at),
                      f"{window.buckets:,}", _share(window.complete_share))
    return table


def _coverage(rows: list[warehouse.Coverage] | None) -> Table | str:
    if rows is None:
        return f"coverage: {NOT_BUILT} (regimes.coverage_summary)"
    if not rows:
        return "coverage: no month with a known price yet"
    table = _table("coverage vs requirement (materialized / required months)", "instrument", "months", "bull", "bear",
                   "sideways", "requirement")
    for row in rows:
        table.add_row(
            row.instrument,
            f"{row.materialized_months}/{row.required_months}",
            f"{row.bull_months}/{row.required_bull_months}",
            f"{row.bear_months}/{row.required_bear_months}",
            f"{row.sideways_months}/{row.required_sideways_months}",
            "[green]met[/]" if row.is_requirement_met else "[red]not met[/]",
        )
    return table


def _backfill(attempts: list[warehouse.BackfillAttempt] | None) -> Table | str:
    if not attempts:
        return "backfill: no attempt yet"
    table = _table("last backfill attempts", "started", "instrument", "window", "status", "rows", "seconds",
                   "reason / error", wrap=("reason / error",))
    colours = {"succeeded": "green", "failed": "red", "running": "yellow"}
    for attempt in attempts:
        table.add_row(
            _at(attempt.started_at), attempt.instrument, f"{attempt.window_start_date} +{attempt.window_days}d",
            f"[{colours.get(attempt.status, 'white')}]{attempt.status}[/]",
            "-" if attempt.rows_written is None else f"{attempt.rows_written:,}",
            "-" if attempt.duration_seconds is None else f"{attempt.duration_seconds:.1f}",
            attempt.error or attempt.reason,
        )
    return table


def _training(runs: list[warehouse.TrainingRun] | None) -> list[Table | str]:
    if not runs:
        return ["training: no run yet (run `sniper train`)"]
    current = runs[0]
    colour = "green" if current.verdict == READY else "yellow"
    table = _table("last training runs", "created", "run", "trades", "win rate", "Sharpe", "max DD", "DSR", "PBO",
                   "SPA p", "verdict", wrap=("verdict",))
    for run in runs:
        table.add_row(_at(run.created_at), run.run_id, f"{run.n_trades:,}", _share(run.win_rate),
                      _number(run.sharpe, 2), _share(run.max_drawdown), _number(run.deflated_sharpe, 3),
                      _number(run.pbo, 3), _number(run.spa_p_value, 3), run.verdict)
    return [table, f"current verdict: [bold {colour}]{current.verdict}[/] (run {current.run_id}, "
                   f"{_at(current.created_at)})"]


def _live(conn) -> list[Table | str]:
    """Deployments, the newest signals and the forward record beside the walk-forward one."""
    from sniper.live.deployments import current_deployments
    from sniper.live.forward import evaluate_forward
    from sniper.training.gate import EnoughDataConfig

    deployments = current_deployments(conn)
    if not deployments:
        return ["live: no model deployed (`sniper deploy --run ID`, the weekly retrain deploys as paper)"]
    table = _table("deployed models", "instrument", "status", "run", "since", "last bucket scored", "signals 24h",
                   "median latency s")
    for d in deployments:
        newest, signals, latency = conn.execute(
            "select max(bucket_start_at), count(*) filter (where side is not null and created_at > now() - interval"
            " '1 day'), percentile_cont(0.5) within group (order by latency_seconds) filter (where created_at >"
            " now() - interval '1 day') from ml.entry_signals where exchange = %s and market = %s and symbol = %s"
            " and run_id = %s", (d.instrument.exchange, d.instrument.market, d.instrument.symbol, d.run_id),
        ).fetchone()
        table.add_row(d.instrument.key, d.status, d.run_id, _at(d.deployed_at), _at(newest), f"{signals:,}",
                      _number(latency, 1))
    sections: list[Table | str] = [table]
    line = EnoughDataConfig().min_weekly_win_rate
    for run_id in sorted({d.run_id for d in deployments}):
        record = evaluate_forward(conn, "run", run_id)
        if not record.outcomes:
            sections.append(f"forward record of {run_id}: no completed signal yet")
            continue
        o = record.overall
        weeks = "  ".join(f"{w.week[5:]} {w.win_rate:.0%}{'' if w.win_rate > line else '!'}" for w in record.weeks[-8:])
        sections += [
            f"forward record of {run_id}: {int(o['n_trades'])} trades, win rate {_share(o['win_rate'])}, "
            f"Sharpe {_number(o['sharpe'], 2)}, max DD {_share(o['max_drawdown'])}, long share {_share(o['long_share'])}",
            f"  weekly win rate (line {line:.0%}, ! below): {weeks}",
            f"  {record.expectation.message}" if record.expectation else "",
            f"  enough data: {'[green]yes[/]' if record.is_enough else 'not yet'} ("
            + "; ".join(f"{'PASS' if c.passed else 'FAIL'} {c.name}" for c in record.enough) + ")",
            f"  {record.diagnosis.message}",
            *(f"  [red]ALARM[/] {alarm.message}" for alarm in record.alarms),
        ]
    return [section for section in sections if section != ""]


def run(_: argparse.Namespace) -> int:
    target = resolve_target()
    if target.embedded is not None and not target.embedded.is_running():
        console.print(f"database: embedded, stopped ({target.embedded.pgdata}); `sniper db start` starts it")
        return 0
    with connect(target) as conn:
        migrate(conn)
        version = server_version(conn)
        counts = raw_row_counts(conn)
        sections = [
            _raw_table(counts),
            tier_table(tier_sizes(conn, {row.table: row.rows for row in counts})),
            _candles(warehouse.candle_windows(conn)),
            _coverage(warehouse.coverage(conn)),
            _backfill(warehouse.backfill_attempts(conn)),
            *_training(warehouse.training_runs(conn)),
            *(_live(conn) if warehouse.relation_exists(conn, "ml.deployments") else []),
        ]
    console.print(f"database: {target.kind}, {version}, {target.display} (times in UTC)")
    for section in sections:
        console.print(section)
    return 0
