"""The report's charts, each a matplotlib figure returned as inline SVG markup.

Figures are built with matplotlib's object API (``Figure``, no pyplot), so no GUI
backend is ever selected and nothing global is left behind. SVG text is drawn as
paths (no fonts to fetch), and every link to the outside (DOCTYPE, RDF metadata,
XML namespaces, which HTML5 does not need for inline ``<svg>``) is stripped: the page
references no URL at all. Elements a reader (or a test) may want to find carry an
``id`` (matplotlib's ``gid``): ``winrate-bar-<month>``, ``alarm-<month>``,
``band-<month>-<regime>``, ``equity-<fold>``, ``coverage-cell-<instrument>-<month>-<state>``,
``importance-<column>``, ``sharpe-<evaluation>-<regime>``, ``drawdown-<evaluation>-<regime>``,
``side-long-overall`` and ``side-long-<month>``.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from sniper.training.gate import Alarm

REGIME_ORDER = ("bull", "bear", "sideways")
REGIME_COLOURS = {"bull": "#1a9850", "bear": "#d73027", "sideways": "#4575b4"}
UNLABELLED_COLOUR = "#9e9e9e"
LONG_COLOUR, SHORT_COLOUR = "#3b6fb6", "#e08a2c"
ALARM_COLOUR = "#b2182b"
FOLD_COLOURS = ("#222222", "#6a3d9a", "#8c510a", "#01665e", "#542788", "#7f3b08")
BAND_ALPHA = 0.16
# A cell of a month whose ticks are not all materialized: the regime colour mixed with this much white.
FADED_WHITE_SHARE = 0.65
# Above this many months, heat-map cells are too narrow for text.
MAX_ANNOTATED_MONTHS = 18
MAX_FEATURES_SHOWN = 30
STYLE = {
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def regime_colour(regime: str | None) -> str:
    return REGIME_COLOURS.get(regime or "", UNLABELLED_COLOUR)


def faded(colour: str) -> tuple[float, float, float]:
    """The colour mixed with white, opaque (an alpha would fade the hatching too)."""
    rgb = np.array(matplotlib.colors.to_rgb(colour))
    return tuple(rgb * (1 - FADED_WHITE_SHARE) + FADED_WHITE_SHARE)


def _number(value) -> float:
    """A table value as a float, ``nan`` for SQL null."""
    return math.nan if value is None or pd.isna(value) else float(value)


def svg_markup(fig: Figure) -> str:
    """The figure as an ``<svg>`` element to inline in HTML, with no external reference."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)


def _regime_handles(regimes: Iterable[str | None]) -> list[Patch]:
    present = set(regimes)
    names = [name for name in REGIME_ORDER if name in present]
    names += sorted(name for name in present if name and name not in REGIME_ORDER)
    handles = [Patch(color=regime_colour(name), label=name) for name in names]
    if None in present:
        handles.append(Patch(color=UNLABELLED_COLOUR, label="no regime"))
    return handles


