"""The report as one self-contained HTML page: verdict, reasons, criteria, charts and tables.

Everything is inline (CSS, SVG charts); a Content-Security-Policy forbids the browser from
fetching anything, so the page shows the same offline, in a mail attachment or an archive.
"""

from __future__ import annotations

import json
import math
from datetime import timezone
from html import escape
from string import Template

import pandas as pd

from sniper.report import plots
from sniper.report.data import ReportData
from sniper.training.gate import READY, AlarmConfig, Criterion, EnoughDataConfig, GateConfig

PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>sniper report: $run_id</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1240px;
       color: #1f1f1f; background: #ffffff; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 12px 0; }
.verdict { padding: 12px 16px; border-radius: 6px; font-size: 20px; font-weight: 700; margin: 12px 0; }
.verdict.ready { background: #e3f4e8; border: 2px solid #2f7d46; color: #1d5a31; }
.verdict.keep { background: #fff4e0; border: 2px solid #b36b00; color: #7a4800; }
.verdict small { font-weight: 400; font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 10px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.pass td.result { color: #1d5a31; font-weight: 700; }
tr.fail td.result { color: #a0141e; font-weight: 700; }
.urgent { color: #a0141e; font-weight: 700; }
.plot svg { max-width: 100%; height: auto; }
.note { color: #666; font-style: italic; }
ul { margin: 4px 0 8px 0; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; }
</style>
</head>
<body>
$body
</body>
</html>
""")


def _fmt(value, kind: str = "num") -> str:
    """A figure for a table cell: ``n/a`` for null or nan, percentages for shares."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bool)) and pd.isna(value)
    ):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return escape(value)
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:.3f}"


def _table(headers: list[str], rows: list[list[str]], *, table_id: str, row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = []
    for index, cells in enumerate(rows):
        css = f' class="{row_classes[index]}"' if row_classes else ""
        body.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _td(text: str, css: str = "") -> str:
    return f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>"


def _threshold(criteria: list[Criterion], prefix: str, default: float) -> float:
    """The run's own gate threshold for the criterion whose name starts with ``prefix``."""
    for criterion in criteria:
        if criterion.name.startswith(prefix) and not isinstance(criterion.threshold, bool):
            return float(criterion.threshold)
    return default


def _side_limit(data: ReportData) -> float:
    for alarm in data.run.alarms:
        if alarm.kind == "side_bias":
            return alarm.threshold
    return AlarmConfig().max_side_share


def _plot(title: str, svg: str | None, missing: str, plot_id: str) -> str:
    body = f'<div class="plot" id="{plot_id}">{svg}</div>' if svg else f'<p class="note" id="{plot_id}">{escape(missing)}</p>'
    return f"<h2>{escape(title)}</h2>\n{body}"


def header(data: ReportData) -> str:
    run = data.run
    ready = run.verdict == READY
    return (
        f"<h1>sniper model report: {escape(run.run_id)}</h1>\n"
        f'<p class="meta">{escape(run.model_kind)} model trained {run.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC on '
        f"{run.train_start_date} .. {run.data_end_date} (data from {run.data_start_date}); features "
        f"{escape(', '.join(run.features))} ({len(run.feature_columns)} columns); code {escape(run.code_version)}; "
        f"artifacts {escape(run.artifact_dir)}</p>\n"
        f'<div class="verdict {"ready" if ready else "keep"}" id="verdict">{escape(run.verdict)} '
        f"<small>(exit code {run.exit_code})</small></div>"
    )


def reasons(data: ReportData) -> str:
    """Why the verdict is what it is: failed criteria, alarms, the data diagnosis."""
    run = data.run
    failed = [criterion for criterion in run.criteria if not criterion.passed]
    parts = ["<h2>Why</h2>"]
    if failed:
        items = "".join(f"<li>{escape(criterion.line())}</li>" for criterion in failed)
        parts.append(f'<p>Criteria that failed:</p><ul id="failed-criteria">{items}</ul>')
    else:
        parts.append('<p id="failed-criteria">Every criterion passed.</p>')
    if run.alarms:
        items = "".join(f"<li><b>{escape(alarm.kind)}</b>: {escape(alarm.message)}</li>" for alarm in run.alarms)
        parts.append(f'<p>Alarms:</p><ul id="alarms">{items}</ul>')
    else:
        parts.append('<p id="alarms">No alarm.</p>')
    diagnosis = run.diagnosis
    css = ' class="urgent"' if diagnosis.urgent else ""
    items = "".join(f"<li>{escape(reason)}</li>" for reason in diagnosis.reasons)
    scarcest = f" Scarcest regime in training: <b>{escape(diagnosis.scarcest_regime)}</b>." if diagnosis.scarcest_regime else ""
    parts.append(f'<div id="diagnosis"><p{css}>{escape(diagnosis.message)}</p>'
                 f'{f"<ul>{items}</ul>" if items else ""}<p>{scarcest}</p></div>')
    return "\n".join(parts)


def criteria_table(data: ReportData) -> str:
    rows, classes = [], []
    for criterion in data.run.criteria:
        value = criterion.value
        shown = _fmt(value) if not isinstance(value, bool) else str(value)
        limit = str(criterion.threshold) if isinstance(criterion.threshold, bool) else _fmt(criterion.threshold)
        rows.append([_td(escape(criterion.name)), _td(shown, "num"), _td(escape(criterion.comparison)),
                     _td(limit, "num"), _td("PASS" if criterion.passed else "FAIL", "result"),
                     _td(escape(criterion.note))])
        classes.append("pass" if criterion.passed else "fail")
    table = _table(["criterion", "value", "", "threshold", "result", "note"], rows, table_id="criteria",
                   row_classes=classes)
    return f"<h2>Go-live gate</h2>\n{table}"


def headline_table(data: ReportData) -> str:
    run = data.run
    cells = [
        ("walk-forward test trades", _fmt(run.n_trades, "int")),
        ("win rate (gate's months, pooled)", _fmt(run.win_rate, "pct")),
        ("Sharpe ratio", _fmt(run.sharpe)),
        ("maximum drawdown", _fmt(run.max_drawdown, "pct")),
        ("long share", _fmt(run.long_share, "pct")),
        ("probabilistic Sharpe ratio", _fmt(run.probabilistic_sharpe)),
        ("deflated Sharpe ratio", _fmt(run.deflated_sharpe)),
        ("probability of backtest overfitting", _fmt(run.pbo)),
        ("SPA p-value against the baselines (largest)", _fmt(run.spa_p_value)),
    ]
    rows = [[_td(escape(name)), _td(value, "num")] for name, value in cells]
    return "<h2>Headline figures</h2>\n" + _table(["figure", "value"], rows, table_id="headline") + baseline_table(data)


def _daily(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3%}"


def baseline_table(data: ReportData) -> str:
    """The model against each baseline over the walk-forward test days (runs before issue 16 have none)."""
    tests = data.run.baseline_tests
    if not tests:
        return ""
    rows = [[_td(escape(test.baseline.replace("_", " "))), _td(_daily(test.model_mean_return), "num"),
             _td(_daily(test.baseline_mean_return), "num"), _td(_fmt(test.p_value), "num"),
             _td(_fmt(test.n_days, "int"), "num"), _td(escape(test.note))] for test in tests]
    return ("<p>The model against entries as many per day as its own, at random buckets (random side, "
            "always long, always short), on the same test days; SPA p-value that the model's daily returns "
            "beat the baseline's (docs/evaluation.md).</p>"
            + _table(["baseline", "model mean daily return", "baseline mean daily return", "SPA p-value", "days",
                      "note"], rows, table_id="baseline-tests"))


def regime_table(data: ReportData) -> str:
    if data.regimes.empty:
        return ""
    rows = [
        [_td(escape(row.evaluation)), _td(escape(row.regime)), _td(_fmt(row.n_trades, "int"), "num"),
         _td(_fmt(row.win_rate, "pct"), "num"), _td(_fmt(row.sharpe), "num"), _td(_fmt(row.sortino), "num"),
         _td(_fmt(row.max_drawdown, "pct"), "num"), _td(_fmt(row.long_share, "pct"), "num")]
        for row in data.regimes.itertuples()
    ]
    return _table(["evaluation", "regime", "trades", "win rate", "Sharpe", "Sortino", "max drawdown", "long share"],
                  rows, table_id="regime-metrics")


def coverage_summary_table(data: ReportData) -> str:
    summary = data.coverage_summary
    if summary is None:
        return '<p class="note" id="coverage-summary">Coverage summary: not built yet (regimes.coverage_summary).</p>'
    rows = []
    for row in summary.itertuples():
        counts = [(row.materialized_months, row.required_months), (row.bull_months, row.required_bull_months),
                  (row.bear_months, row.required_bear_months), (row.sideways_months, row.required_sideways_months)]
        rows.append([_td(escape(row.instrument))] + [_td(f"{int(have)} / {int(need)}", "num") for have, need in counts]
                    + [_td("met" if row.is_requirement_met else "not met", "result")])
    return _table(["instrument", "materialized months", "bull", "bear", "sideways", "requirement"],
                  rows, table_id="coverage-summary",
                  row_classes=["pass" if met else "fail" for met in summary["is_requirement_met"]])


def feature_coverage_table(data: ReportData) -> str:
    """Per requested feature group and month, the share of the run's rows where its columns hold values."""
    coverages = data.run.feature_coverage
    if not coverages:
        return '<p class="note" id="feature-coverage">Feature coverage: not recorded (a run from before it was).</p>'
    months = sorted({month for coverage in coverages for month in coverage.by_month})
    rows = [[_td(escape(coverage.group)), _td(_fmt(coverage.overall, "pct"), "num")]
            + [_td(_fmt(coverage.by_month[month], "pct") if month in coverage.by_month else "-", "num")
               for month in months] for coverage in coverages]
    return "<h2>Feature coverage</h2>\n" + _table(["feature group", "all rows", *months], rows,
                                                   table_id="feature-coverage")


def importance_table(data: ReportData) -> str:
    ranked = plots.ranked_importance(data.run.feature_importance)
    if len(ranked) <= plots.MAX_FEATURES_SHOWN:
        return ""
    rows = [[_td(escape(column)), _td(_fmt(share, "pct"), "num")] for column, share in ranked]
    return "<details><summary>All feature columns</summary>" + _table(
        ["column", "share"], rows, table_id="importance") + "</details>"


def forward_section(data: ReportData) -> str:
    """The forward record beside the walk-forward results: figures, rules, alarms, weekly win
    rate with the 55 % line, forward equity."""
    record = data.forward
    if record is None:
        return ("<h2>Forward record</h2>\n<p id=\"forward-none\">No live or paper signal of this run has a complete "
                "label yet (ml.forward_outcomes).</p>")
    o = record.overall
    rows = [["trades", _fmt(o["n_trades"], "int")], ["win rate", _fmt(o["win_rate"], "pct")],
            ["Sharpe (daily)", _fmt(o["sharpe"])], ["max drawdown", _fmt(o["max_drawdown"], "pct")],
            ["long share", _fmt(o["long_share"], "pct")]]
    if record.expectation is not None:
        rows.append(["forward vs walk-forward", escape(record.expectation.message)])
    rows += [["enough data", escape(c.line())]
             for c in record.enough]
    rows.append(["diagnosis", escape(record.diagnosis.message)])
    rows += [["ALARM", escape(alarm.message)] for alarm in record.alarms]
    line = EnoughDataConfig().min_weekly_win_rate
    equity = record.equity.rename("equity").reset_index().assign(fold="forward")
    return "\n".join([
        "<h2>Forward record</h2>",
        _table(["figure", "value"], rows, table_id="forward"),
        _plot("Forward win rate per week", plots.weekly_win_rate(record.weeks, threshold=line) if record.weeks
              else None, "No forward week with a trade.", "plot-forward-weeks"),
        _plot("Forward equity", plots.equity_curve(equity, data.month_regimes) if len(equity) > 1 else None,
              "No forward trade has exited yet.", "plot-forward-equity"),
    ])


def render(data: ReportData) -> str:
    """The whole page for one run."""
    run = data.run
    gate = GateConfig()
    min_win_rate = _threshold(run.criteria, "win rate", gate.min_win_rate)
    min_sharpe = _threshold(run.criteria, "Sharpe", gate.min_sharpe)
    max_drawdown = _threshold(run.criteria, "maximum drawdown", gate.max_drawdown)
    sections = [
        header(data),
        reasons(data),
        criteria_table(data),
        headline_table(data),
        _plot("Equity curve (walk-forward test folds)",
              plots.equity_curve(data.equity, data.month_regimes) if len(data.equity) else None,
              "No walk-forward trade was taken: no equity to draw.", "plot-equity"),
        _plot("Win rate per test month",
              plots.win_rate_bars(data.months, threshold=min_win_rate, alarms=run.alarms) if len(data.months) else None,
              "No walk-forward test month.", "plot-winrate"),
        _plot("Sharpe and drawdown per regime",
              plots.regime_performance(data.regimes, min_sharpe=min_sharpe, max_drawdown=max_drawdown)
              if len(data.regimes) else None,
              "No trade in any regime.", "plot-regimes") + regime_table(data),
        _plot("Long / short share",
              plots.side_shares(run.long_share, data.months, max_side_share=_side_limit(data)),
              "", "plot-sides"),
        _plot("Feature importance",
              plots.feature_importance(run.feature_importance) if run.feature_importance else None,
              "The run recorded no feature importance.", "plot-importance") + importance_table(data),
        forward_section(data),
        feature_coverage_table(data),
        _plot("Regime coverage",
              plots.coverage_heatmap(data.coverage) if data.coverage is not None and len(data.coverage) else None,
              "Regime coverage: not built yet (regimes.regime_coverage; run `sniper backfill run` or `sniper dbt build`)."
              if data.coverage is None else "Regime coverage is empty: no month has a known price yet.",
              "plot-coverage") + coverage_summary_table(data),
        "<h2>Parameters</h2>\n<pre id=\"params\">" + escape(json.dumps(run.params, indent=2, sort_keys=True,
                                                                         default=str)) + "</pre>",
    ]
    return PAGE.substitute(run_id=escape(run.run_id), body="\n".join(sections))
