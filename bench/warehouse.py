"""The starting point several bench sections share: the generated data set loaded and
built from scratch, its last day returned with the build's figures."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pulse import loader, migrate


def load_and_build(landing: Path, tally: dict, reset, dbt) -> tuple[date, dict]:
    start = date.fromisoformat(tally["params"]["start"])
    last = start + timedelta(days=int(tally["params"]["days"]) - 1)
    reset()
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing, through=last)
    if report.problems:
        raise RuntimeError(report.summary())
    return last, dbt("build", "--full-refresh")
