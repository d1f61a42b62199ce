"""The rules that keep slow tests out of `make test-fast` (tests/conftest.py), and what
the tests' `pulse_cli` shows when a quiet dbt command fails (tests/cli.py)."""

from __future__ import annotations

import pytest

from tests.conftest import marks, pulse_cli


@pytest.fixture
@marks("dbt_build")
def pretends_to_build():
    return "built"


@pytest.fixture
def uses_it(pretends_to_build):
    return pretends_to_build


def test_a_fixture_marks_the_tests_that_use_it_even_through_another(request, uses_it):
    assert uses_it == "built"
    assert request.node.get_closest_marker("dbt_build") is not None
    assert request.node.get_closest_marker("airflow") is None


@pytest.mark.parametrize("args, marker", [
    (("airflow", "dags", "test", "no_such_dag"), "airflow"),
    (("demo", "--size", "no_such_size"), "airflow"),
    (("dbt", "build", "--select", "no_such_model"), "dbt_build"),
    (("dbt", "--no-use-colors", "build", "--select", "no_such_model"), "dbt_build"),
])
def test_an_unmarked_test_may_not_run_a_slow_command(args, marker):
    with pytest.raises(AssertionError, match=f"mark the test .* `{marker}`"):
        pulse_cli(*args)


def test_marks_refuses_an_unregistered_marker():
    with pytest.raises(AssertionError, match=r"register them in pyproject\.toml"):
        marks("slowish")


@pytest.mark.dbt_build  # a dbt parse, twice: ~25 s
def test_a_quiet_dbt_run_that_fails_shows_dbts_error(warehouse_db):
    # tests/cli.py runs a checked `--quiet` dbt command with no console log, and again
    # with it when it fails, so the failure says why
    with pytest.raises(AssertionError) as failed:
        pulse_cli("dbt", "run", "--quiet", "--select", "stg_pulse__events",
                  env={"PULSE_WAREHOUSE_DB": "no_such_database"})
    assert 'database "no_such_database" does not exist' in str(failed.value)
