"""Webhook delivery against a real receiver on 127.0.0.1 that verifies every request with
the `standardwebhooks` library, and a real warehouse.

Retries are made due by running the deliverer with a clock set later, never by sleeping.

Over 300 lines on purpose: the delivery tests share the module's settings and helpers
(other test modules import them too); each checks one delivery guarantee against a real
HTTP receiver.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from pulse import migrate, warehouse
from pulse.webhooks import endpoints, signing
from pulse.webhooks.deliver import deliver_due
from pulse.webhooks.settings import WebhookSettings
from pulse.webhooks.urlguard import UrlRefused, check_url
from tests.conftest import REPO, pulse_cli, query, scalar
from tests.webhook_receiver import Receiver, Reply, certificates

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
# Test settings: loopback and plain http explicitly allowed; retries after 1 s and 2 s.
SETTINGS = WebhookSettings(allow_http=True, allow_networks=LOOPBACK, retry_schedule=(1, 2),
                           timeout=1.0, max_batch=3, concurrency=8)
TEST_ENV = {"PULSE_WEBHOOK_ALLOW_HTTP": "1", "PULSE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}


def later(**delta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(**delta)


@pytest.fixture
def delivery_db(clean_warehouse):
    migrate.apply(log=lambda _m: None)
    return clean_warehouse


@pytest.fixture
def receiver():
    secret = signing.new_secret()
    with Receiver([secret.reveal()]) as rx:
        rx.secret = secret
        yield rx


def add_endpoint(rx: Receiver, tenant: str = "t1", **kw) -> str:
    ep, _ = endpoints.add(tenant, rx.url, secret=rx.secret, settings=SETTINGS, **kw)
    return ep.endpoint_id


def queue(n: int, tenant: str = "t1", event_type: str = "user.at_risk") -> list[str]:
    """n messages, routed like fill_outbox routes them (to every enabled endpoint)."""
    ids = [f"m{tenant}{event_type}{i:04d}" for i in range(n)]
    for i, mid in enumerate(ids):
        query("insert into delivery.messages (message_id, tenant_id, event_type, user_id, "
              "announced_on, payload) values (%s, %s, %s, %s, %s, %s) returning 1",
              (mid, tenant, event_type, f"u{i}", date(2026, 3, 1),
               json.dumps({"churn_probability": 0.8, "i": i})))
        query("insert into delivery.outbox (message_id, endpoint_id) select %s, endpoint_id "
              "from delivery.endpoints where tenant_id = %s and enabled returning 1",
              (mid, tenant))
    return ids


def statuses() -> dict[str, str]:
    return dict(query("select message_id, status from delivery.outbox"))


# --- signing ------------------------------------------------------------------------------

def test_signatures_verify_with_the_standardwebhooks_library():
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"batch","events":[]}'
    now = int(time.time())
    headers = signing.headers([new, old], "msg_1", now, body)
    assert headers["webhook-signature"].count("v1,") == 2
    # during a rotation a receiver holding either secret verifies
    for secret in (old, new):
        Webhook(secret.reveal()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret().reveal()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # tampered body
        Webhook(new.reveal()).verify(body.replace(b"[]", b"[1]"), headers)
    stale = signing.headers([new], "msg_1", now - 600, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(new.reveal()).verify(body, stale)
    assert "whsec" not in repr(new).replace("whsec_***", "") and new.reveal() not in str(new)


def test_receiver_rejects_tampered_and_stale_requests(receiver):
    import httpx

    body = b'{"type":"batch","events":[]}'
    good = signing.headers([receiver.secret], "msg_x", int(time.time()), body)
    assert httpx.post(receiver.url, content=body, headers=good).status_code == 200
    assert httpx.post(receiver.url, content=body + b" ", headers=good).status_code == 401
    stale = signing.headers([receiver.secret], "msg_x", int(time.time()) - 3600, body)
    assert httpx.post(receiver.url, content=body, headers=stale).status_code == 401
    assert [r.verified for r in receiver.requests] == [True, False, False]


# --- delivery outcomes ----------------------------------------------------------------------

def test_batches_are_signed_ordered_and_capped(delivery_db, receiver):
    add_endpoint(receiver)
    ids = queue(7)
    report = deliver_due(settings=SETTINGS)
    assert report["success"] == 7 and report["requests"] == 3
    assert all(r.verified for r in receiver.requests)
    # creation order, at most max_batch (3) events per request
    assert [len(r.message_ids) for r in receiver.requests] == [3, 3, 1]
    assert [m for r in receiver.requests for m in r.message_ids] == ids
    assert set(statuses().values()) == {"SUCCESS"}
    # a second run finds nothing due and sends nothing
    assert deliver_due(settings=SETTINGS).get("requests", 0) == 0
    assert len(receiver.requests) == 3
    rows = query("select attempt_number, status, response_code, duration_ms is not null "
                 "from delivery.attempts")
    assert len(rows) == 7 and set(rows) == {(1, "SUCCESS", 200, True)}


def test_500_then_200_retries_with_the_same_webhook_id(delivery_db, receiver):
    add_endpoint(receiver)
    queue(2)
    receiver.script(Reply(500))
    assert deliver_due(settings=SETTINGS)["retrying"] == 2
    assert set(statuses().values()) == {"RETRYING"}
    wait = scalar("select min(next_attempt_at - updated_at) from delivery.outbox")
    # the first retry waits about 1 s (the schedule's first step, +-20 % jitter)
    assert timedelta(seconds=0.7) < wait < timedelta(seconds=1.3)
    deliver_due(settings=SETTINGS, clock=later(seconds=5))
    assert set(statuses().values()) == {"SUCCESS"}
    first, second = receiver.requests
    assert first.verified and second.verified
    assert first.webhook_id == second.webhook_id and first.message_ids == second.message_ids
    assert query("select attempt_number, status, response_code from delivery.attempts "
                 "group by 1, 2, 3 order by 1") == [(1, "FAILED", 500), (2, "SUCCESS", 200)]


def test_timeout_is_retried(delivery_db, receiver):
    add_endpoint(receiver)
    queue(1)
    receiver.script(Reply(200, delay=3))  # answers after the 1 s timeout
    deliver_due(settings=SETTINGS)
    assert statuses() == {"mt1user.at_risk0000": "RETRYING"}
    assert query("select error, response_code from delivery.attempts") == [
        ("timeout: no complete answer within 1 s", None)]
    deliver_due(settings=SETTINGS, clock=later(seconds=5))
    assert statuses() == {"mt1user.at_risk0000": "SUCCESS"}


def test_429_waits_for_retry_after(delivery_db, receiver):
    add_endpoint(receiver)
    queue(1)
    receiver.script(Reply(429, {"Retry-After": "3600"}))
    deliver_due(settings=SETTINGS)
    wait = scalar("select next_attempt_at - updated_at from delivery.outbox")
    assert timedelta(minutes=59) < wait < timedelta(minutes=61)
    deliver_due(settings=SETTINGS, clock=later(minutes=30))  # not yet due
    assert len(receiver.requests) == 1
    deliver_due(settings=SETTINGS, clock=later(hours=2))
    assert statuses() == {"mt1user.at_risk0000": "SUCCESS"} and len(receiver.requests) == 2


def test_410_disables_the_endpoint(delivery_db, receiver):
    ep = add_endpoint(receiver)
    queue(4)
    receiver.script(Reply(410))
    deliver_due(settings=SETTINGS)
    assert query("select enabled, disabled_reason from delivery.endpoints") == [(False, "gone")]
    assert sorted(statuses().values()) == ["FAILED"] * 3 + ["PENDING"]
    deliver_due(settings=SETTINGS, clock=later(days=1))
    assert len(receiver.requests) == 1
    assert "gone" in pulse_cli("webhooks", "endpoints", "list").stdout
    assert ep in pulse_cli("webhooks", "endpoints", "list").stdout


def test_redirect_is_a_failure_and_not_followed(delivery_db, receiver):
    add_endpoint(receiver)
    queue(1)
    receiver.script(Reply(302, {"Location": receiver.url + "/elsewhere"}))
    deliver_due(settings=SETTINGS)
    assert statuses() == {"mt1user.at_risk0000": "RETRYING"}
    assert len(receiver.requests) == 1  # the Location was not requested
    assert "redirect" in scalar("select error from delivery.attempts")


def test_abandoned_after_the_last_attempt_then_replayed(delivery_db, receiver):
    ep = add_endpoint(receiver)
    queue(2)
    receiver.script(*[Reply(500)] * 3)
    for hours in (0, 1, 2, 3):
        deliver_due(settings=SETTINGS, clock=later(hours=hours))
    assert set(statuses().values()) == {"ABANDONED"}
    assert len(receiver.requests) == SETTINGS.max_attempts == 3
    assert scalar("select max(attempt_number) from delivery.attempts") == 3
    out = pulse_cli("webhooks", "replay", "--endpoint", ep, "--abandoned").stdout
    assert out.startswith("2 deliveries queued again")
    deliver_due(settings=SETTINGS)
    assert set(statuses().values()) == {"SUCCESS"}
    # a replay is a new batch: a new webhook-id the receiver has not deduplicated away
    assert receiver.requests[-1].webhook_id != receiver.requests[0].webhook_id
    one = "mt1user.at_risk0000"
    assert pulse_cli("webhooks", "replay", one).stdout.startswith("1 delivery queued again")
    deliver_due(settings=SETTINGS)
    assert receiver.requests[-1].message_ids == [one]


def test_receiver_killed_mid_run_then_back(delivery_db, receiver):
    add_endpoint(receiver)
    queue(3)
    receiver.kill()
    deliver_due(settings=SETTINGS)
    assert set(statuses().values()) == {"RETRYING"}
    assert scalar("select min(error) from delivery.attempts").startswith("connect: ")
    receiver.start()
    deliver_due(settings=SETTINGS, clock=later(seconds=5))
    assert set(statuses().values()) == {"SUCCESS"}
    assert [m for r in receiver.requests for m in r.message_ids] == sorted(statuses())


def test_a_crashed_worker_leaves_nothing_stuck_in_sending(delivery_db, receiver):
    add_endpoint(receiver)
    queue(2)
    receiver.script(Reply(200, delay=30))  # holds the request while we kill the worker
    env = {**os.environ, **TEST_ENV, "PULSE_WEBHOOK_TIMEOUT": "60"}
    worker = subprocess.Popen([str(REPO / ".venv/bin/pulse"), "webhooks", "deliver"],
                              env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(statuses().values()) == {"SENDING"}
    finally:
        worker.kill()
        worker.wait()
    receiver.script()  # answer at once from now on
    # before the lease expires nobody takes the batch over ...
    deliver_due(settings=SETTINGS)
    assert set(statuses().values()) == {"SENDING"}
    # ... after, it is sent again with the same webhook-id, and the lost attempt is recorded
    deliver_due(settings=SETTINGS, clock=later(hours=1))
    assert set(statuses().values()) == {"SUCCESS"}
    assert query("select attempt_number, status, left(error, 13) from delivery.attempts "
                 "group by 1, 2, 3 order by 1") == [(1, "FAILED", "lease expired"),
                                                   (2, "SUCCESS", None)]
    ids = {r.webhook_id for r in receiver.requests if r.answered == 200}
    assert len(ids) == 1


def test_a_worker_killed_before_its_successes_are_recorded_sends_them_again(
        delivery_db, receiver):
    """Successes are recorded behind the worker's back (docs/delivery.md): it keeps
    sending while their outcomes wait for a commit. Killed in that gap, nothing is lost:
    every message it sent is sent again, under the same webhook-id, after the lease."""
    add_endpoint(receiver)
    ids = queue(5)
    env = {**os.environ, **TEST_ENV, "PULSE_WEBHOOK_MAX_BATCH": "1"}
    with warehouse.transaction() as blocker, blocker.cursor() as cur:
        # No attempt can be recorded while this lock is held; claims are not affected.
        cur.execute("lock table delivery.attempts in share mode")
        worker = subprocess.Popen([str(REPO / ".venv/bin/pulse"), "webhooks", "deliver"],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while len(receiver.requests) < len(ids) and time.monotonic() < deadline:
                time.sleep(0.05)
            # every message was sent and answered 200, none of it recorded yet
            assert sorted(m for r in receiver.requests for m in r.message_ids) == ids
            assert all(r.answered == 200 for r in receiver.requests)
        finally:
            worker.kill()
            worker.wait()
    # the killed worker's session ends once its blocked statement runs, without a commit
    deadline = time.monotonic() + 60
    while scalar("select count(*) from pg_stat_activity where application_name ="
                 " 'pulse-webhooks'") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(statuses().values()) == {"SENDING"}
    assert scalar("select count(*) from delivery.attempts") == 0
    first = {r.message_ids[0]: r.webhook_id for r in receiver.requests}

    for step in range(len(ids) + 1):  # a lost batch is taken over one at a time
        deliver_due(settings=SETTINGS, clock=later(hours=1, seconds=step))
    assert set(statuses().values()) == {"SUCCESS"}
    again = receiver.requests[len(ids):]
    assert sorted(m for r in again for m in r.message_ids) == ids
    assert all(first[r.message_ids[0]] == r.webhook_id for r in again)
    assert query("select attempt_number, status, left(error, 13), count(*) "
                 "from delivery.attempts group by 1, 2, 3 order by 1") == [
        (1, "FAILED", "lease expired", 5), (2, "SUCCESS", None, 5)]


def test_every_message_arrives_and_never_again_after_a_success(delivery_db, receiver):
    for tenant in ("t1", "t2"):
        add_endpoint(receiver, tenant=tenant)
    ids = queue(10, "t1") + queue(8, "t2")
    flaky = [Reply(500), Reply(200), Reply(503, {"Retry-After": "1"}), Reply(200),
             Reply(200, delay=2), Reply(500), Reply(200), Reply(502)]
    receiver.script(*flaky)
    # enough attempts that even a batch meeting every scripted failure gets through
    settings = WebhookSettings(allow_http=True, allow_networks=LOOPBACK,
                               retry_schedule=(1,) * 8, timeout=1.0, max_batch=3)
    for step in range(12):
        deliver_due(settings=settings, clock=later(seconds=10 * step))
    assert set(statuses().values()) == {"SUCCESS"}
    arrivals: dict[str, int] = {}
    for req in receiver.requests:
        assert req.verified
        for mid in req.message_ids:
            arrivals[mid] = arrivals.get(mid, 0) + 1
    assert set(arrivals) == set(ids)
    # every send is a recorded attempt, and the success is each message's last attempt:
    # nothing is sent again after a success
    attempts = {m: (n, last_ok) for m, n, last_ok in query(
        "select message_id, count(*), bool_and((status = 'SUCCESS') = (attempt_number = "
        "(select max(attempt_number) from delivery.attempts b where b.message_id = "
        "a.message_id))) from delivery.attempts a group by 1")}
    assert attempts == {m: (arrivals[m], True) for m in ids}
    assert max(arrivals.values()) > 1  # the script did make some fail


def test_failing_for_days_disables_the_endpoint(delivery_db, receiver):
    add_endpoint(receiver)
    queue(1)
    receiver.script(*[Reply(500)] * 10)
    settings = WebhookSettings(allow_http=True, allow_networks=LOOPBACK,
                               retry_schedule=(3600,) * 8, timeout=1.0, disable_after_days=5)
    for day in range(7):
        deliver_due(settings=settings, clock=later(days=day, hours=2))
    row = query("select enabled, disabled_reason, disabled_detail from delivery.endpoints")[0]
    assert row[:2] == (False, "failing") and "5 days or more in a row" in row[2]
    assert len(receiver.requests) == 6  # days 0..5; disabled after the failure on day 5


# --- safety ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://100.64.0.7/",
    "https://[64:ff9b::a00:1]/", "https://[::ffff:127.0.0.1]/", "https://[fe80::1]/",
    "https://127.0.0.1/", "https://[::1]/", "https://192.168.1.1/", "https://0.0.0.0/",
])
def test_private_addresses_are_refused(url):
    with pytest.raises(UrlRefused):
        check_url(url, WebhookSettings())


def test_names_resolving_to_private_addresses_are_refused():
    def resolve(host, port):
        return ["93.184.216.34", "10.0.0.5"]  # one public, one private: refused

    with pytest.raises(UrlRefused, match=r"10\.0\.0\.5"):
        check_url("https://hooks.example.com/x", WebhookSettings(), resolve)
    target = check_url("https://hooks.example.com:8443/x", WebhookSettings(),
                       lambda h, p: ["93.184.216.34"])
    # the request goes to the checked address, with the name as Host and TLS SNI
    assert target.url == "https://93.184.216.34:8443/x"
    assert (target.host, target.host_header) == ("hooks.example.com", "hooks.example.com:8443")
    with pytest.raises(UrlRefused, match="https"):
        check_url("http://hooks.example.com/", WebhookSettings(), lambda h, p: ["93.184.216.34"])


def test_loopback_needs_explicit_permission(delivery_db, receiver):
    with pytest.raises(UrlRefused, match="loopback"):
        endpoints.add("t1", receiver.url, settings=WebhookSettings(allow_http=True))
    add_endpoint(receiver)  # allowed by SETTINGS
    queue(1)
    # delivering without the permission refuses the URL and sends nothing
    deliver_due(settings=WebhookSettings(allow_http=True))
    assert receiver.requests == []
    assert query("select enabled, disabled_reason from delivery.endpoints") == [
        (False, "refused_url")]
    assert statuses() == {"mt1user.at_risk0000": "FAILED"}


def test_secrets_never_appear_in_logs_output_or_tables(delivery_db, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    ep = add_endpoint(receiver)
    queue(2)
    receiver.script(Reply(500))
    report = deliver_due(settings=SETTINGS)
    deliver_due(settings=SETTINGS, clock=later(seconds=5))
    listing = pulse_cli("webhooks", "endpoints", "list").stdout
    rotated = endpoints.rotate(ep)
    key = receiver.secret.reveal().removeprefix("whsec_")
    dump = query("select string_agg(t::text, ' ') from ("
                 " select row_to_json(e)::text as t from delivery.endpoints e"
                 " union all select row_to_json(o)::text from delivery.outbox o"
                 " union all select row_to_json(a)::text from delivery.attempts a"
                 " union all select row_to_json(m)::text from delivery.messages m) x")[0][0]
    for text in (caplog.text, listing, json.dumps(report), dump):
        assert key not in text and "whsec_" not in text
        assert rotated.reveal().removeprefix("whsec_") not in text
    assert set(statuses().values()) == {"SUCCESS"}


# --- TLS ----------------------------------------------------------------------------------

def test_https_goes_to_the_checked_address_and_verifies_the_name(delivery_db, tmp_path,
                                                                 monkeypatch):
    """The request goes to the address the name resolved to (checked against the allowed
    networks), with the name as Host and as the TLS name: a server whose certificate is
    for another name is refused, however trusted its authority."""
    ca, hooks_tls = certificates(tmp_path / "hooks", "hooks.test")
    other_ca, other_tls = certificates(tmp_path / "other", "other.test")
    # The deliverer's TLS context trusts the system's authorities, which SSL_CERT_FILE
    # names: here, both test authorities.
    bundle = tmp_path / "authorities.pem"
    bundle.write_bytes(ca.read_bytes() + other_ca.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    settings = replace(SETTINGS, allowed_ports=((1024, 65535),))

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "hooks.test" else []

    secret = signing.new_secret()
    with Receiver([secret.reveal()], tls=hooks_tls, name="hooks.test") as rx:
        endpoints.add("t1", rx.url, secret=secret, settings=settings, resolve=resolve)
        ids = queue(2)
        deliver_due(settings=settings, resolve=resolve)
        assert set(statuses().values()) == {"SUCCESS"}
        assert [m for r in rx.verified for m in r.message_ids] == ids
        assert {r.host for r in rx.requests} == {f"hooks.test:{rx.port}"}

    with Receiver([secret.reveal()], tls=other_tls, name="hooks.test") as rx:
        ep, _ = endpoints.add("t2", rx.url, secret=secret, settings=settings,
                              resolve=resolve)
        queue(1, tenant="t2")
        deliver_due(settings=settings, resolve=resolve)
        assert rx.requests == []
        error = scalar("select error from delivery.attempts where endpoint_id = %s",
                       (ep.endpoint_id,))
        assert error.startswith("tls: ") and "hostname mismatch" in error.lower(), error
        assert statuses()["mt2user.at_risk0000"] == "RETRYING"