def _naive_utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def equity_curve(equity: pd.DataFrame, month_regimes: dict[str, str]) -> str:
    """Equity (from 1.0, after each exit) of every walk-forward test fold, over its months' regimes."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 4), layout="constrained")
        ax = fig.add_subplot()
        times = _naive_utc(equity["at"])
        start = times.min().to_period("M").to_timestamp()
        end = (times.max().to_period("M") + 1).to_timestamp()
        shown = []
        for month, regime in month_regimes.items():
            month_start = pd.Timestamp(f"{month}-01")
            month_end = month_start + pd.offsets.MonthBegin(1)
            if month_end <= start or month_start >= end:
                continue
            ax.axvspan(month_start, month_end, color=regime_colour(regime), alpha=BAND_ALPHA, linewidth=0,
                       gid=f"band-{month}-{regime}")
            shown.append(regime)
        handles: list = []
        for number, (fold, rows) in enumerate(equity.groupby("fold", sort=True)):
            (line,) = ax.plot(times[rows.index], rows["equity"].astype(float), drawstyle="steps-post",
                              linewidth=1.5, marker="o", markersize=2.5, color=FOLD_COLOURS[number % len(FOLD_COLOURS)], label=str(fold),
                              gid=f"equity-{fold}")
            handles.append(line)
        ax.axhline(1.0, color="#666666", linewidth=0.8, linestyle=":")
        ax.set_xlim(start, end)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("equity (start of fold = 1.0)")
        ax.set_title("Walk-forward test equity, per fold, over the month's regime")
        ax.legend(handles=handles + _regime_handles(shown), loc="upper left", ncols=2)
        return svg_markup(fig)


def win_rate_bars(months: pd.DataFrame, *, threshold: float, alarms: Sequence[Alarm]) -> str:
    """Win rate of each walk-forward test month, coloured by regime, with the gate's line and the alarms."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 3.8), layout="constrained")
        ax = fig.add_subplot()
        labels = [str(month) for month in months["month"]]
        rates = np.array([_number(value) for value in months["win_rate"]]) * 100
        regimes = [regime if isinstance(regime, str) else None for regime in months["regime"]]
        positions = np.arange(len(labels))
        bars = ax.bar(positions, np.nan_to_num(rates, nan=0.0), width=0.7,
                      color=[regime_colour(regime) for regime in regimes])
        for bar, label, rate, trades in zip(bars, labels, rates, months["n_trades"], strict=True):
            bar.set_gid(f"winrate-bar-{label}")
            text = "no trades" if math.isnan(rate) else f"{rate:.1f}%\nn={int(trades)}"
            ax.text(bar.get_x() + bar.get_width() / 2, (0 if math.isnan(rate) else rate) + 1.5, text,
                    ha="center", va="bottom", fontsize=7.5,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        ax.axhline(threshold * 100, color="#111111", linestyle="--", linewidth=1.2, gid="winrate-gate-line")
        handles = [Line2D([], [], color="#111111", linestyle="--", label=f"gate: above {threshold:.0%}")]
        marked = False
        for alarm in alarms:
            if alarm.kind != "regime_change" or alarm.month not in labels:
                continue
            index = labels.index(alarm.month)
            ax.axvline(index - 0.5, color=ALARM_COLOUR, linestyle=":", linewidth=1.2)
            ax.plot([index], [108], marker="v", markersize=11, color=ALARM_COLOUR, linestyle="none",
                    gid=f"alarm-{alarm.month}")
            ax.text(index + 0.12, 108, f"{alarm.value * 100:+.1f} pts", color=ALARM_COLOUR, va="center",
                    fontsize=8, fontweight="bold")
            marked = True
        if marked:
            handles.append(Line2D([], [], marker="v", color=ALARM_COLOUR, linestyle="none",
                                  label="regime-change alarm (win rate moved too far)"))
        ax.set_xticks(positions, labels, rotation=45 if len(labels) > 12 else 0)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_ylim(0, 116)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("win rate (%)")
        ax.set_title("Win rate per walk-forward test month")
        ax.legend(handles=handles + _regime_handles(regimes), loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return svg_markup(fig)


def _ordered_regimes(names: Iterable[str]) -> list[str]:
    present = set(names)
    return [name for name in REGIME_ORDER if name in present] + sorted(present - set(REGIME_ORDER))


def regime_performance(regimes: pd.DataFrame, *, min_sharpe: float, max_drawdown: float) -> str:
    """Sharpe and maximum drawdown per regime: walk-forward trades by regime (solid) and the
    leave-one-regime-out fold that never trained on that regime (hatched)."""
    evaluations = (("walk_forward", "walk-forward, by regime", ""), ("unseen_regime", "unseen regime (left out)", "//"))
    names = _ordered_regimes(regimes["regime"])
    width = 0.38
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        sharpe_ax, drawdown_ax = fig.subplots(1, 2)
        for offset, (evaluation, _, hatch) in enumerate(evaluations):
            rows = regimes[regimes["evaluation"] == evaluation].set_index("regime")
            for index, regime in enumerate(names):
                if regime not in rows.index:
                    continue
                x = index + (offset - 0.5) * width
                for ax, column, scale, key in ((sharpe_ax, "sharpe", 1, "sharpe"),
                                               (drawdown_ax, "max_drawdown", 100, "drawdown")):
                    value = _number(rows.loc[regime, column])
                    if math.isnan(value):
                        ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7.5)
                        continue
                    ax.bar(x, value * scale, width, color=regime_colour(regime), hatch=hatch, edgecolor="#222222",
                           linewidth=0.6, gid=f"{key}-{evaluation}-{regime}")
                    ax.text(x, value * scale, f"{value * scale:.2f}" if scale == 1 else f"{value * scale:.1f}%",
                            ha="center", va="bottom" if value >= 0 else "top", fontsize=7.5)
        sharpe_ax.axhline(min_sharpe, color="#111111", linestyle="--", linewidth=1.1)
        sharpe_ax.axhline(0, color="#666666", linewidth=0.6)
        drawdown_ax.axhline(max_drawdown * 100, color="#111111", linestyle="--", linewidth=1.1)
        sharpe_ax.set_title("Sharpe ratio (daily returns, annualized) per regime")
        drawdown_ax.set_title("Maximum drawdown per regime (%)")
        for ax in (sharpe_ax, drawdown_ax):
            ax.set_xticks(range(len(names)), names)
            ax.set_xlim(-0.7, len(names) - 0.3)
        handles = [Patch(facecolor="white", edgecolor="#222222", hatch=hatch, label=label)
                   for _, label, hatch in evaluations]
        sharpe_ax.legend(handles=[*handles, Line2D([], [], color="#111111", linestyle="--",
                                                   label=f"gate: above {min_sharpe:g}")], loc="best")
        drawdown_ax.legend(handles=[Line2D([], [], color="#111111", linestyle="--",
                                           label=f"gate: below {max_drawdown:.0%}")], loc="best")
        return svg_markup(fig)


def side_shares(overall_long_share: float | None, months: pd.DataFrame, *, max_side_share: float) -> str:
    """Share of long and short trades, over all walk-forward test trades and per test month."""
    rows = [("all test trades", "overall", _number(overall_long_share))]
    rows += [(str(month), str(month), _number(share))
             for month, share in zip(months["month"], months["long_share"], strict=True)]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 0.32 * len(rows) + 1.3), layout="constrained")
        ax = fig.add_subplot()
        for index, (_, key, share) in enumerate(rows):
            if math.isnan(share):
                ax.text(50, index, "no trades", ha="center", va="center", fontsize=8)
                continue
            ax.barh(index, share * 100, color=LONG_COLOUR, height=0.7, gid=f"side-long-{key}")
            ax.barh(index, (1 - share) * 100, left=share * 100, color=SHORT_COLOUR, height=0.7)
            ax.text(1, index, f"long {share:.0%}", va="center", color="white", fontsize=7.5)
            ax.text(99, index, f"short {1 - share:.0%}", va="center", ha="right", color="white", fontsize=7.5)
        for limit in (1 - max_side_share, max_side_share):
            ax.axvline(limit * 100, color=ALARM_COLOUR, linestyle="--", linewidth=1)
        ax.set_yticks(range(len(rows)), [label for label, _, _ in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of trades (%)")
        ax.set_title("Long / short share of trades")
        ax.legend(handles=[Patch(color=LONG_COLOUR, label="long"), Patch(color=SHORT_COLOUR, label="short"),
                           Line2D([], [], color=ALARM_COLOUR, linestyle="--",
                                  label=f"side-bias alarm beyond {max_side_share:.0%}")],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return svg_markup(fig)


def ranked_importance(importance: dict[str, float]) -> list[tuple[str, float]]:
    """Features by importance, largest first (ties alphabetical)."""
    return sorted(importance.items(), key=lambda item: (-item[1], item[0]))


def feature_importance(importance: dict[str, float]) -> str:
    """Horizontal bars of each feature column's share of the model's importance, largest on top."""
    ranked = ranked_importance(importance)[:MAX_FEATURES_SHOWN]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 0.26 * len(ranked) + 1.2), layout="constrained")
        ax = fig.add_subplot()
        for index, (column, share) in enumerate(ranked):
            ax.barh(index, share * 100, height=0.7, color="#4d4d4d", gid=f"importance-{column}")
            ax.text(share * 100, index, f" {share:.1%}", va="center", fontsize=7.5)
        ax.set_yticks(range(len(ranked)), [column for column, _ in ranked])
        ax.invert_yaxis()
        ax.set_xlabel("share of importance (%)")
        hidden = len(importance) - len(ranked)
        ax.set_title("Feature importance" + (f" (top {len(ranked)}; {hidden} more in the table)" if hidden else ""))
        return svg_markup(fig)


def coverage_heatmap(coverage: pd.DataFrame) -> str:
    """Months x instruments coloured by the month's regime; faded and hatched where not materialized."""
    instruments = sorted(coverage["instrument"].unique())
    periods = pd.PeriodIndex(pd.to_datetime(coverage["month_start_date"]), freq="M")
    months = pd.period_range(periods.min(), periods.max(), freq="M")
    column = {period: index for index, period in enumerate(months)}
    annotate = len(months) <= MAX_ANNOTATED_MONTHS
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 0.42 * len(instruments) + 1.9), layout="constrained")
        ax = fig.add_subplot()
        regimes = []
        for row, period in zip(coverage.itertuples(), periods, strict=True):
            regime = row.regime if isinstance(row.regime, str) else None
            regimes.append(regime)
            materialized = bool(row.is_materialized)
            x, y = column[period], instruments.index(row.instrument)
            state = "materialized" if materialized else "not-materialized"
            ax.add_patch(Rectangle(
                (x, y), 1, 1, facecolor=regime_colour(regime) if materialized else faded(regime_colour(regime)),
                edgecolor="#8a8a8a", linewidth=0, hatch=None if materialized else "//", gid=f"coverage-cell-{row.instrument}-{period}-{state}",
            ))
            if annotate:
                text = (regime or "?") if materialized else f"{regime or '?'}\n{row.complete_days}/{row.days_in_month} d"
                ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=7,
                        color="white" if materialized else "#222222")
        ax.hlines(range(len(instruments) + 1), 0, len(months), color="white", linewidth=1.5)
        ax.vlines(range(len(months) + 1), 0, len(instruments), color="white", linewidth=1.5)
        step = max(1, math.ceil(len(months) / 24))
        ax.set_xticks([index + 0.5 for index in range(0, len(months), step)],
                      [str(months[index]) for index in range(0, len(months), step)],
                      rotation=45 if len(months) > 12 else 0)
        ax.set_yticks([index + 0.5 for index in range(len(instruments))], instruments)
        ax.set_xlim(0, len(months))
        ax.set_ylim(len(instruments), 0)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title("Regime coverage: month regime per instrument (hatched and faded: not materialized yet)")
        handles = _regime_handles(regimes) + [
            Patch(facecolor=faded(UNLABELLED_COLOUR), edgecolor="#8a8a8a", hatch="//", label="not materialized")
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return svg_markup(fig)


def weekly_win_rate(weeks: Sequence, *, threshold: float) -> str:
    """Forward win rate per ISO week (gate.WeekResult) with the enough-data rule's line."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 3.4), layout="constrained")
        ax = fig.add_subplot()
        labels = [week.week for week in weeks]
        rates = np.array([week.win_rate for week in weeks], dtype=float) * 100
        positions = np.arange(len(labels))
        colours = ["#3b7d3b" if rate > threshold * 100 else "#b5534a" for rate in np.nan_to_num(rates)]
        bars = ax.bar(positions, np.nan_to_num(rates, nan=0.0), width=0.7, color=colours)
        for bar, label, rate, week in zip(bars, labels, rates, weeks, strict=True):
            bar.set_gid(f"forward-week-{label}")
            ax.text(bar.get_x() + bar.get_width() / 2, np.nan_to_num(rate) + 1.5, f"{rate:.0f}%\nn={week.n_trades}",
                    ha="center", va="bottom", fontsize=7.5)
        ax.axhline(threshold * 100, color="#111111", linestyle="--", linewidth=1.2, gid="forward-week-line")
        ax.set_xticks(positions, labels, rotation=45 if len(labels) > 12 else 0)
        ax.set_ylim(0, 116)
        ax.set_ylabel("win rate (%)")
        ax.set_title(f"Forward win rate per ISO week (line: {threshold:.0%}, the enough-data rule)")
        return svg_markup(fig)
