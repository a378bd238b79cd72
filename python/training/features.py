"""The feature groups `--features` selects, by the roadmap's names, and the columns behind them.

Every column is a column of ml.training_dataset, known at the bucket's close (see
docs/features.md for how each is computed and docs/training.md for the scale-free ones).
"""

from __future__ import annotations

from sniper.errors import UserError

FEATURE_GROUPS: dict[str, list[str]] = {
    # Order flow imbalance (Cont, Kukanov, Stoikov 2014) over L1 depth, this bucket and the last three.
    "ofi": ["ofi_normalized", "ofi_normalized_15m"],
    # Order book imbalance at L1 (time-weighted and at the close) and in depth bands.
    "obi": ["obi_l1_twap", "obi_l1_close", "obi_l1_twap_15m", "obi_depth_1pct", "obi_depth_2pct", "obi_depth_5pct"],
    # Large taker orders' net flow as a share of all volume, this bucket and the last hour.
    "whale_cvd": ["whale_imbalance", "whale_imbalance_1h"],
    # Dealer gamma exposure (signed log), and the distances to the zero-gamma level and the gamma wall.
    "gamma_exposure": ["gamma_exposure_log", "zero_gamma_distance", "max_abs_gamma_strike_distance"],
    # All taker flow's imbalance (the roadmap's four names leave it out; available on request).
    "cvd": ["flow_imbalance", "flow_imbalance_15m"],
    # Detected icebergs: hidden volume imbalance and counts.
    "iceberg": ["iceberg_imbalance", "iceberg_bid_count", "iceberg_ask_count"],
}


def feature_columns(names: list[str]) -> list[str]:
    """The dataset columns of the named groups, in order; an unknown name is a user error."""
    unknown = [name for name in names if name not in FEATURE_GROUPS]
    if unknown or not names:
        listed = ", ".join(FEATURE_GROUPS)
        what = f"unknown feature {', '.join(repr(n) for n in unknown)}" if unknown else "no feature given"
        raise UserError(f"{what}; valid: {listed}")
    columns: list[str] = []
    for name in names:
        columns += [column for column in FEATURE_GROUPS[name] if column not in columns]
    return columns
