"""Webhook signing secrets at rest (docs/roles.md "Secrets"): encrypted, so a dump of the
database signs nothing; decrypted only for the sender, through its one function;
re-encrypted under a new key by a command; revoked at once by `rotate --overlap-hours 0`.
"""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from cryptography.fernet import Fernet

from pulse import migrate, warehouse
from pulse.cluster import find_pg_bin
from pulse.config import settings
from pulse.webhooks import endpoints
from pulse.webhooks.signing import Secret, new_secret
from tests.conftest import pulse_cli, query
from tests.test_webhooks_delivery import SETTINGS, TEST_ENV

URL = "http://127.0.0.1:9999/hook"


@pytest.fixture
def secrets_db(clean_warehouse, tmp_path, monkeypatch):
    """A migrated warehouse whose key file lives in a fresh PULSE_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("PULSE_HOME", str(home))
    monkeypatch.delenv("PULSE_SECRETS_KEY", raising=False)
    migrate.apply(log=lambda _m: None)
    return {"PULSE_HOME": str(home), **TEST_ENV}


def _live(endpoint_id: str, role: str | None = None) -> list[str]:
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            if role:
                cur.execute(f"set local role {role}")
            return [s.reveal() for s in endpoints.live_secrets(cur, [endpoint_id])
                    .get(endpoint_id, [])]
    finally:
        conn.close()


def _dump() -> str:
    wh = settings().warehouse()
    proc = subprocess.run(
        [str(find_pg_bin() / "pg_dump"), "-h", wh.host, "-p", str(wh.port), "-U", wh.user,
         "-d", wh.dbname, "--data-only", "-n", "delivery"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PGPASSWORD": wh.password})
    return proc.stdout


def test_a_dump_holds_no_usable_secret_and_the_sender_still_signs(secrets_db):
    ep, secret = endpoints.add("t1", URL, settings=SETTINGS)
    dump = _dump()
    assert "whsec_" not in dump and secret.reveal()[6:] not in dump
    assert "gAAAAA" in dump
    key_file = settings().home / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # the sender reads them through its function, as the delivery role
    assert _live(ep.endpoint_id, role="pulse_delivery") == [secret.reveal()]
    # and not by reading the table
    conn = warehouse.connect()
    try:
        with pytest.raises(Exception, match="permission denied"), conn.cursor() as cur:
            cur.execute("set role pulse_delivery")
            cur.execute("select * from delivery.endpoint_secrets")
    finally:
        conn.close()


def test_plaintext_rows_from_before_are_encrypted_by_migrate(secrets_db):
    ep, _ = endpoints.add("t1", URL, settings=SETTINGS)
    old = new_secret()
    query("insert into delivery.endpoint_secrets (endpoint_id, secret_encrypted, created_at) "
          "values (%s, %s, now() - interval '1 day') returning 1",
          (ep.endpoint_id, old.reveal()))
    out = pulse_cli("migrate", env=secrets_db).stdout
    assert "encrypted 1 webhook signing secret" in out
    assert query("select count(*) from delivery.endpoint_secrets "
                 "where secret_encrypted like 'whsec%%'") == [(0,)]
    assert old.reveal() in _live(ep.endpoint_id)
    assert "encrypted" not in pulse_cli("migrate", env=secrets_db).stdout


def test_reencrypt_under_a_new_key_keeps_every_secret(secrets_db):
    ep, secret = endpoints.add("t1", URL, settings=SETTINGS)
    key_file = settings().home / "secrets.key"
    old_key = key_file.read_text().strip()
    before = query("select secret_encrypted from delivery.endpoint_secrets")
    out = pulse_cli("webhooks", "secrets", "reencrypt", "--new-key", env=secrets_db).stdout
    assert "1 signing secret(s) re-encrypted" in out and old_key not in out
    new_key = key_file.read_text().strip()
    assert new_key != old_key and "," not in new_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    after = query("select secret_encrypted from delivery.endpoint_secrets")
    assert after != before
    assert _live(ep.endpoint_id) == [secret.reveal()]
    # the old key no longer opens what is stored
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidToken
        Fernet(old_key.encode()).decrypt(after[0][0].encode())


def test_reencrypt_with_keys_from_the_environment(secrets_db):
    _ep, secret = endpoints.add("t1", URL, settings=SETTINGS)
    old_key = (settings().home / "secrets.key").read_text().strip()
    new_key = pulse_cli("webhooks", "secrets", "new-key", env=secrets_db).stdout.strip()
    env = {**secrets_db, "PULSE_SECRETS_KEY": f"{new_key},{old_key}"}
    pulse_cli("webhooks", "secrets", "reencrypt", env=env)
    stored = query("select secret_encrypted from delivery.endpoint_secrets")[0][0]
    assert Secret(Fernet(new_key.encode()).decrypt(stored.encode()).decode()).reveal() \
        == secret.reveal()
    # --new-key is refused when the key is the environment's: a clear one-line error
    proc = pulse_cli("webhooks", "secrets", "reencrypt", "--new-key", env=env, check=False)
    assert proc.returncode == 2 and "PULSE_SECRETS_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_wrong_key_is_a_clear_error_not_a_traceback(secrets_db):
    _ep, _ = endpoints.add("t1", URL, settings=SETTINGS)
    env = {**secrets_db, "PULSE_SECRETS_KEY": Fernet.generate_key().decode()}
    proc = pulse_cli("webhooks", "secrets", "reencrypt", env=env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "does not decrypt" in proc.stderr
    proc = pulse_cli("webhooks", "secrets", "reencrypt",
                     env={**secrets_db, "PULSE_SECRETS_KEY": "not-a-key"}, check=False)
    assert proc.returncode == 2 and "not a Fernet key" in proc.stderr


def test_rotate_with_no_overlap_revokes_the_old_secret_at_once(secrets_db):
    ep, first = endpoints.add("t1", URL, settings=SETTINGS)
    second = endpoints.rotate(ep.endpoint_id)
    assert _live(ep.endpoint_id) == [second.reveal(), first.reveal()]
    out = pulse_cli("webhooks", "endpoints", "rotate", ep.endpoint_id, "--overlap-hours", "0",
                    env=secrets_db).stdout
    assert "revoked now" in out
    live = _live(ep.endpoint_id)
    assert len(live) == 1 and live[0] not in (first.reveal(), second.reveal())
    assert live[0] in out
    assert query("select count(*) from delivery.endpoint_secrets") == [(1,)]
    proc = pulse_cli("webhooks", "endpoints", "rotate", ep.endpoint_id, "--overlap-hours",
                     "-1", env=secrets_db, check=False)
    assert proc.returncode == 2 and "from 0 to 8760" in proc.stderr
