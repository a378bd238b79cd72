"""Does the training window really have the inputs of the requested feature groups?

A feature is no better than its input: OFI needs L1 quotes, which Binance's archives hold only
until 2024-03-30 (after that, only a team's own recording has them), gamma exposure needs
options chains, open interest a USD-M contract's metrics archive. A group whose columns are
mostly missing in the training window would be trained on whatever rows happen to have them,
or, with missing values kept, on nothing at all in the months without them.

Coverage of a group = the mean, over its columns, of the share of the window's rows where the
column is not null (read from the dataset the run trains on); per month too. Below the
threshold (default 80 %) the run is refused with one line naming the months short of it and
the input the warehouse lacks there (regimes.feature_input_coverage, dbt's table per
instrument and month), unless the request allows missing features: then XGBoost gets the
rows with NaN, learns a default branch for "missing" at every split, and in the months
without the input predicts from the other features alone (docs/training.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import psycopg
from pydantic import BaseModel, ConfigDict

from sniper.errors import UserError
from sniper.training.features import FEATURE_GROUPS, INPUT_NAMES


class GroupCoverage(BaseModel):
    """One feature group's coverage over a training run's rows, overall and per month."""

    model_config = ConfigDict(frozen=True)

    group: str
    overall: float
    by_month: dict[str, float]  # YYYY-MM -> share


def group_coverage(data: pd.DataFrame, groups: list[str]) -> list[GroupCoverage]:
    """Per requested group, the mean non-null share of its columns, over all rows and per month.

    >>> rows = pd.DataFrame({"entry_at": pd.to_datetime(["2024-03-30", "2024-03-31", "2024-04-01", "2024-04-02"],
    ...                                                  utc=True),
    ...                      "ofi_normalized": [1.0, 2.0, None, None], "ofi_normalized_15m": [1.0, None, None, None]})
    >>> coverage = group_coverage(rows, ["ofi"])[0]
    >>> coverage.overall, coverage.by_month
    (0.375, {'2024-03': 0.75, '2024-04': 0.0})
    """
    months = data["entry_at"].dt.strftime("%Y-%m") if len(data) else pd.Series(dtype=str)
    result = []
    for group in groups:
        present = data[FEATURE_GROUPS[group].columns].notna().mean(axis=1) if len(data) else pd.Series(dtype=float)
        by_month = present.groupby(months).mean() if len(data) else pd.Series(dtype=float)
        result.append(GroupCoverage(
            group=group,
            overall=float(present.mean()) if len(data) else 0.0,
            by_month={month: float(share) for month, share in by_month.items()},
        ))
    return result


def input_coverage_by_month(conn: psycopg.Connection) -> dict[str, dict[str, dict[str, float]]]:
    """YYYY-MM -> input -> instrument key -> the share of the month's buckets with that input
    (regimes.feature_input_coverage); empty before dbt built it."""
    if not conn.execute("select to_regclass('regimes.feature_input_coverage') is not null").fetchone()[0]:
        return {}
    columns = ", ".join(f"{name}_coverage" for name in INPUT_NAMES)
    rows = conn.execute(
        f"select to_char(month_start_date, 'YYYY-MM'), exchange || ':' || market || ':' || symbol, {columns}"  # noqa: S608
        " from regimes.feature_input_coverage"
    ).fetchall()
    coverage: dict[str, dict[str, dict[str, float]]] = {}
    for month, instrument, *shares in rows:
        for name, share in zip(INPUT_NAMES, shares):
            coverage.setdefault(month, {}).setdefault(name, {})[instrument] = float(share)
    return coverage


def refuse_thin_groups(
    coverages: list[GroupCoverage],
    threshold: float,
    inputs_by_month: Mapping[str, Mapping[str, Mapping[str, float]]],
    instruments: list[str],
) -> None:
    """A one-line UserError for the first group covered below `threshold`, naming its thin months
    and, per month, the run's instruments that lack the group's input there.

    >>> thin = GroupCoverage(group="ofi", overall=0.375, by_month={"2024-03": 0.75, "2024-04": 0.0})
    >>> inputs = {"2024-04": {"l1": {"binance:um:BTCUSDT": 0.0, "binance:um:ETHUSDT": 0.0}}}
    >>> refuse_thin_groups([thin], 0.8, inputs, ["binance:um:BTCUSDT"])
    Traceback (most recent call last):
    ...
    sniper.errors.UserError: feature group ofi covers 38% of the training rows (below 80%): thin in 2024-03 (75%), 2024-04 (0%; no L1 quotes for binance:um:BTCUSDT); load its input for those months, leave ofi out of --features, or pass --allow-missing-features to train with missing values
    """
    for coverage in coverages:
        if coverage.overall >= threshold:
            continue
        thin = [f"{month} ({share:.0%}{_lacking(coverage.group, inputs_by_month.get(month, {}), instruments)})"
                for month, share in sorted(coverage.by_month.items()) if share < threshold]
        raise UserError(
            f"feature group {coverage.group} covers {coverage.overall:.0%} of the training rows (below "
            f"{threshold:.0%}): thin in {', '.join(thin)}; load its input for those months, leave "
            f"{coverage.group} out of --features, or pass --allow-missing-features to train with missing values"
        )


def _lacking(group: str, inputs: Mapping[str, Mapping[str, float]], instruments: list[str]) -> str:
    """'; no L1 quotes for X, Y' for the group's inputs the month lacks (absent) for the run's instruments."""
    parts = []
    for name in FEATURE_GROUPS[group].inputs:
        absent = [key for key in instruments if inputs.get(name, {}).get(key, 0.0) == 0.0 and key in inputs.get(name, {})]
        if absent:
            parts.append(f"no {INPUT_NAMES[name]} for {', '.join(absent)}")
    return "; " + "; ".join(parts) if parts else ""
