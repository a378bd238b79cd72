"""sqlfluff (postgres dialect, dbt templater, the project's .sqlfluff) passes on every model and macro."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sniper.db.connection import dbt_environment

REPO = Path(__file__).resolve().parents[1]


def test_sqlfluff_lint_passes(database):
    env = {**os.environ, **dbt_environment(database.target)}
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    paths = [path for path in ("models", "macros", "tests/dbt") if (REPO / path).is_dir()]
    result = subprocess.run(
        [str(sqlfluff), "lint", *paths, "--disable-progress-bar", "--nocolor", "--processes", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_window_bounds_cte_is_inlined():
    """macros/window/bounds.sql: a materialized window_bounds CTE has no statistics, and
    PostgreSQL estimated every instrument join with it at one row (minutes per window).
    Windowed models declare it through window_bounds_cte; one with a body of its own
    (iceberg_events) declares it not materialized itself."""
    through_macro, own = [], {}
    for path in [*(REPO / "models").rglob("*.sql"), *(REPO / "macros").rglob("*.sql")]:
        text = path.read_text()
        through_macro += [path.name] * text.count("{{ window_bounds_cte(")
        for line in text.splitlines():
            if "window_bounds as" in line and "(" in line:
                own[f"{path.relative_to(REPO)}: {line.strip()}"] = "as not materialized (" in line
    assert len(through_macro) >= 10, through_macro
    assert set(own) >= {"macros/window/bounds.sql: window_bounds as not materialized ("}, own
    assert all(own.values()), [where for where, inlined in own.items() if not inlined]
