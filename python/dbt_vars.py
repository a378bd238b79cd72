"""Every dbt var of the project, typed: its allowed values and its default, in ONE place.

dbt reads this model through a generated macro, ``macros/generated/project_vars.sql``
(its JSON schema; regenerate with ``python -m sniper.dbt_vars``; a test fails when it is
stale). Every model reads a var through ``sniper_var(name)`` (macros/vars.sql), which
checks the value against that schema before it can reach SQL, whoever passed it:
``sniper``, the flows, or a user's own ``dbt run --vars``. Python passes vars to dbt as
an instance of :class:`ProjectVars` (only the values that differ from the defaults).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sniper.instruments import INSTRUMENT_KEY_PATTERN
from sniper.validation import EARLIEST_DATE, MAX_DAYS_AHEAD, latest_date

Timeframe = Literal["5m", "15m", "1h", "4h", "1d", "1w", "1mo"]
InstrumentKey = Annotated[str, StringConstraints(pattern=INSTRUMENT_KEY_PATTERN.pattern)]
# How long a retention policy keeps a layer's buckets behind each instrument's newest 5m bucket.
RetentionPeriod = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,3} (days|weeks|months)$")]
LoadKind = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+]{1,40}$")]


def _accepted_date(day: date) -> date:
    if not EARLIEST_DATE <= day <= latest_date():
        raise ValueError(f"{day} is outside {EARLIEST_DATE} .. {latest_date()}")
    return day


WindowStart = Annotated[
    date,
    AfterValidator(_accepted_date),
    Field(json_schema_extra={"x-earliest": EARLIEST_DATE.isoformat(), "x-max-days-ahead": MAX_DAYS_AHEAD}),
]

GENERATED_MACRO = Path("macros") / "generated" / "project_vars.sql"


class ProjectVars(BaseModel):
    """The dbt vars (``--vars``) of the sniper project, with their defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The run's window (macros/window/, docs/candles.md): a start date (unset: the newest
    # window_days days of loaded data; the flows always set it), its length in days, the
    # instruments, as exchange:market:SYMBOL keys (unset: every instrument with a load in the
    # window), and whether materialized buckets in it are replaced. Every market is built:
    # an instrument is (exchange, market, symbol), python/instruments.py.
    window_start: WindowStart | None = None
    window_days: int = Field(default=7, ge=1, le=92)
    instruments: list[InstrumentKey] | None = None
    force_recompute: bool = False
    # Narrower than whole days (the live materialization, docs/live.md): the window starts
    # window_first_minute minutes after window_start's midnight and ends window_end_minute
    # minutes after it (None: the end of its last day). Multiples of 5, inside the window's days.
    window_first_minute: int = Field(default=0, ge=0, le=92 * 1440)
    window_end_minute: int | None = Field(default=None, ge=5, le=92 * 1440)
    # The raw.load_ledger rows that load trades, by data_kind, and the time each covers
    # for is_complete: `day` = every UTC day from its first to its last trade (a synthetic
    # day, a daily archive), `span` = exactly its first to its last event (a recording:
    # trade times, and the receive times of its bookTicker quotes).
    trade_load_coverage: dict[LoadKind, Literal["day", "span"]] = {
        "ticks": "day",
        "trades": "day",
        "trade+bookTicker": "span",
    }
    # Spans of loads that overlap, or meet within this many seconds, are one covered span
    # per instrument (models/candles/trade_coverage.sql): two recordings that follow each other cover the
    # buckets across their seam. A longer silence between two loads is a gap.
    coverage_merge_gap_seconds: float = Field(default=1.0, ge=0, le=60)
    # Retention (`sniper retention apply`, docs/candles.md): how far behind each instrument's
    # newest 5m bucket each timeframe's layers (candles and features) keep rows; null keeps
    # everything. Only that command deletes; no build does.
    retention: dict[Timeframe, RetentionPeriod | None] = {
        "5m": None, "15m": None, "1h": None, "4h": None, "1d": None, "1w": None, "1mo": None,
    }

    # Regimes (models/regimes, docs/regimes.md): trend strength = log return / realized vol.
    regime_daily_threshold: float = Field(default=1.0, gt=0, le=100)
    regime_weekly_threshold: float = Field(default=0.8, gt=0, le=100)
    regime_monthly_threshold: float = Field(default=0.8, gt=0, le=100)
    regime_daily_lookback_days: int = Field(default=30, ge=2, le=366)
    regime_daily_min_lookback_days: int = Field(default=5, ge=2, le=366)
    # Coverage the training needs before it is trusted (the roadmap's rule).
    coverage_required_months: int = Field(default=6, ge=0, le=120)
    coverage_required_bull_months: int = Field(default=2, ge=0, le=120)
    coverage_required_bear_months: int = Field(default=2, ge=0, le=120)
    coverage_required_sideways_months: int = Field(default=1, ge=0, le=120)

    # Triple-barrier labels (models/ml, docs/training.md): entries at a 5m bucket's close.
    label_horizon_buckets: int = Field(default=6, ge=1, le=288)  # vertical barrier, in 5m buckets
    label_vol_lookback_buckets: int = Field(default=48, ge=2, le=2016)  # stdev of the last N 5m log returns
    label_take_profit_vol: float = Field(default=1.0, gt=0, le=20)  # horizon-scaled stdevs
    label_stop_loss_vol: float = Field(default=1.0, gt=0, le=20)
    label_fee_per_side: float = Field(default=0.0004, ge=0, le=0.01)  # 4 bp (Binance USD-M taker)

    # Order-flow features (models/features, docs/features.md).
    cvd_rolling_buckets: int = Field(default=12, ge=1, le=2016)  # rolling CVD, in 5m buckets
    whale_min_notional: float = Field(default=100_000, gt=0, le=1e12)  # a taker order at or above this notional
    l1_quote_max_age_seconds: int = Field(default=60, ge=1, le=300)  # an L1 state stays known this long
    depth_band_max_age_minutes: int = Field(default=15, ge=1, le=1440)
    gamma_exposure_sign_convention: Literal["calls_positive", "puts_positive"] = "calls_positive"
    gamma_snapshot_max_age_minutes: int = Field(default=120, ge=1, le=1440)
    gamma_zero_grid_range_pct: float = Field(default=20, gt=0, le=90)  # zero-gamma search: spot +/- this
    gamma_zero_grid_step_pct: float = Field(default=0.5, gt=0, le=10)
    # USD-M contracts (models/features/features_futures_5m.sql): an open-interest snapshot (every
    # 5 minutes) and a settled funding rate (every 8 hours) stay known this long.
    open_interest_max_age_minutes: int = Field(default=15, ge=5, le=1440)
    funding_max_age_hours: int = Field(default=9, ge=1, le=48)
    iceberg_min_refills: int = Field(default=3, ge=1, le=1000)
    iceberg_lookback_minutes: int = Field(default=60, ge=1, le=1440)

    @model_validator(mode="after")
    def _minutes_inside_the_days(self) -> ProjectVars:
        end = self.window_days * 1440 if self.window_end_minute is None else self.window_end_minute
        for name, minute in (("window_first_minute", self.window_first_minute), ("window_end_minute", end)):
            if minute % 5:
                raise ValueError(f"{name} must be a multiple of 5 (a 5m bucket boundary), got {minute}")
        if not self.window_first_minute < end <= self.window_days * 1440:
            raise ValueError(
                f"window minutes {self.window_first_minute}..{end} do not lie inside {self.window_days} day(s)"
            )
        narrowed = self.window_first_minute or self.window_end_minute is not None
        if narrowed and self.window_start is None:
            raise ValueError("window_first_minute and window_end_minute need an explicit window_start")
        return self

    def overrides(self) -> dict[str, Any]:
        """The values that differ from the defaults, as JSON-ready data for ``--vars``."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def dbt_args(self) -> list[str]:
        overrides = self.overrides()
        return ["--vars", json.dumps(overrides)] if overrides else []


def generated_macro_text() -> str:
    """The macro dbt reads the vars' schema from (written by ``python -m sniper.dbt_vars``)."""
    schema = json.dumps(ProjectVars.model_json_schema(), sort_keys=True, indent=2)
    return (
        "{#- GENERATED from python/dbt_vars.py (ProjectVars) by `python -m sniper.dbt_vars`: do not edit.\n"
        "    The JSON schema of every project var: allowed values and defaults (macros/vars.sql). -#}\n"
        "{% macro project_vars_schema() -%}\n"
        "{{ return(fromjson(" + _jinja_string(schema) + ")) }}\n"
        "{%- endmacro %}\n"
    )


def _jinja_string(text: str) -> str:
    """A Jinja string literal holding ``text`` (single-quoted; JSON has no raw single quotes here)."""
    if "'" in text or "\\" in text:
        raise ValueError("the vars schema must not contain quotes or backslashes")
    return "'" + text + "'"


def write_generated_macro(project_dir: Path) -> Path:
    path = project_dir / GENERATED_MACRO
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generated_macro_text())
    return path


if __name__ == "__main__":
    from sniper.settings import get_settings

    written = write_generated_macro(get_settings().project_dir)
    sys.stdout.write(f"wrote {written}\n")
