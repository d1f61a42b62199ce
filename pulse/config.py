"""Where Pulse finds its warehouse, its files and its tools.

Every environment variable Pulse reads is named in `ENV_VARS`, so the docker-compose
file and the docs can be checked against the code (tests/test_compose.py does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# name -> what it does. Keep in step with README.md ("Configuration").
ENV_VARS: dict[str, str] = {
    "WAREHOUSE_URL": "postgresql://user:password@host:port/db of an existing server; "
    "when set, Pulse never starts its own cluster",
    "PULSE_HOME": "folder for local state: the PostgreSQL cluster, Airflow home, logs "
    "(default: <repo>/.pulse)",
    "PULSE_DATA_DIR": "folder for generated data and artifacts (default: <repo>/data)",
    "PULSE_LANDING_DIR": "where landing files are read from (default: $PULSE_DATA_DIR/landing)",
    "PULSE_WAREHOUSE_PORT": "port of the local cluster on 127.0.0.1 (default: 54329)",
    "PULSE_WAREHOUSE_DB": "database name on the local cluster (default: pulse)",
    "PULSE_PG_BIN": "folder holding initdb and pg_ctl, if not on PATH or in "
    "/usr/lib/postgresql/*/bin",
    "PULSE_AIRFLOW_DB_URL": "Airflow's metadata database (default: database "
    "<warehouse db>_airflow on the warehouse's server)",
    "PULSE_DBT_TARGET": "dbt target from dbt_project/profiles.yml (default: pulse)",
    # The loader (pulse/loader.py reads these through settings())
    "PULSE_MAX_LINE_BYTES": "longest landing line loaded; longer lines are quarantined as "
    "line_too_long (default: 1048576, 1 MiB)",
    "PULSE_UNKNOWN_TENANT_GRACE_DAYS": "days after an event's day that a line of a tenant in "
    "no accounts export is held before it is quarantined as unknown_tenant (default: 7; "
    "0: at once)",
    "PULSE_LOAD_JOBS": "landing files loaded side by side, one warehouse connection each "
    "(default: the machine's cores; 1: one after the other)",
    "PULSE_SECRETS_KEY": "Fernet key(s) that encrypt webhook signing secrets at rest, "
    "comma-separated, the first encrypts (default: $PULSE_HOME/secrets.key, created 0600)",
    # Privacy (pulse/privacy/, docs/privacy.md)
    "PULSE_PII_KEY": "key of the HMAC-SHA256 that replaces emails and erasure subjects "
    "(default: a random key kept in $PULSE_HOME/pii.key, mode 0600)",
    "PULSE_RETENTION_USER_EVENTS_DAYS": "days raw and user-level events are kept (default: 730)",
    "PULSE_RETENTION_ANALYTICS_DAYS": "days tenant-level aggregates are kept (default: 2555)",
    "PULSE_RETENTION_WEBHOOK_LOG_DAYS": "days webhook messages and attempts are kept "
    "(default: 90)",
    "PULSE_RETENTION_ML_FEATURES_DAYS": "days ml.ml_features scores are kept (default: 365)",
    # ML (pulse/ml/train.py, docs/evaluation.md)
    "PULSE_ML_MIN_AUC_LOWER_BOUND": "a trained churn model is promoted only when the lower "
    "bound of the 95% interval of its ROC AUC minus the best baseline's is above this "
    "(default: 0)",
    "PULSE_RETENTION_QUARANTINE_DAYS": "days quarantined lines are kept (default: 30)",
    # Webhook delivery (pulse/webhooks/settings.py reads these)
    "PULSE_WEBHOOK_ALLOW_NETWORKS": "comma-separated CIDRs webhooks may reach although they "
    "are private/loopback (default: none; tests allow 127.0.0.0/8)",
    "PULSE_WEBHOOK_ALLOW_HTTP": "1 to allow plain-http webhook URLs (default: https only)",
    "PULSE_WEBHOOK_AT_RISK_THRESHOLD": "churn probability above which a user.at_risk webhook "
    "is announced, read by dbt when it builds marts.webhook_announcements (default: dbt var "
    "webhook_at_risk_threshold, 0.7)",
    "PULSE_WEBHOOK_RETRY_SCHEDULE": "seconds before each retry, comma-separated (default: "
    "5,300,1800,7200,18000,36000,36000)",
    "PULSE_WEBHOOK_TIMEOUT": "seconds a webhook request may take in all, connecting to "
    "reading the answer (default: 15, at most 300)",
    "PULSE_WEBHOOK_ALLOWED_PORTS": "ports webhook URLs may use, comma-separated ports or "
    "ranges (default: 443,1024-65535)",
    "PULSE_WEBHOOK_MAX_RUN_SECONDS": "seconds after which a delivery run stops claiming "
    "batches; the next run carries on (default: 240)",
    "PULSE_WEBHOOK_MAX_BATCH": "most events in one webhook request (default: 50)",
    "PULSE_WEBHOOK_CONCURRENCY": "webhook requests in flight at once (default: 64)",
    "PULSE_WEBHOOK_DISABLE_AFTER_DAYS": "days an endpoint may fail in a row before it is "
    "disabled (default: 5)",
    # Metabase provisioning (pulse/metabase/provision.py reads these)
    "PULSE_METABASE_URL": "Metabase's address for `pulse metabase apply` "
    "(default: http://127.0.0.1:3000)",
    "PULSE_METABASE_ADMIN_EMAIL": "the Metabase admin's email; created on a fresh Metabase "
    "(default: admin@pulse.local)",
    "PULSE_METABASE_ADMIN_PASSWORD": "the Metabase admin's password (required; never printed)",
    "PULSE_METABASE_WAREHOUSE_URL": "postgresql://USER:PASSWORD@HOST:PORT/DB: the warehouse "
    "as Metabase reaches it, as a login in role pulse_analyst (required)",
}

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 54329
LOCAL_USER = "pulse"


class ConfigError(ValueError):
    """A setting in the environment is unusable; the message names it and the fix."""


def _env(name: str) -> str | None:
    assert name in ENV_VARS, f"{name} must be declared in pulse.config.ENV_VARS"
    value = os.environ.get(name)
    return value if value else None


@dataclass(frozen=True)
class DbParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str, name: str = "WAREHOUSE_URL") -> DbParams:
        parts = urlsplit(url)
        # The URL may hold a password: messages name its shape, never echo it.
        if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
            raise ConfigError(
                f"{name} must look like postgresql://user:password@host:port/dbname "
                f"(it starts with {parts.scheme[:20]!r})" if parts.scheme else
                f"{name} must look like postgresql://user:password@host:port/dbname"
            )
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{name} has a port that is not a number in 1-65535") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise ConfigError(f"{name} must name a database: postgresql://host:port/DBNAME")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port or 5432,
            user=unquote(parts.username or LOCAL_USER),
            password=unquote(parts.password or ""),
            dbname=dbname,
        )

    def url(self, scheme: str = "postgresql") -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        netloc = f"{auth}@{self.host}:{self.port}"
        return urlunsplit((scheme, netloc, "/" + quote(self.dbname, safe=""), "", ""))

    def with_db(self, dbname: str) -> DbParams:
        return DbParams(self.host, self.port, self.user, self.password, dbname)

    def dsn(self) -> str:
        """A libpq keyword DSN (psycopg2.connect accepts it)."""
        out = f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"
        if self.password:
            out += f" password={self.password}"
        return out

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt_project/profiles.yml reads."""
        return {
            "PULSE_PG_HOST": self.host,
            "PULSE_PG_PORT": str(self.port),
            "PULSE_PG_USER": self.user,
            "PULSE_PG_PASSWORD": self.password,
            "PULSE_PG_DBNAME": self.dbname,
        }


