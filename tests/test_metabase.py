"""`pulse metabase apply` against the Metabase stand-in (tests/metabase_standin.py).

The real CLI runs in a subprocess and talks HTTP to the stand-in on 127.0.0.1; the
stand-in rejects (HTTP 400/401/404) any request whose shape Metabase's API documentation
does not allow, and every test asserts that nothing was rejected. What this does and does
not prove about a real Metabase: README.md, "Metabase".
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pulse.dashboards.spec import load_dashboards
from pulse.metabase.provision import DISPLAY, native_sql
from tests.conftest import REPO, pulse_cli
from tests.metabase_standin import MetabaseStandin

# the project's own dashboards: what `docker compose up` provisions
FIXTURES = REPO / "dashboards"
ADMIN = ("admin@pulse.local", "Admin-pw-4217")
ANALYST_PASSWORD = "analyst-secret-9931"
ANALYST_URL = f"postgresql://metabase_analyst:{ANALYST_PASSWORD}@postgres:5432/pulse"


def apply(mb: MetabaseStandin, *extra: str, folder: Path = FIXTURES,
          password: str = ADMIN[1], check: bool = True):
    env = {"PULSE_METABASE_URL": mb.url, "PULSE_METABASE_ADMIN_EMAIL": ADMIN[0],
           "PULSE_METABASE_ADMIN_PASSWORD": password,
           "PULSE_METABASE_WAREHOUSE_URL": ANALYST_URL}
    proc = pulse_cli("metabase", "apply", "--dashboards", str(folder), *extra, env=env,
                     check=check)
    for secret in (password, ANALYST_PASSWORD):
        assert secret not in proc.stdout + proc.stderr, "a password was printed"
    return proc


def _no_rejections(mb: MetabaseStandin) -> None:
    assert not mb.rejected, f"the stand-in rejected requests: {mb.rejected}"


@pytest.fixture
def specs():
    return load_dashboards(FIXTURES)


def test_apply_creates_everything_with_the_right_shapes(specs):
    with MetabaseStandin(admin=ADMIN) as mb:
        proc = apply(mb)
        _no_rejections(mb)
        assert "change(s) applied" in proc.stdout

        # the warehouse as the analyst login, reading marts and quality only
        (db,) = mb.databases.values()
        assert db["engine"] == "postgres"
        assert {k: db["details"][k] for k in ("host", "port", "dbname", "user", "password")} \
            == {"host": "postgres", "port": 5432, "dbname": "pulse",
                "user": "metabase_analyst", "password": ANALYST_PASSWORD}
        assert db["details"]["schema-filters-patterns"] == "marts,quality"

        # "Pulse" at the root, one sub-collection per dashboard
        (root,) = [c for c in mb.collections.values() if c["location"] == "/"]
        assert root["name"] == "Pulse"
        subs = {c["name"]: c for c in mb.collections.values()
                if c["location"] == f"/{root['id']}/"}
        assert set(subs) == {d.title for d in specs}

        for spec in specs:
            coll = subs[spec.title]
            cards = {c["name"]: c for c in mb.cards.values() if c["collection_id"] == coll["id"]}
            assert set(cards) == {c.title for c in spec.cards}
            for card in spec.cards:
                got = cards[card.title]
                assert got["display"] == DISPLAY[card.visualization]
                assert got["description"] == card.description
                q = got["dataset_query"]
                assert q["type"] == "native" and q["database"] == db["id"]
                # the spec's SQL as written: its {{tags}} are Metabase's own
                assert q["native"]["query"] == card.sql.rstrip(";")
                tags = q["native"]["template-tags"]
                assert set(tags) == set(card.params)
                assert {t["type"] for t in tags.values()} <= {"text", "date"}
            if spec.name == "product_engagement":
                vs = cards["Daily, weekly and monthly active users"]["visualization_settings"]
                assert vs == {"graph.dimensions": ["activity_date"],
                              "graph.metrics": ["dau", "wau", "mau"],
                              "graph.x_axis.title_text": "Day",
                              "graph.y_axis.title_text": "Active users"}
            if spec.name == "retention":
                vs = cards["Monthly signup cohorts"]["visualization_settings"]
                assert vs["table.pivot"] and vs["table.cell_column"] == "retention_rate"

            (dash,) = [d for d in mb.dashboards.values() if d["collection_id"] == coll["id"]]
            assert dash["name"] == spec.title and dash["description"] == spec.description
            param_ids = {p["id"] for p in dash["parameters"]}
            assert param_ids == {p for c in spec.cards for p in c.params}
            assert len(dash["dashcards"]) == len(spec.cards)
            for dc in dash["dashcards"]:
                card = mb.cards[dc["card_id"]]
                mapped = {m["parameter_id"] for m in dc["parameter_mappings"]}
                assert mapped == set(card["dataset_query"]["native"]["template-tags"])
                for m in dc["parameter_mappings"]:
                    assert m["target"] == ["variable", ["template-tag", m["parameter_id"]]]


def test_a_second_apply_makes_no_write_request():
    with MetabaseStandin(admin=ADMIN) as mb:
        apply(mb)
        mb.requests.clear()
        proc = apply(mb)
        _no_rejections(mb)
        assert mb.writes == [("POST", "/api/session")], mb.writes  # the login only
        assert "Metabase is up to date" in proc.stdout


def test_plan_writes_nothing_and_says_what_it_would_do(specs):
    with MetabaseStandin(admin=ADMIN) as mb:
        proc = apply(mb, "--plan")
        _no_rejections(mb)
        assert mb.writes == [("POST", "/api/session")]
        assert not (mb.databases or mb.collections or mb.cards or mb.dashboards)
        lines = proc.stdout.splitlines()
        assert "would create database 'Pulse warehouse'" in lines[0]
        n_cards = sum(len(d.cards) for d in specs)
        assert sum("would create card" in ln for ln in lines) == n_cards
        assert sum("would create dashboard" in ln for ln in lines) == len(specs)
        assert "nothing written" in proc.stdout

        # after an apply, a plan has nothing to say
        apply(mb)
        mb.requests.clear()
        proc = apply(mb, "--plan")
        assert mb.writes == [("POST", "/api/session")]
        assert "up to date" in proc.stdout


def test_a_fresh_metabase_is_set_up_then_provisioned():
    with MetabaseStandin(admin=None) as mb:
        proc = apply(mb, "--plan")
        assert mb.writes == [] and not mb.users, "a plan must not set Metabase up"
        assert "would setup admin" in proc.stdout
        apply(mb)
        _no_rejections(mb)
        assert mb.users == {ADMIN[0]: ADMIN[1]}
        assert mb.writes[0] == ("POST", "/api/setup")
        assert mb.dashboards
        mb.requests.clear()
        apply(mb)
        assert mb.writes == [("POST", "/api/session")]


def test_a_changed_card_sql_is_updated_in_place(tmp_path):
    folder = tmp_path / "dashboards"
    shutil.copytree(FIXTURES, folder)
    with MetabaseStandin(admin=ADMIN) as mb:
        apply(mb, folder=folder)
        ids = {c["name"]: c["id"] for c in mb.cards.values()}
        dashcards = {d["id"]: [dc["id"] for dc in d["dashcards"]]
                     for d in mb.dashboards.values()}

        spec = folder / "data_quality.yml"
        spec.write_text(spec.read_text().replace("sum(rejected_lines) as rejected_lines",
                                                 "sum(rejected_lines) as n_lines"))
        mb.requests.clear()
        proc = apply(mb, folder=folder)
        _no_rejections(mb)
        card_id = ids["Quarantined lines by reason"]
        assert mb.writes == [("POST", "/api/session"), ("PUT", f"/api/card/{card_id}")]
        assert "updated card 'Data quality / Quarantined lines by reason' (dataset_query)" \
            in proc.stdout
        assert "n_lines" in mb.cards[card_id]["dataset_query"]["native"]["query"]
        assert {c["name"]: c["id"] for c in mb.cards.values()} == ids
        assert {d["id"]: [dc["id"] for dc in d["dashcards"]]
                for d in mb.dashboards.values()} == dashcards


def test_a_card_removed_from_the_spec_is_archived_and_leaves_the_dashboard(tmp_path):
    folder = tmp_path / "dashboards"
    shutil.copytree(FIXTURES, folder)
    with MetabaseStandin(admin=ADMIN) as mb:
        apply(mb, folder=folder)
        spec = folder / "product_engagement.yml"
        text = spec.read_text()
        spec.write_text(text[:text.index("  - id: events_per_day")])
        apply(mb, folder=folder)
        _no_rejections(mb)
        (gone,) = [c for c in mb.cards.values() if c["name"] == "Events per day"]
        assert gone["archived"]
        (dash,) = [d for d in mb.dashboards.values() if d["name"] == "Product engagement"]
        assert gone["id"] not in {dc["card_id"] for dc in dash["dashcards"]}
        assert len(dash["dashcards"]) == 5


def test_a_wrong_admin_password_is_one_clear_line_and_exit_2():
    with MetabaseStandin(admin=ADMIN) as mb:
        proc = apply(mb, password="wrong-password-1", check=False)
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "refused the admin login" in lines[0]
        assert "PULSE_METABASE_ADMIN_PASSWORD" in lines[0]
        assert mb.writes == [("POST", "/api/session")]


def test_missing_settings_and_bad_specs_are_one_line_and_exit_2(tmp_path):
    proc = pulse_cli("metabase", "apply", env={"PULSE_METABASE_ADMIN_PASSWORD": ""},
                     check=False)
    assert proc.returncode == 2 and "PULSE_METABASE_ADMIN_PASSWORD" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.yml").write_text(
        "title: X\ndescription: d\ncards:\n  - id: t\n    title: t\n    description: d\n"
        "    sql: select 1 from marts.dim_date\n    visualization: sparkline\n")
    with MetabaseStandin(admin=ADMIN) as mb:
        proc = apply(mb, folder=tmp_path, check=False)
    assert proc.returncode == 2
    assert re.search(r"bad\.yml card 't': visualization 'sparkline' is not one of", proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unreachable_metabase_is_one_line(tmp_path):
    with MetabaseStandin(admin=ADMIN) as mb:
        url = mb.url
    proc = pulse_cli("metabase", "apply", "--dashboards", str(FIXTURES), check=False, env={
        "PULSE_METABASE_URL": url, "PULSE_METABASE_ADMIN_PASSWORD": ADMIN[1],
        "PULSE_METABASE_WAREHOUSE_URL": ANALYST_URL})
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "cannot reach Metabase" in proc.stderr


def as_metabase_runs_it(sql: str, values: dict[str, str]) -> str:
    """Metabase's substitution: an optional clause whose tag has no value is dropped;
    a text or date value becomes a quoted literal."""
    def clause(m: re.Match[str]) -> str:
        tag = re.search(r"\{\{\s*(\w+)\s*\}\}", m.group(1)).group(1)
        if tag not in values:
            return ""
        return re.sub(r"\{\{\s*" + tag + r"\s*\}\}", "'" + values[tag] + "'", m.group(1))
    return re.sub(r"\[\[(.*?)\]\]", clause, sql, flags=re.DOTALL)


def test_the_filter_clauses_are_valid_sql_on_postgresql(warehouse_db):
    """The SQL `apply` saves runs on PostgreSQL as Metabase substitutes it, with and without
    filters (a card of the same shape over VALUES stands in for the marts), and every
    project card is left with no unsubstituted tag when no filter is set."""
    from pulse.dashboards.spec import Card
    from tests.conftest import query

    card = Card(id="t", title="t", description="d", visualization="line",
                fields={"x": "day", "y": ["n"]}, filters=("tenant", "date_range"),
                sql="select * from (values ('ten_a', date '2026-01-02', 3), "
                    "('ten_b', date '2026-01-05', 4)) as v(tenant_id, day, n) where true "
                    "[[and tenant_id = {{tenant_id}}]] [[and day >= {{date_from}}]] "
                    "[[and day <= {{date_to}}]] order by day")
    sql = native_sql(card)
    assert len(query(as_metabase_runs_it(sql, {}))) == 2
    assert query(as_metabase_runs_it(sql, {"tenant_id": "ten_b"}))[0][2] == 4
    assert len(query(as_metabase_runs_it(
        sql, {"date_from": "2026-01-03", "date_to": "2026-01-31"}))) == 1
    for spec in load_dashboards(FIXTURES):
        for c in spec.cards:
            assert as_metabase_runs_it(native_sql(c), {}).count("{{") == 0
