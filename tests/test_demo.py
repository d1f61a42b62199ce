"""`make demo`'s own command, run twice: it succeeds twice and leaves the same warehouse."""

from __future__ import annotations

import pytest

from tests.conftest import pulse_cli, query

FINGERPRINT = """
select 'raw', count(*), coalesce(sum(hashtext(event_id || batch_id || line_number)), 0)
  from raw.events
union all
select 'rejected', count(*), coalesce(sum(hashtext(line)), 0) from raw.rejected_events
union all
select 'staging', count(*), coalesce(sum(hashtext(event_id || _batch_id)), 0)
  from staging.stg_pulse__events
union all
select 'dau', count(*),
       coalesce(sum(hashtext(tenant_id || activity_date || active_users
                             || monthly_active_users)), 0)
  from marts.daily_active_users
order by 1
"""


@pytest.mark.airflow
def test_demo_twice_leaves_the_same_warehouse(clean_warehouse, airflow_db, tmp_path):
    env = {"PULSE_DATA_DIR": str(tmp_path / "data")}
    first = pulse_cli("demo", "--size", "tiny", env=env)
    assert "Quarantined lines by reason" in first.stdout
    assert "Where to look next" in first.stdout
    # the clean demo data passes every quality suite
    assert "Quality gate (Great Expectations)" in first.stdout
    assert query("select count(*), bool_and(success) from quality.gate_runs") == [(4, True)]
    state = query(FINGERPRINT)
    assert all(count > 0 for _, count, _ in state), state

    second = pulse_cli("demo", "--size", "tiny", env=env)
    assert "What was built" in second.stdout
    assert query(FINGERPRINT) == state
