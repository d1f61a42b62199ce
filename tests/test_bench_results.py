"""results.json: a section's run replaces its own figures and keeps the others', and the
headline keys sit at the top level (bench/results.py). No database, no timing."""

from __future__ import annotations

from bench.results import HEADLINE, merge_results


def _dbt_section(noop: float, incr: float) -> dict:
    return {"ratio_increment_long_vs_short": 1.25,
            "increment_long": {"noop_build": {"seconds": noop},
                               "increment_build": {"seconds": incr}}}


def test_sections_merge_without_clobbering_each_other():
    first = merge_results({}, "loader", {"ratio_vs_bare_copy": 0.83}, size="peer", seed=42)
    second = merge_results(first, "dbt", _dbt_section(10.0, 40.0), size="peer", seed=42)
    third = merge_results(second, "xl", {"xl_stage_seconds": {"load": 100.0},
                                         "xl_increment_seconds": 42.5}, size="xl", seed=42)

    assert set(third["sections"]) == {"loader", "dbt", "xl"}
    assert third["sections"]["xl"]["size"] == "xl"
    assert third["sections"]["loader"]["size"] == "peer"
    assert third["loader_vs_copy"] == 0.83
    assert third["increment_ratio_180_30"] == 1.25
    assert third["empty_build_vs_increment"] == 0.25
    assert third["xl_stage_seconds"] == {"load": 100.0}
    assert third["xl_increment_seconds"] == 42.5
    assert third["machine"]["cores"] >= 1


def test_a_rerun_section_replaces_only_its_own_figures():
    before = merge_results({}, "loader", {"ratio_vs_bare_copy": 0.7}, size="peer", seed=42)
    before = merge_results(before, "webhooks", {"ratio_one_per_request_vs_plain_loop": 0.2},
                           size="none", seed=42)
    after = merge_results(before, "loader", {"ratio_vs_bare_copy": 0.9}, size="peer", seed=42)
    assert after["loader_vs_copy"] == 0.9
    assert after["webhooks_single_vs_plain"] == 0.2


def test_a_section_may_name_its_headline_key_itself():
    cards = {"a/x/all": {"p95_ms": 12.0}, "a/y/all": {"p95_ms": 80.5}}
    derived = merge_results({}, "dashboards", {"cards": cards}, size="peer", seed=42)
    assert derived["card_p95_ms"] == 80.5
    named = merge_results({}, "dashboards", {"cards": cards, "card_p95_ms": 50.0},
                          size="peer", seed=42)
    assert named["card_p95_ms"] == 50.0


def test_every_stable_key_the_issue_names_is_there():
    assert {"loader_vs_copy", "increment_ratio_180_30", "empty_build_vs_increment",
            "xl_stage_seconds", "xl_increment_seconds", "card_p95_ms",
            "webhooks_single_vs_plain"} <= set(HEADLINE)
