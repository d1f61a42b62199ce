"""A tracking-plan typo does not stop the night.

A `feature.used` event naming a feature the feature catalog does not list, and an event
whose name the event catalog does not list, are loaded into the session's generated
warehouse (tests/shared.py); the real `dbt build` must succeed (relationships tests
included), the marts count them under the explicit unknown member, and the star suite
reports them as warnings with the names sent, never as a critical failure.
"""

from __future__ import annotations

import pytest

from pulse.quality import gate
from tests.conftest import query, scalar
from tests.shared import NEW_EVENT, TYPO_FEATURE
from tests.shared import PLANT_DAY as DAY


@pytest.fixture
def built(built_warehouse):
    """The session's built warehouse (tests/shared.py plants the two lines): the whole
    `dbt build` passed on it, relationships tests included. Returns the planted tenant."""
    return built_warehouse.planted_tenant


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
