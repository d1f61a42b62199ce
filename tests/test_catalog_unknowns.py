"""A tracking-plan typo does not stop the night.

A `feature.used` event naming a feature the feature catalog does not list, and an event
whose name the event catalog does not list, are loaded into a generated warehouse; the
real `dbt build` must succeed (relationships tests included), the marts count them under
the explicit unknown member, and the star suite reports them as warnings with the names
sent, never as a critical failure.
"""

from __future__ import annotations

import gzip
import os
from datetime import date
from pathlib import Path

import orjson
import pytest

from generators import generate
from pulse.quality import gate
from tests.conftest import marks, pulse_cli, query, reset_schemas, scalar

DAY = date(2026, 1, 8)
TYPO_FEATURE = "dashbaords"
NEW_EVENT = "report.exportd"


def _plant(landing: Path) -> str:
    """Two extra lines beside the day's real events: copies of a real feature.used event
    with a misspelt feature and with an unknown event name. Returns their tenant."""
    source = sorted((landing / "events" / f"dt={DAY.isoformat()}").glob("*.ndjson.gz"))[0]
    with gzip.open(source) as fh:
        events = [orjson.loads(line) for line in fh if line.strip()]
    template = next(e for e in events if isinstance(e, dict)
                    and e.get("event_name") == "feature.used")
    typo = {**template, "event_id": "planted-typo-feature",
            "properties": {**(template.get("properties") or {}), "feature_name": TYPO_FEATURE}}
    unknown = {**template, "event_id": "planted-unknown-name", "event_name": NEW_EVENT}
    with gzip.open(source.parent / "planted.ndjson.gz", "wb") as fh:
        fh.write(orjson.dumps(typo) + b"\n" + orjson.dumps(unknown) + b"\n")
    return template["tenant_id"]


@pytest.fixture(scope="module")
@marks("dbt_build")
def built(warehouse_db, tmp_path_factory):
    landing = tmp_path_factory.mktemp("catalog") / "landing"
    generate(landing, seed=11, tenants=2, users=60, days=8, start=date(2026, 1, 1), dirty=0.0)
    tenant = _plant(landing)
    saved = {k: os.environ.get(k) for k in ("PULSE_LANDING_DIR", "PULSE_DATA_DIR")}
    os.environ["PULSE_LANDING_DIR"] = str(landing)
    os.environ["PULSE_DATA_DIR"] = str(landing.parent / "data")
    try:
        reset_schemas()
        pulse_cli("load")
        # The point of the test: the whole build passes, relationships tests included.
        pulse_cli("dbt", "build", "--quiet")
        yield tenant
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_unknown_feature_and_event_name_map_to_the_unknown_member(built):
    rows = dict(query("select event_id, feature_name from marts.fct_events"
                      " where event_id like 'planted-%%'"))
    assert rows["planted-typo-feature"] == "uncatalogued"
    # the copy with an unknown event name keeps its (catalogued) feature
    assert rows["planted-unknown-name"] in {r[0] for r in query(
        "select feature_name from reference.feature_catalog")}
    assert scalar("select properties ->> 'feature_name' from marts.fct_events"
                  " where event_id = 'planted-typo-feature'") == TYPO_FEATURE
    assert scalar("select event_category from marts.fct_events"
                  " where event_id = 'planted-unknown-name'") == "uncatalogued"
    # the unknown member exists once and counts its user
    assert query("select feature_category, is_core, users_to_date from marts.dim_features"
                 " where feature_name = 'uncatalogued'") == [("uncatalogued", False, 1)]


def test_the_marts_after_it_build_and_count_it(built):
    tenant = built
    assert scalar("select count(*) from marts.feature_adoption_monthly"
                  " where tenant_id = %s and feature_name = 'uncatalogued'", (tenant,)) >= 1
    assert scalar("select count(*) from intermediate.int_user_feature_first_use"
                  " where tenant_id = %s and feature_name = 'uncatalogued'", (tenant,)) == 1
    # catalogued features still count as before: the catalog's own names are all there
    assert scalar("select count(*) from marts.dim_features") == 1 + scalar(
        "select count(*) from reference.feature_catalog")


def test_the_star_suite_warns_with_the_names_and_does_not_stop(built):
    tenant = built
    [result] = gate.run(["star"], DAY, "catalog-unknowns", log_line=lambda _m: None,
                        raise_on_failure=False)
    assert result.success, gate.failure_message([result], "catalog-unknowns")
    warned = {r.expectation.name: r for r in result.warnings}
    assert set(warned) == {"event_names_in_catalog", "feature_names_in_catalog"}
    profile = query("select tenant_id, uncatalogued_events, uncatalogued_feature_events,"
                    " uncatalogued_names from quality.profile_catalog_coverage"
                    " where uncatalogued_events + uncatalogued_feature_events > 0")
    assert profile == [(tenant, 1, 1, f"event {NEW_EVENT}, feature {TYPO_FEATURE}")]
    # the failure line names the tenant and the names sent
    assert tenant in warned["feature_names_in_catalog"].observed
    assert TYPO_FEATURE in warned["feature_names_in_catalog"].observed
