"""The coverage requirement, from the project vars (python/dbt_vars.py), the one place it is set."""

from __future__ import annotations

from dataclasses import dataclass

from sniper.dbt_vars import ProjectVars


@dataclass(frozen=True)
class CoverageRequirement:
    months: int
    bull: int
    bear: int
    sideways: int


def coverage_requirement(project_vars: ProjectVars | None = None) -> CoverageRequirement:
    project_vars = project_vars or ProjectVars()
    return CoverageRequirement(
        months=project_vars.coverage_required_months,
        bull=project_vars.coverage_required_bull_months,
        bear=project_vars.coverage_required_bear_months,
        sideways=project_vars.coverage_required_sideways_months,
    )
