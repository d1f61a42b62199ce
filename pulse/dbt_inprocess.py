"""dbt in this process, as `pulse dbt ARGS` runs it in a process of its own: the project
and its profile, with `dbt_env()` over the environment (pulse/orchestration.py).

For the night's own dbt build after scoring (its Airflow task already runs Python, and
cosmos runs the night's main build with the same runner) and for the tests' quiet builds.
A `dbt` process spends ~2 s importing dbt and ~1.5 s more on its first invocation before
it runs a node; a process that has run dbt once starts the next invocation in ~0.4 s.
dbt reads the environment at each invocation; the caller's is put back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult


def invoke(args: Sequence[str], overlay: Mapping[str, str] | None = None) -> dbtRunnerResult:
    """dbt ARGS (`build ...`, global flags first as on dbt's command line); `overlay`:
    variables set under `dbt_env()`'s, as a caller's environment would be."""
    from dbt.cli.main import dbtRunner

    from pulse.config import settings
    from pulse.orchestration import dbt_env

    saved = dict(os.environ)
    try:
        os.environ.update(overlay or {})
        project = str(settings().dbt_project_dir)
        os.environ.update(dbt_env())
        os.environ.update({"DBT_PROJECT_DIR": project, "DBT_PROFILES_DIR": project})
        return dbtRunner().invoke(list(args))
    finally:
        # Key by key, so that another thread never sees an empty environment.
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
