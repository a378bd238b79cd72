"""The coverage requirement, read from the dbt vars so there is one place to change it."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from sniper.settings import get_settings


@dataclass(frozen=True)
class CoverageRequirement:
    months: int
    bull: int
    bear: int
    sideways: int


def coverage_requirement() -> CoverageRequirement:
    project = yaml.safe_load((get_settings().project_dir / "dbt_project.yml").read_text())
    dbt_vars = project["vars"]
    return CoverageRequirement(
        months=int(dbt_vars["coverage_required_months"]),
        bull=int(dbt_vars["coverage_required_bull_months"]),
        bear=int(dbt_vars["coverage_required_bear_months"]),
        sideways=int(dbt_vars["coverage_required_sideways_months"]),
    )
