"""Scale-out, Airflow side (docs/scale-out.md): the settings that turn Pulse's Airflow
into a CeleryExecutor setup, with Redis as the broker and Airflow's metadata database as
the result backend.

Airflow 3's Celery worker runs each task through the Task SDK, which talks to the
api-server's execution API; so a worker needs the broker, the api-server's URL and the
JWT secret the api-server checks the tasks' tokens with, the same on every component.
docker-compose.yml's `celery` profile and tests/celery_stack.py use these settings.
"""

from __future__ import annotations

from pulse.airflow_env import airflow_env
from pulse.config import settings


def celery_env(broker_url: str, api_url: str, jwt_secret: str,
               base: dict[str, str] | None = None) -> dict[str, str]:
    """Airflow's environment (pulse.airflow_env) with the CeleryExecutor: for the
    scheduler or `airflow dags test --use-executor`, the workers and the api-server."""
    env = airflow_env(base)
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        # Task states come back through the metadata database, not through Redis, so a
        # broker restart loses no outcome.
        "AIRFLOW__CELERY__RESULT_BACKEND":
            "db+" + settings().airflow_db().url("postgresql+psycopg2"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": api_url.rstrip("/") + "/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        # The worker imports what every task of the nightly DAG imports before it forks
        # (pulse/celery_config.py); the configuration itself is Airflow's.
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "pulse.celery_config.CELERY_CONFIG",
        # One task at a time per worker process slot; more workers, not more threads.
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": env.get("AIRFLOW__CELERY__WORKER_CONCURRENCY",
                                                       "2"),
    })
    return env
