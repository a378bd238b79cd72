"""The feature groups `--features` selects, by the roadmap's names: the columns behind each
and the inputs those columns are computed from.

Every column is a column of ml.training_dataset, known at the bucket's close (see
docs/features.md for how each is computed and docs/training.md for the scale-free ones). The
inputs are the columns of regimes.feature_input_coverage (`<input>_coverage`), which says per
instrument and month which inputs the warehouse really had (python/training/coverage.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sniper.errors import UserError

# The inputs features are computed from, as regimes.feature_input_coverage names them.
INPUT_NAMES: dict[str, str] = {
    "trades": "trades",
    "l1": "L1 quotes",
    "depth_bands": "depth bands",
    "options": "options chains",
    "open_interest": "open interest",
    "funding": "funding rates",
}


@dataclass(frozen=True)
class FeatureGroup:
    columns: list[str]
    inputs: tuple[str, ...]  # keys of INPUT_NAMES


FEATURE_GROUPS: dict[str, FeatureGroup] = {
    # Order flow imbalance (Cont, Kukanov, Stoikov 2014) over L1 depth, this bucket and the last three.
    "ofi": FeatureGroup(["ofi_normalized", "ofi_normalized_15m"], ("l1",)),
    # Order book imbalance at L1 (time-weighted and at the close) and in depth bands.
    "obi": FeatureGroup(
        ["obi_l1_twap", "obi_l1_close", "obi_l1_twap_15m", "obi_depth_1pct", "obi_depth_2pct", "obi_depth_5pct"],
        ("l1", "depth_bands"),
    ),
    # Large taker orders' net flow as a share of all volume, this bucket and the last hour.
    "whale_cvd": FeatureGroup(["whale_imbalance", "whale_imbalance_1h"], ("trades",)),
    # Dealer gamma exposure (signed log), and the distances to the zero-gamma level and the gamma wall.
    "gamma_exposure": FeatureGroup(
        ["gamma_exposure_log", "zero_gamma_distance", "max_abs_gamma_strike_distance"], ("options",)
    ),
    # All taker flow's imbalance (the roadmap's four names leave it out; available on request).
    "cvd": FeatureGroup(["flow_imbalance", "flow_imbalance_15m"], ("trades",)),
    # Detected icebergs: hidden volume imbalance and counts (trades against L1 quotes).
    "iceberg": FeatureGroup(["iceberg_imbalance", "iceberg_bid_count", "iceberg_ask_count"], ("trades", "l1")),
    # A USD-M contract's open interest: its log change over the bucket and over the hour.
    "open_interest": FeatureGroup(["open_interest_change", "open_interest_change_1h"], ("open_interest",)),
    # The funding rate in force, and whether the bucket's flow pushes the way the crowd leans.
    "funding": FeatureGroup(["funding_rate", "funding_flow_sign"], ("funding",)),
}
# What `sniper train` and the weekly retrain use without --features: the roadmap's four.
DEFAULT_FEATURES: tuple[str, ...] = ("ofi", "obi", "whale_cvd", "gamma_exposure")


def feature_columns(names: list[str]) -> list[str]:
    """The dataset columns of the named groups, in order; an unknown name is a user error."""
    unknown = [name for name in names if name not in FEATURE_GROUPS]
    if unknown or not names:
        listed = ", ".join(FEATURE_GROUPS)
        what = f"unknown feature {', '.join(repr(n) for n in unknown)}" if unknown else "no feature given"
        raise UserError(f"{what}; valid: {listed}")
    columns: list[str] = []
    for name in names:
        columns += [column for column in FEATURE_GROUPS[name].columns if column not in columns]
    return columns
