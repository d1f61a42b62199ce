"""Celery's configuration for Pulse's Airflow workers (`[celery] celery_config_options`,
set by pulse.scaleout.celery_env): Airflow's own, unchanged. Importing this module is
the point of it.

A Celery worker loads its configuration before it forks its pool, and each task runs in
a process forked from the pool, which parses the task's DAG file. What the worker
imported first, every task inherits instead of importing it again: the nightly DAG's
file imports cosmos and Pulse's orchestration, about a quarter of a second in each of
its ~130 task processes (docs/scale-out.md).
"""

from __future__ import annotations

import cosmos.operators.watcher  # noqa: F401  (imported for the tasks, see above)
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

import pulse.orchestration  # noqa: F401  (imported for the tasks, see above)

# A copy: Airflow applies a configuration other than its default object over its own.
CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)
