"""Who may read what (docs/roles.md), on a built warehouse: every role against every schema
and verb, and the tenant reader against every mart with a tenant_id.

Schemas, relations and marts are discovered from the catalog, so a model or schema added
later is covered without touching this file. Each check runs the real statement as the
role (`SET ROLE`), inside a savepoint that is rolled back.

Over 300 lines on purpose: every role's rights are checked against one built warehouse
(module-scoped), so the build happens once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import date

import pytest
from psycopg2 import errors, sql

from generators import generate
from pulse import warehouse
from tests.conftest import (
    REPO,
    dbt_build,
    environment,
    marks,
    pulse_cli,
    query,
    reset_schemas,
    scalar,
    settings,
)

ROLES = ("pulse_owner", "pulse_loader", "pulse_delivery", "pulse_analyst",
         "pulse_tenant_reader")
PULSE_SCHEMAS = {"raw", "staging", "intermediate", "marts", "snapshots", "reference",
                 "analytics", "quality", "ml", "delivery"}
START = date(2026, 1, 1)
LAST = date(2026, 1, 21)


@pytest.fixture(scope="module")
@marks("dbt_build")
def built(warehouse_db, tmp_path_factory):
    """A small warehouse built by one `dbt build`, with scores in ml.ml_features (so the
    ML marts have rows) and one webhook endpoint with its secret."""
    base = tmp_path_factory.mktemp("roles")
    landing = base / "landing"
    generate(landing, seed=11, tenants=3, users=90, days=21, start=START)
    env = {"PULSE_LANDING_DIR": str(landing), "PULSE_DATA_DIR": str(base / "data")}
    with environment(env):
        reset_schemas()
        pulse_cli("migrate", env=env)
        pulse_cli("load", env=env)
        _plant_scores()
        dbt_build(env=env)
        # an endpoint per tenant and the last day's messages queued: the delivery marts
        # have rows of every tenant
        hooks = {**env, "PULSE_WEBHOOK_ALLOW_HTTP": "1",
                 "PULSE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
        for (tenant,) in query("select distinct tenant_id from marts.dim_tenants"):
            pulse_cli("webhooks", "endpoints", "add", tenant, "http://127.0.0.1:9999/hook",
                      env=hooks)
        pulse_cli("webhooks", "fill-outbox", LAST.isoformat(), env=hooks)
        yield env


def _plant_scores() -> None:
    """Scores for every user on the last day, as `pulse ml score` writes them (training a
    model needs about 90 days; the roles do not depend on where scores come from)."""
    query("insert into ml.model_registry (model_version, data_through, train_start, "
          "train_end, validation_start, validation_end, params, features, metrics, "
          "artifact_path, artifact_sha256) values ('v_roles', %s, %s, %s, %s, %s, '{}', "
          "'[]', '{}', '/nonexistent', '0') returning 1",
          (LAST, START, date(2026, 1, 5), date(2026, 1, 10), LAST))
    query("insert into ml.ml_features (tenant_id, user_id, scored_at, model_version, "
          "churn_probability, ltv_prediction, propensity_scores, risk_band, top_factors) "
          "select tenant_id, user_id, %s::date, 'v_roles', 0.8, 10, '{}', 'high', "
          "'[]' from (select distinct tenant_id, payload ->> 'user_id' as user_id "
          "from raw.events where payload ->> 'user_id' is not null) u returning 1",
          (LAST,))
    # and every tenant's, as the calibrated rule writes them (ml.tenant_scores)
    query("insert into ml.tenant_scores (tenant_id, scored_at, model_version, "
          "churn_probability, risk_band, horizon_days, mrr, ltv_prediction) "
          "select distinct tenant_id, %s::date, 'rule-baseline', 0.2, 'low', 60, 100, 1000 "
          "from raw.events returning 1", (LAST,))


def _relations(partitions: bool = False) -> list[tuple[str, str, str]]:
    """(schema, name, relkind) of every table and view outside the system schemas; the
    partitions of a partitioned table (raw.events, fct_events) apart, when asked."""
    return query(
        "select n.nspname, c.relname, c.relkind from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'v', 'm') and c.relispartition = %s"
        " and n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'"
        " order by 1, 2", (partitions,))


def _schemas() -> list[str]:
    return [r[0] for r in query(
        "select nspname from pg_namespace where nspname not like 'pg\\_%%'"
        " and nspname <> 'information_schema' order by 1")]


def _tenant_marts() -> dict[str, str]:
    """marts relation -> relkind, for every one with a tenant_id column."""
    return dict(query(
        "select c.relname, c.relkind from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id'"
        " and not a.attisdropped"
        " where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm') order by 1"))


class AsRole:
    """One connection; each probe runs as a role in a savepoint that is rolled back."""

    def __init__(self) -> None:
        self.conn = warehouse.connect()

    @contextlib.contextmanager
    def _session(self, role: str, tenant: str | None) -> Iterator:
        """A cursor acting as `role` (and tenant), in a savepoint rolled back after."""
        with self.conn.cursor() as cur:
            cur.execute("savepoint probe")
            try:
                cur.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                if tenant is not None:
                    cur.execute("select set_config('pulse.tenant_id', %s, true)", (tenant,))
                yield cur
            finally:
                cur.execute("rollback to savepoint probe")

    def allowed(self, role: str, statement: sql.Composable | str,
                tenant: str | None = None) -> bool:
        with self._session(role, tenant) as cur:
            try:
                cur.execute(statement)
                return True
            except errors.InsufficientPrivilege as exc:
                assert "permission denied" in str(exc) or "must be" in str(exc), exc
                return False

    def rows(self, role: str, statement: sql.Composable, tenant: str | None) -> list[tuple]:
        with self._session(role, tenant) as cur:
            cur.execute(statement)
            return cur.fetchall()

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()


@pytest.fixture
def probe(built):
    p = AsRole()
    yield p
    p.close()


WRITERS = ("pulse_owner", "pulse_loader", "pulse_delivery")


def _may_write(role: str, schema: str, name: str) -> bool:
    if role == "pulse_owner":
        return schema in PULSE_SCHEMAS
    if role == "pulse_loader":
        return schema == "raw"
    if role == "pulse_delivery":
        return schema == "delivery" and name != "endpoint_secrets"
    return False


def _may_read(role: str, schema: str, name: str, kind: str, tenant_marts: dict) -> bool:
    # a role that writes reads exactly what it writes
    if role in WRITERS:
        return _may_write(role, schema, name)
    if role == "pulse_analyst":
        return schema in ("marts", "quality")
    # tenant reader: marts with a tenant_id (rows filtered; see the tenant test)
    return schema == "marts" and name in tenant_marts


def _view_options(name: str) -> list[str]:
    return query("select coalesce(reloptions, '{}') from pg_class where oid = %s::regclass",
                 (f"marts.{name}",))[0][0]


def test_role_matrix(probe):
    """read, write and create in every schema, and COPY TO PROGRAM, for every role."""
    relations = _relations()
    tenant_marts = _tenant_marts()
    assert {s for s, _, _ in relations} >= PULSE_SCHEMAS - {"analytics"}
    wrong: list[str] = []
    for role in ROLES:
        for schema, name, kind in relations:
            rel = sql.Identifier(schema, name)
            read = probe.allowed(role, sql.SQL("select * from {} limit 1").format(rel))
            if read != _may_read(role, schema, name, kind, tenant_marts):
                wrong.append(f"{role} read {schema}.{name}: {read}")
            if kind in ("r", "p"):
                # INSERT of no row: the privilege is checked, nothing is written
                first_col = query("select attname from pg_attribute where attrelid = "
                                  "%s::regclass and attnum > 0 and not attisdropped and "
                                  "attidentity = '' and attgenerated = '' order by attnum "
                                  "limit 1", (f'"{schema}"."{name}"',))[0][0]
                write = probe.allowed(role, sql.SQL(
                    "insert into {} ({}) select null where false").format(
                        rel, sql.Identifier(first_col)))
            else:
                write = query("select has_table_privilege(%s, %s::regclass, "
                              "'insert, update, delete, truncate')",
                              (role, f'"{schema}"."{name}"'))[0][0]
            if write != _may_write(role, schema, name):
                wrong.append(f"{role} write {schema}.{name}: {write}")
            if kind in ("r", "p"):
                for verb in ("update", "delete", "truncate"):
                    if query("select has_table_privilege(%s, %s::regclass, %s)",
                             (role, f'"{schema}"."{name}"', verb))[0][0] \
                            and not _may_write(role, schema, name):
                        wrong.append(f"{role} {verb} {schema}.{name}")
        for schema in _schemas():
            create = probe.allowed(role, sql.SQL("create table {} (i int)").format(
                sql.Identifier(schema, "pulse_role_probe")))
            if create != (role == "pulse_owner" and schema in PULSE_SCHEMAS):
                wrong.append(f"{role} create in {schema}: {create}")
        if probe.allowed(role, "copy (select 1) to program 'true'"):
            wrong.append(f"{role} may COPY TO PROGRAM")
        if probe.allowed(role, "create schema pulse_role_probe"):
            wrong.append(f"{role} may create a schema")
        secrets = probe.allowed(role, "select * from delivery.live_signing_secrets("
                                      "array['x'])")
        if secrets != (role in ("pulse_owner", "pulse_delivery")):
            wrong.append(f"{role} signing secrets function: {secrets}")
        # a partition is read and written through its parent, whose grants apply to it
        # there: nobody but its owner (and pulse_owner, who runs the DDL) reaches one
        # directly
        for schema, name, _kind in _relations(partitions=True) if role != "pulse_owner" else []:
            direct = query("select pg_get_userbyid(relowner) <> %s and has_table_privilege("
                           "%s, %s::regclass, 'select, insert, update, delete, truncate')"
                           " from pg_class where oid = %s::regclass",
                           (role, role, f'"{schema}"."{name}"', f'"{schema}"."{name}"'))[0][0]
            if direct:
                wrong.append(f"{role} reaches the partition {schema}.{name} directly")
        attributes = query("select rolsuper or rolcreaterole or rolcreatedb or rolbypassrls "
                           "or rolcanlogin from pg_roles where rolname = %s", (role,))
        assert attributes == [(False,)], f"{role} is a login or has a dangerous attribute"
    assert wrong == [], "\n".join(wrong)


def test_analyst_reads_every_mart_and_the_quality_results(probe):
    for schema, name, _ in _relations():
        if schema in ("marts", "quality"):
            assert probe.allowed("pulse_analyst", sql.SQL("select count(*) from {}").format(
                sql.Identifier(schema, name))), f"{schema}.{name}"
    # the analyst sees every tenant's rows, not only one
    rows = probe.rows("pulse_analyst", sql.SQL(
        "select count(distinct tenant_id) from marts.fct_events"), None)
    assert rows[0][0] == 3


def test_tenant_reader_sees_its_own_rows_only(probe):
    """Every mart with a tenant_id, tables and views: each tenant's reader sees >= 1 row,
    all of them its own; without the setting, with an empty one or another tenant's id
    that has no rows, nothing."""
    tenant_marts = _tenant_marts()
    tenants = [r[0] for r in query("select distinct tenant_id from marts.dim_tenants")]
    assert len(tenants) == 3 and len(tenant_marts) >= 20
    assert {"fct_events", "fct_sessions", "webhook_announcements",
            "webhook_delivery_performance", "ml_tenant_ltv"} <= set(tenant_marts)
    for name in tenant_marts:
        rel = sql.Identifier("marts", name)
        present = [r[0] for r in query(sql.SQL(
            "select distinct tenant_id from {} where tenant_id is not null order by 1"
        ).format(rel).as_string(probe.conn))]
        assert present, f"marts.{name} has no tenant rows to test with"
        count = sql.SQL("select count(*) filter (where tenant_id is not distinct from "
                        "current_setting('pulse.tenant_id', true)), count(*) from {}").format(rel)
        for tenant in present:
            own, total = probe.rows("pulse_tenant_reader", count, tenant)[0]
            assert own >= 1 and total == own, (name, tenant, own, total)
        for tenant in (None, "", "ten_nobody"):
            assert probe.rows("pulse_tenant_reader", count, tenant)[0] == (0, 0), (name, tenant)
        # other readers are not narrowed by the setting
        all_rows = query(sql.SQL("select count(*) from {}").format(rel).as_string(probe.conn))
        assert probe.rows("pulse_analyst", sql.SQL("select count(*) from {}").format(rel),
                          present[0]) == all_rows, name


def test_views_do_not_bypass_the_policies(probe):
    """A view reads with its owner's rights unless security_invoker: each view with a
    tenant_id is either invoker-rights or a security_barrier view filtering by tenant."""
    for name, kind in _tenant_marts().items():
        if kind != "v":
            continue
        options = _view_options(name)
        if "security_invoker=true" in options:
            continue
        definition = query("select pg_get_viewdef(%s::regclass)", (f"marts.{name}",))[0][0]
        assert "security_barrier=true" in options and "pulse.tenant_id" in definition, name


def test_grants_and_policies_survive_a_rebuild(built, probe):
    pulse_cli("dbt", "run", "--quiet", "--full-refresh", "--select",
              "fct_daily_tenant_activity+", env=built)
    pulse_cli("dbt", "run", "--quiet", "--select", "fct_events", env=built)
    for name in ("fct_daily_tenant_activity", "fct_events", "daily_active_users"):
        rel = sql.Identifier("marts", name)
        assert probe.allowed("pulse_analyst", sql.SQL("select 1 from {}").format(rel))
        assert probe.rows("pulse_tenant_reader", sql.SQL("select count(*) from {}").format(
            rel), None) == [(0,)]
    assert query("select relrowsecurity from pg_class where oid = "
                 "'marts.fct_events'::regclass") == [(True,)]


def test_every_mart_and_its_columns_carry_their_description_as_a_comment(built, probe,
                                                                         dbt_manifest):
    """dbt's persist_docs: what `dbt docs` shows is on the relations themselves, where
    Metabase's data browser (and psql's \\d+) reads it, after the security-barrier
    wrapping and a rebuild alike, and readable by the analyst."""
    nodes = dbt_manifest["nodes"].values()
    described = {n["alias"]: n for n in nodes
                 if n["resource_type"] == "model" and n["schema"] == "marts"}
    missing = query("""
        select c.relname, null from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm')
           and coalesce(obj_description(c.oid, 'pg_class'), '') = ''
        union all
        select c.relname, a.attname from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm')
           and coalesce(col_description(c.oid, a.attnum), '') = ''
         order by 1, 2""")
    assert missing == [], f"marts relations / columns without a comment: {missing}"
    relations = [name for schema, name, _ in _relations() if schema == "marts"]
    assert len(relations) >= 20 and set(relations) <= set(described)
    # the comments are the yml's descriptions, and the analyst can read them
    dau = described["daily_active_users"]
    got = probe.rows("pulse_analyst", sql.SQL(
        "select obj_description('marts.daily_active_users'::regclass, 'pg_class'), "
        "col_description('marts.daily_active_users'::regclass, "
        "(select attnum from pg_attribute where attrelid = 'marts.daily_active_users'::regclass"
        " and attname = 'active_users'))"), None)
    assert [tuple(v.strip() for v in got[0])] == [
        (dau["description"].strip(), dau["columns"]["active_users"]["description"].strip())]


def test_the_metabase_fixture_cards_run_as_the_analyst(probe):
    """The SQL `pulse metabase apply` saves (dashboards/, substituted as Metabase runs
    it) reads only what the analyst may read, filtered or not."""
    from pulse.dashboards.spec import load_dashboards
    from pulse.metabase.provision import native_sql
    from tests.test_metabase import as_metabase_runs_it

    tenant = query("select min(tenant_id) from marts.dim_tenants")[0][0]
    values = {"tenant_id": tenant, "date_from": START.isoformat(), "date_to": LAST.isoformat()}
    for dashboard in load_dashboards():
        for card in dashboard.cards:
            for given in ({}, values):
                text = as_metabase_runs_it(native_sql(card), given)
                assert probe.allowed("pulse_analyst", text), (card.title, given)


def test_migration_is_idempotent(built):
    """Run again as it is (what an administrator does with psql after the fact)."""
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute((REPO / "sql/migrations/0007_roles.sql").read_text(encoding="utf-8"))
    finally:
        conn.close()
    assert query("select count(*) from pg_roles where rolname = any(%s)",
                 (list(ROLES),)) == [(len(ROLES),)]


def test_a_user_who_may_not_create_roles_is_told_and_pulse_still_works(built):
    """A bring-your-own server where Pulse's user is not a superuser and may not create
    roles: the migrations apply, a warning says what to run, and dbt builds with the
    grants to roles that do not exist left out."""
    if settings().external_url or not scalar("select rolsuper from pg_roles "
                                             "where rolname = current_user"):
        pytest.skip("needs a server where the tests may create a login and a database")
    conn = warehouse.connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("drop database if exists pulse_test_byo")
            cur.execute("drop role if exists pulse_test_byo")
            cur.execute("create role pulse_test_byo login")
            cur.execute("create database pulse_test_byo owner pulse_test_byo")
        wh = settings().warehouse()
        url = f"postgresql://pulse_test_byo@{wh.host}:{wh.port}/pulse_test_byo"
        out = pulse_cli("migrate", env={**built, "WAREHOUSE_URL": url}).stdout
        assert "may not create roles" in out and "0007_roles.sql" in out
        pulse_cli("dbt", "build", "--empty", "--quiet", "--select", "+daily_active_users",
                  "--exclude", "resource_type:test",
                  env={**built, "WAREHOUSE_URL": url})
    finally:
        with conn.cursor() as cur:
            cur.execute("drop database if exists pulse_test_byo")
            cur.execute("drop role if exists pulse_test_byo")
        conn.close()


def test_no_relation_holds_a_plaintext_secret(built):
    assert query("select count(*) from delivery.endpoint_secrets "
                 "where secret_encrypted like 'whsec%%'") == [(0,)]
    stored = query("select * from delivery.endpoint_secrets")
    assert len(stored) == 3 and json.dumps(stored, default=str).count("gAAAAA") == 3