@dataclass(frozen=True)
class Settings:
    home: Path
    data_dir: Path
    landing_dir: Path
    external_url: str | None
    local_port: int
    local_db: str
    max_line_bytes: int = 1 << 20
    unknown_tenant_grace_days: int = 7
    # Files loaded side by side, one connection each (docs/loading.md); default: the cores.
    load_jobs: int = 1

    @property
    def uses_local_cluster(self) -> bool:
        return self.external_url is None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def dbt_project_dir(self) -> Path:
        return REPO_ROOT / "dbt_project"

    @property
    def dags_dir(self) -> Path:
        return REPO_ROOT / "dags"

    @property
    def sql_dir(self) -> Path:
        return REPO_ROOT / "sql"

    def warehouse(self) -> DbParams:
        if self.external_url:
            return DbParams.from_url(self.external_url)
        return DbParams("127.0.0.1", self.local_port, LOCAL_USER, "", self.local_db)

    def airflow_db(self) -> DbParams:
        explicit = _env("PULSE_AIRFLOW_DB_URL")
        if explicit:
            return DbParams.from_url(explicit, "PULSE_AIRFLOW_DB_URL")
        wh = self.warehouse()
        return wh.with_db(f"{wh.dbname}_airflow")


def _port(text: str | None) -> int:
    if text is None:
        return DEFAULT_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"PULSE_WAREHOUSE_PORT must be a port number (1-65535), got {text!r}")
    return int(text)


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {raw!r}")
    return value


def settings() -> Settings:
    """Read the environment now (not at import), so tests and the CLI can change it."""
    home = Path(_env("PULSE_HOME") or REPO_ROOT / ".pulse").resolve()
    data_dir = Path(_env("PULSE_DATA_DIR") or REPO_ROOT / "data").resolve()
    landing = Path(_env("PULSE_LANDING_DIR") or data_dir / "landing").resolve()
    return Settings(
        home=home,
        data_dir=data_dir,
        landing_dir=landing,
        external_url=_env("WAREHOUSE_URL"),
        local_port=_port(_env("PULSE_WAREHOUSE_PORT")),
        local_db=_env("PULSE_WAREHOUSE_DB") or "pulse",
        max_line_bytes=_int_env("PULSE_MAX_LINE_BYTES", 1 << 20, 64),
        unknown_tenant_grace_days=_int_env("PULSE_UNKNOWN_TENANT_GRACE_DAYS", 7, 0),
        load_jobs=_int_env("PULSE_LOAD_JOBS", os.cpu_count() or 1, 1),
    )


def ml_min_auc_lower_bound() -> float:
    raw = _env("PULSE_ML_MIN_AUC_LOWER_BOUND")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not -1.0 <= value <= 1.0:
        raise ConfigError("PULSE_ML_MIN_AUC_LOWER_BOUND must be a number in -1..1 (a "
                          f"difference of ROC AUCs), got {raw!r}")
    return value


def secrets_key_env() -> str | None:
    return _env("PULSE_SECRETS_KEY")


def dbt_target() -> str:
    return _env("PULSE_DBT_TARGET") or "pulse"
