"""Dashboards as code: the specs agree with the dbt exposures, every card runs as
`pulse_analyst` and returns rows, and every page of `pulse report` draws in headless
Chromium with no console error.

One small warehouse (4 tenants, 64 days) is built for the module with the real loader,
dbt, quality gate, a model trained on it, the last day scored and its digests delivered
to a real receiver on loopback, so every card has data. Screenshots of the report go to
data/test-artifacts/report/ (SCREENSHOTS): look at them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from generators import generate
from pulse.dashboards import SpecError, bind, load_dashboards
from pulse.dashboards.run import Filters, analyst_session, run_card, run_dashboards
from pulse.dashboards.spec import Card, Dashboard, load_dashboard
from tests.chromium import Chromium, chromium_binary
from tests.conftest import REPO, dbt_build, environment, marks, pulse_cli, query, reset_schemas

START = date(2026, 1, 1)
DAYS = 64
LAST = START + timedelta(days=DAYS - 1)
SCREENSHOTS = REPO / "data" / "test-artifacts" / "report"


# --- the specs and the exposures: one source ----------------------------------------------

def _exposures() -> dict[str, set[str]]:
    doc = yaml.safe_load((REPO / "dbt_project/models/exposures.yml").read_text())
    schemas = {"pulse_quality": "quality", "pulse_ml": "ml", "pulse_delivery": "delivery"}
    out = {}
    for exp in doc["exposures"]:
        tables = set()
        for dep in exp["depends_on"]:
            if m := re.fullmatch(r"ref\('(\w+)'\)", dep):
                tables.add(f"marts.{m.group(1)}")
            elif m := re.fullmatch(r"source\('(\w+)',\s*'(\w+)'\)", dep):
                tables.add(f"{schemas[m.group(1)]}.{m.group(2)}")
            else:
                raise AssertionError(f"unexpected depends_on {dep}")
        out[exp["name"]] = tables
    return out


def test_every_exposure_has_a_dashboard_whose_cards_read_what_it_depends_on():
    exposures = _exposures()
    dashboards = {d.name: d for d in load_dashboards()}
    assert set(dashboards) == set(exposures)
    for name, dashboard in dashboards.items():
        read = {t for card in dashboard.cards for t in card.relations}
        assert read <= exposures[name], f"{name} reads {read - exposures[name]} undeclared"
        assert exposures[name] <= read, f"{name} declares {exposures[name] - read} unread"


def test_the_required_dashboards_and_filters_exist():
    cards = {f"{c.dashboard}/{c.id}": c for d in load_dashboards() for c in d.cards}
    for key in ("product_engagement/active_users", "product_engagement/stickiness",
                "retention/monthly_cohorts", "retention/weekly_cohorts",
                "retention/nday_retention_overall", "feature_adoption/adoption_funnel",
                "customer_health/users_at_risk", "customer_health/ltv_by_tenant",
                "customer_health/prediction_accuracy", "revenue/mrr_movements",
                "revenue/net_revenue_retention", "acquisition/signups_by_channel",
                "data_quality/gate_results", "data_quality/quarantine_by_reason",
                "data_quality/freshness", "webhooks/success_rate", "webhooks/durations",
                "webhooks/outcomes_by_type"):
        assert key in cards
    assert cards["retention/monthly_cohorts"].visualization == "heatmap"
    assert all("tenant" in cards[k].filters and "date_range" in cards[k].filters
               for k in ("product_engagement/active_users", "retention/monthly_cohorts"))


def _write(tmp_path: Path, card: str) -> Path:
    path = tmp_path / "bad.yml"
    path.write_text("title: Bad\ndescription: x\ncards:\n" + card)
    return path


@pytest.mark.parametrize(("card", "message"), [
    ("  - {id: a, title: A, description: d, visualization: pie, fields: {}, sql: select 1}",
     "visualization 'pie'"),
    ("  - {id: a, title: A, description: d, visualization: table, fields: {columns: [x]},"
     " filters: [colour], sql: select x from marts.t}", "unknown filter"),
    ("  - {id: a, title: A, description: d, visualization: table, fields: {columns: [x]},"
     " sql: select x from raw.events}", "cards read schema-qualified relations"),
    ("  - {id: a, title: A, description: d, visualization: table, fields: {columns: [x]},"
     " filters: [tenant], sql: select x from marts.t}", "parameters"),
    ("  - {id: a, title: A, description: d, visualization: line, fields: {x: d},"
     " sql: select x from marts.t}", "needs fields y"),
])
def test_a_bad_spec_is_refused_with_the_reason(tmp_path, card, message):
    with pytest.raises(SpecError, match=message):
        load_dashboard(_write(tmp_path, card))


def test_filters_are_bound_as_parameters_and_optional_clauses_drop():
    sql = "select 1 from marts.t where true [[and tenant_id = {{tenant_id}}]] and x like '%a'"
    text, params = bind(sql, {"tenant_id": None})
    assert text == "select 1 from marts.t where true  and x like '%%a'" and params == {}
    text, params = bind(sql, {"tenant_id": "x' or '1'='1"})
    assert "%(tenant_id)s" in text and params == {"tenant_id": "x' or '1'='1"}


def test_cli_lists_every_card_with_its_sql_and_refuses_bad_arguments():
    import json

    listed = json.loads(pulse_cli("dashboards", "list", "--json").stdout)
    expected = [(d.name, c.id) for d in load_dashboards() for c in d.cards]
    assert [(c["dashboard"], c["card"]) for c in listed] == expected
    assert all(c["sql"].lstrip().lower().startswith(("select", "with", "--")) for c in listed)
    proc = pulse_cli("report", "--from", "2026-02-30", check=False)
    assert proc.returncode == 2 and "use YYYY-MM-DD" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- on a built warehouse -----------------------------------------------------------------

@pytest.fixture(scope="module")
@marks("dbt_build")
def built(warehouse_db, tmp_path_factory):
    """Loaded, built, gated, scored and delivered: every card has rows."""
    from pulse.ml import tenant, tenant_score
    from pulse.ml.registry import Ranges
    from pulse.ml.score import score_day
    from pulse.ml.train import train
    from pulse.webhooks import endpoints, signing
    from tests.test_webhooks_delivery import SETTINGS, TEST_ENV
    from tests.webhook_receiver import Receiver

    base = tmp_path_factory.mktemp("dash")
    generate(base / "landing", seed=5, tenants=4, users=240, days=DAYS, start=START,
             dirty=0.01)
    env = {"PULSE_LANDING_DIR": str(base / "landing"), "PULSE_DATA_DIR": str(base / "data")}
    with environment(env):
        reset_schemas()
        pulse_cli("load", env=env)
        dbt_build(env=env)
        pulse_cli("gate", "--day", LAST.isoformat(), env=env)
        # the ML tests' ranges: a model from 64 days of data, fewer boosting rounds
        train(ranges=Ranges(date(2026, 1, 8), date(2026, 1, 24), date(2026, 1, 26),
                            date(2026, 2, 3), data_through=LAST), params={"max_iter": 40})
        assert score_day(LAST)["status"] == "scored"
        # the tenant model (not validated on this little history: the calibrated rule
        # scores, as on the demo)
        tenant.train()
        assert tenant_score.score_day(LAST)["status"] == "scored"
        dbt_build("--select", "marts.ml", env=env)
        secret = signing.new_secret()
        with Receiver([secret.reveal()]) as rx:
            for (tenant,) in query("select tenant_id from marts.dim_tenants where is_current"):
                endpoints.add(tenant, rx.url, event_types=["tenant.daily_digest"],
                              secret=secret, settings=SETTINGS)
            pulse_cli("webhooks", "fill-outbox", LAST.isoformat(), env=env)
            pulse_cli("webhooks", "deliver", env={**env, **TEST_ENV})
        assert rx.requests and all(r.verified for r in rx.requests)
        yield {"env": env, "base": base}


def test_dashboards_check_passes_as_the_analyst(built):
    proc = pulse_cli("dashboards", "check", env=built["env"])
    assert "cards returned rows as pulse_analyst" in proc.stdout
    assert "FAIL" not in proc.stdout


def test_cards_run_with_the_analysts_rights_and_check_reports_failures(built):
    who = Card(id="who", title="t", description="d", visualization="table",
               fields={"columns": ["who"]}, filters=(), dashboard="x",
               sql="select current_user as who from marts.dim_date limit 1")
    empty = Card(id="empty", title="t", description="d", visualization="table",
                 fields={"columns": ["x"]}, filters=(), dashboard="x",
                 sql="select 1 as x from marts.dim_date where false",
                 empty_reason="nothing yet")
    secret = Card(id="secret", title="t", description="d", visualization="table",
                  fields={"columns": ["x"]}, filters=(), dashboard="x",
                  sql="select count(*) from delivery.endpoint_secrets")
    results = run_dashboards([Dashboard("x", "X", "d", [who, empty, secret])])
    assert results[0].rows == [("pulse_analyst",)]
    assert results[1].problem() == "empty result (nothing yet)"
    assert "permission denied" in results[2].problem()


def test_a_tenant_filter_narrows_every_card_that_takes_it(built):
    tenant = query("select tenant_id from marts.dim_tenants where is_current limit 1")[0][0]
    cards = [c for d in load_dashboards() for c in d.cards
             if c.id in ("tenants_latest_day", "tenant_health_details", "freshness")]
    with analyst_session() as cur:
        for card in cards:
            assert len(run_card(cur, card, Filters(tenant_id=tenant)).rows) == 1, card.id
            # a hostile value is a value, not SQL
            assert run_card(cur, card, Filters(tenant_id="x' or '1'='1")).rows == []


def test_session_cards_read_aggregates_that_agree_with_every_session(built):
    """sessions_per_day and session_length read the daily aggregates (docs/dashboards.md,
    "Aggregates for cards"); computed from every session in fct_sessions, the figures are
    the same, over all tenants and for one."""
    cards = {c.id: c for d in load_dashboards() for c in d.cards
             if c.id in ("sessions_per_day", "session_length")}
    tenant = query("select tenant_id from marts.dim_tenants where is_current limit 1")[0][0]
    for filters, where in ((Filters(), "true"), (Filters(tenant_id=tenant),
                                                 f"tenant_id = '{tenant}'")):
        counts = query(f"select session_date, count(*), count(distinct user_id) "
                       f"from marts.fct_sessions where {where} group by 1 order by 1")
        lengths = query(
            "select session_date, "
            "percentile_disc(0.5) within group (order by round(duration_seconds / 60.0, 1)), "
            "percentile_disc(0.9) within group (order by round(duration_seconds / 60.0, 1)) "
            f"from marts.fct_sessions where {where} group by 1 order by 1")
        with analyst_session() as cur:
            per_day = run_card(cur, cards["sessions_per_day"], filters).rows
            length = run_card(cur, cards["session_length"], filters).rows
        assert len(counts) > 30 and per_day == counts
        assert length == lengths
        # the lengths vary: a median stuck at one value would pass the check above
        assert len({row[1] for row in length}) > 1


def test_every_report_page_draws_every_card_in_headless_chromium(built):
    binary = chromium_binary()
    assert binary, "the report test needs Chromium: apt-get install chromium"
    out = built["base"] / "report"
    proc = pulse_cli("report", "--out", str(out), env=built["env"])
    assert str(out / "index.html") in proc.stdout
    pages = sorted(out.glob("*.html"))
    assert {p.stem for p in pages} == {"index", *(d.name for d in load_dashboards())}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    expected = {d.name: [c.id for c in d.cards] for d in load_dashboards()}
    with Chromium(binary) as browser:
        page = browser.new_page()
        for html in pages:
            page.open(html.as_uri())
            # Plotly draws asynchronously: wait until every card says what it shows
            cards = page.evaluate("""new Promise(function (done) {
              var t0 = Date.now();
              (function poll() {
                var s = [...document.querySelectorAll('section.card')];
                if (s.every(c => c.dataset.rendered || c.dataset.empty || c.dataset.error)
                    || Date.now() - t0 > 30000) {
                  done(s.map(c => ({id: c.dataset.card, rows: c.dataset.rows,
                    rendered: c.dataset.rendered, empty: c.dataset.empty || null,
                    svg: c.querySelectorAll('.main-svg').length,
                    table: c.querySelectorAll('tbody tr').length})));
                } else { setTimeout(poll, 50); }
              })();
            })""")
            page.screenshot(SCREENSHOTS / f"{html.stem}.png")
            assert page.errors == [], f"{html.name}: {page.errors}"
            if html.stem == "index":
                links = page.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
                assert len(links) == len(expected)
                continue
            assert [c["id"] for c in cards] == expected[html.stem]
            for c in cards:
                where = f"{html.stem}/{c['id']}"
                assert not c["empty"], f"{where} has no data"
                assert int(c["rows"]) > 0 and c["rendered"] == c["rows"], where
                assert c["svg"] > 0 or c["table"] > 0, f"{where} drew nothing"


def test_an_empty_card_says_why_in_the_report(built, tmp_path):
    card = Card(id="nothing", title="Nothing", description="d", visualization="line",
                fields={"x": "d", "y": ["v"]}, filters=(), dashboard="nothing",
                sql="select date_day as d, 1 as v from marts.dim_date where false",
                empty_reason="no scores yet: the model trains after about 90 days")
    from pulse.dashboards.report import build_report

    build_report(tmp_path, dashboards=[Dashboard("nothing", "Nothing", "d", [card])])
    text = (tmp_path / "nothing.html").read_text()
    assert "No data yet: no scores yet: the model trains after about 90 days." in text
    assert 'data-empty="1"' in text


def test_a_warehouse_without_the_analyst_role_gets_a_clear_error(warehouse_db):
    from pulse.dashboards.run import NoAnalystRole

    with pytest.raises(NoAnalystRole, match=r"0007_roles\.sql"), \
            analyst_session(role="pulse_no_such_role"):
        pass
