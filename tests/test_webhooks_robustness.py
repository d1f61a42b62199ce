"""Delivery survives odd endpoints: international host names, answers that never end,
DNS failures, several host names on one address, a run's own deadline, and malformed
URLs, rate limits and filters. Real receivers on 127.0.0.1, a real warehouse.

Host names (`bücher.example`, `alpha.example`, ...) resolve to 127.0.0.1 through the
resolver the URL guard takes as a parameter (`resolve=`), never through /etc/hosts or
DNS: the names stay fictional, nothing global changes, and the resolver records the
(ASCII) names it was asked for. `*.localhost` was not used: whether a system resolver maps
subdomains of localhost depends on the machine (systemd-resolved does, plain glibc not).

Over 300 lines on purpose: each bad input (URLs, secrets, receivers that misbehave) is a
short test sharing the module's helpers (a stand-in resolver, endpoint registration).
"""

from __future__ import annotations

import math
import socket
from dataclasses import replace

import pytest

from pulse.webhooks import endpoints
from pulse.webhooks.deliver import deliver_due, send_interval
from pulse.webhooks.endpoints import EndpointError
from pulse.webhooks.settings import WebhookConfigError, parse_ports
from pulse.webhooks.store import MAX_PREFETCH_BATCHES, prefetch_batches
from pulse.webhooks.urlguard import ResolutionError, UrlRefused, check_url, system_resolver
from tests import test_webhooks_delivery as base
from tests.conftest import pulse_cli, query, scalar
from tests.test_webhooks_delivery import SETTINGS, TEST_ENV, later, queue, statuses
from tests.webhook_receiver import Receiver, Reply

# the delivery tests' fixtures: a migrated, empty warehouse and a verifying receiver
delivery_db = base.delivery_db
receiver = base.receiver

IDN = "bücher.example"
IDN_ASCII = "xn--bcher-kva.example"


class Names:
    """A resolver that maps the given ASCII names to 127.0.0.1 and records what it was
    asked; `fail` makes the next lookups raise (a DNS failure)."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.asked: list[str] = []
        self.fail: list[BaseException] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if self.fail:
            raise self.fail.pop(0)
        if host in self.names:
            return ["127.0.0.1"]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def url_for(rx: Receiver, host: str) -> str:
    return f"http://{host}:{rx.port}/hook"


def add(rx: Receiver, tenant: str, url: str, resolve=None, **kw) -> str:
    ep, _ = endpoints.add(tenant, url, secret=rx.secret, settings=SETTINGS,
                          resolve=resolve or Names(), **kw)
    return ep.endpoint_id


def attempts(tenant: str) -> list[tuple]:
    return query("select a.attempt_number, a.status, a.response_code, a.error "
                 "from delivery.attempts a join delivery.endpoints e using (endpoint_id) "
                 "where e.tenant_id = %s group by 1, 2, 3, 4 order by 1", (tenant,))


def tenant_statuses(tenant: str) -> set[str]:
    return {s for (s,) in query("select o.status from delivery.outbox o join "
                                "delivery.endpoints e using (endpoint_id) "
                                "where e.tenant_id = %s", (tenant,))}


@pytest.fixture
def receivers(receiver):
    """Two more receivers sharing the first one's secret."""
    with Receiver([receiver.secret.reveal()]) as b, Receiver([receiver.secret.reveal()]) as c:
        b.secret = c.secret = receiver.secret
        yield receiver, b, c


# --- item 8 and 11: one run, three kinds of endpoint ------------------------------------------

# A hang detector, not a speed check: without a request deadline the endless answer
# would hold the run (and this test) forever.
@pytest.mark.timeout(120)
def test_idn_endless_and_healthy_endpoints_in_one_run(delivery_db, receivers):
    healthy, idn, endless = receivers
    names = Names(IDN_ASCII)
    add(healthy, "t_ok", healthy.url)
    add(idn, "t_idn", url_for(idn, IDN), names)
    add(endless, "t_endless", endless.url)
    for tenant in ("t_ok", "t_idn", "t_endless"):
        queue(2, tenant)
    idn.script(Reply(503))
    # 200 and then a body that never ends: 100 bytes every 50 ms
    endless.script(Reply(200, endless_chunk=100, trickle=0.05))

    report = deliver_due(settings=SETTINGS, resolve=names)

    assert report["success"] == 2 and report["retrying"] == 4
    assert tenant_statuses("t_ok") == {"SUCCESS"}
    assert [m for r in healthy.verified for m in r.message_ids] == [
        "mt_okuser.at_risk0000", "mt_okuser.at_risk0001"]
    # the IDN name went to the resolver, the Host header and the signature check as ASCII
    assert set(names.asked) == {IDN_ASCII}  # when added and when delivered
    assert [(r.verified, r.host) for r in idn.requests] == [
        (True, f"{IDN_ASCII}:{idn.port}")]
    assert attempts("t_idn") == [(1, "FAILED", 503, "HTTP 503")]
    assert attempts("t_endless") == [(1, "FAILED", None,
                                      "timeout: no complete answer within 1 s")]
    assert tenant_statuses("t_idn") == tenant_statuses("t_endless") == {"RETRYING"}
    assert scalar("select bool_and(enabled) from delivery.endpoints")

    # the next run delivers the IDN endpoint's batch (the same webhook-id)
    deliver_due(settings=SETTINGS, resolve=names, clock=later(seconds=5))
    assert tenant_statuses("t_idn") == {"SUCCESS"}
    assert len({r.webhook_id for r in idn.requests}) == 1 and len(idn.requests) == 2


def test_an_endless_fast_answer_is_read_up_to_the_cap_only(delivery_db, receiver):
    add(receiver, "t1", receiver.url)
    queue(1)
    # 200, then 64 KiB chunks as fast as the socket takes them, for ever: reading the
    # whole body would run into the 1 s deadline; reading the cap decides on the status.
    receiver.script(Reply(200, endless_chunk=65536))
    report = deliver_due(settings=SETTINGS)
    assert report["success"] == 1 and statuses() == {"mt1user.at_risk0000": "SUCCESS"}
    assert attempts("t1") == [(1, "SUCCESS", 200, None)]


def test_an_exception_in_one_endpoint_is_that_attempt_s_error(delivery_db, receivers):
    healthy, broken, _ = receivers
    names = Names("broken.example")
    add(healthy, "t_ok", healthy.url)
    add(broken, "t_broken", url_for(broken, "broken.example"), names)
    queue(1, "t_ok")
    queue(1, "t_broken")
    # a resolver bug (not an OSError): the guard's code path has no answer for it
    names.fail = [RuntimeError("resolver exploded")]
    report = deliver_due(settings=SETTINGS, resolve=names)
    assert report["success"] == 1 and tenant_statuses("t_ok") == {"SUCCESS"}
    assert attempts("t_broken") == [(1, "FAILED", None, "RuntimeError: resolver exploded")]
    assert tenant_statuses("t_broken") == {"RETRYING"}
    assert broken.requests == []
    deliver_due(settings=SETTINGS, resolve=names, clock=later(seconds=5))
    assert tenant_statuses("t_broken") == {"SUCCESS"}


# --- item 9: no connection shared across host names -------------------------------------------

def test_two_host_names_on_one_address_never_share_a_connection(delivery_db, receiver):
    names = Names("alpha.example", "beta.example")
    add(receiver, "t1", url_for(receiver, "alpha.example"), names, max_batch_size=1)
    add(receiver, "t2", url_for(receiver, "beta.example"), names, max_batch_size=1)
    queue(6, "t1")
    queue(6, "t2")
    deliver_due(settings=SETTINGS, resolve=names)
    assert set(statuses().values()) == {"SUCCESS"} and len(receiver.requests) == 12
    ports: dict[str, set[int]] = {}
    for r in receiver.requests:
        assert r.verified
        ports.setdefault(r.host.split(":")[0], set()).add(r.peer_port)
    assert set(ports) == {"alpha.example", "beta.example"}
    # connections are reused (keep-alive) within a name, never across names
    assert len(ports["alpha.example"]) < 6 and len(ports["beta.example"]) < 6
    assert ports["alpha.example"].isdisjoint(ports["beta.example"])


# --- item 10: DNS failures are retried, refusals are not ---------------------------------------

def test_a_temporary_resolution_error_is_retried_and_the_endpoint_stays_enabled(
        delivery_db, receiver):
    names = Names("hooks.example")
    add(receiver, "t1", url_for(receiver, "hooks.example"), names)
    queue(2)
    names.fail = [socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")]
    report = deliver_due(settings=SETTINGS, resolve=names)
    assert report["retrying"] == 2 and receiver.requests == []
    assert set(statuses().values()) == {"RETRYING"}
    assert attempts("t1") == [(1, "FAILED", None, "dns: cannot resolve hooks.example: "
                               "Temporary failure in name resolution")]
    assert query("select enabled, disabled_reason from delivery.endpoints") == [(True, None)]
    deliver_due(settings=SETTINGS, resolve=names, clock=later(seconds=5))
    assert set(statuses().values()) == {"SUCCESS"}
    assert [r.verified for r in receiver.requests] == [True]


def test_the_system_resolver_reports_an_unknown_name_as_a_resolution_error():
    # .invalid never resolves (RFC 2606), with or without a network
    with pytest.raises(ResolutionError, match=r"cannot resolve no-such-host\.invalid"):
        check_url("https://no-such-host.invalid/hook", SETTINGS, system_resolver)
    assert not issubclass(ResolutionError, UrlRefused)


def test_an_address_the_policy_refuses_still_disables(delivery_db, receiver):
    names = Names("hooks.example")
    add(receiver, "t1", url_for(receiver, "hooks.example"), names)
    queue(1)
    deliver_due(settings=replace(SETTINGS, allow_networks=()), resolve=names)
    assert query("select enabled, disabled_reason from delivery.endpoints") == [
        (False, "refused_url")]
    assert receiver.requests == []


# --- item 11: the run's own deadline ----------------------------------------------------------

def test_a_run_stops_claiming_at_its_deadline_and_gives_back_the_rest(delivery_db, receiver):
    # one request every 10 s, a run of at most 5 s: the first batch is sent at once, the
    # second would be due after the deadline, so it goes back, and the rest stay pending
    # (at that rate a claim takes one batch: store.prefetch_batches)
    add(receiver, "t1", receiver.url, rate_limit_per_second=0.1, max_batch_size=1)
    ids = queue(6)
    report = deliver_due(settings=replace(SETTINGS, max_run_seconds=5))
    assert report["success"] == 1 and report["given_back"] == 1
    assert sorted(statuses().values()) == ["PENDING"] * 5 + ["SUCCESS"]
    assert scalar("select count(*) from delivery.attempts") == 1
    # the next run carries on where this one stopped
    query("update delivery.endpoints set rate_limit_per_second = 1000 returning 1")
    deliver_due(settings=SETTINGS)
    assert set(statuses().values()) == {"SUCCESS"}
    assert [m for r in receiver.requests for m in r.message_ids] == ids


def test_a_claim_takes_what_the_rate_lets_the_worker_send_within_half_its_lease():
    lease = SETTINGS.lease.total_seconds()  # 32 s at a 1 s timeout
    assert prefetch_batches(send_interval(0.1), SETTINGS) == 1  # one every 10 s
    assert prefetch_batches(send_interval(1), SETTINGS) == int(lease / 2)
    assert prefetch_batches(send_interval(10_000), SETTINGS) == MAX_PREFETCH_BATCHES
    assert prefetch_batches(send_interval(0.01), SETTINGS) == 1  # never none


def test_rates_from_before_the_check_are_sent_within_the_range():
    assert send_interval(10) == 0.1
    assert send_interval(math.nan) == 0.1
    assert send_interval(math.inf) == send_interval(1e12) == 0.0001
    assert send_interval(1e-9) == send_interval(-math.inf) == 100.0


# --- item 12: malformed input is refused with a reason -----------------------------------------

DEEP_FILTER = '{"a":' * 5000 + "1" + "}" * 5000
DEEP_LIST = '{"a":' + "[" * 5000 + "]" * 5000 + "}"

BAD_URLS = [
    ("https://hooks.example:99999/hook", "Port out of range"),
    (f"https://{'a' * 300}.example/hook", "at most 253"),
    (f"https://{'a' * 64}.example/hook", "63 characters"),
    ("https://hooks.example:22/hook", "port 22 is not allowed"),
    ("https://hooks.example:80/hook", "port 80 is not allowed"),
    ("https://hooks..example/hook", "invalid label"),
    ("https://-bücher.example/hook", "not a valid international"),
]
BAD_FILTERS = [
    ('{"risk_band": NaN}', "NaN"),
    ('{"churn_probability": 1e999}', "finite number"),
    ('{"x": -Infinity}', "-Infinity"),
    (DEEP_FILTER, "characters long"),
    (DEEP_LIST, "nested more than 16 levels"),
    ('["high"]', "must be a JSON object"),
]
BAD_RATES = [("nan", "nan"), ("inf", "inf"), ("1e-9", "1e-09"), ("0", "0.0"), ("-1", "-1.0")]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_malformed_urls_are_refused_via_the_python_api(delivery_db, url, reason):
    with pytest.raises(UrlRefused, match=reason):
        endpoints.add("t1", url, settings=SETTINGS, resolve=Names("hooks.example"))
    assert scalar("select count(*) from delivery.endpoints") == 0


@pytest.mark.parametrize(("flt", "reason"), BAD_FILTERS[:3] + BAD_FILTERS[5:])
def test_malformed_filters_are_refused_via_the_python_api(delivery_db, receiver, flt, reason):
    import json

    value = json.loads(flt)  # Python's json reads NaN and 1e999 (as inf)
    with pytest.raises(EndpointError, match=reason.replace("NaN", "nan")
                       .replace("-Infinity", "-inf")):
        add(receiver, "t1", receiver.url, filter=value)
    assert scalar("select count(*) from delivery.endpoints") == 0


def test_deep_filters_and_bad_rates_are_refused_via_the_python_api(delivery_db, receiver):
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(EndpointError, match="nested more than 16 levels"):
        add(receiver, "t1", receiver.url, filter=deep)
    with pytest.raises(EndpointError, match="only JSON values"):
        add(receiver, "t1", receiver.url, filter={"a": {1, 2}})
    for raw, shown in BAD_RATES:
        with pytest.raises(EndpointError, match=f"the rate limit {shown} is not allowed"):
            add(receiver, "t1", receiver.url, rate_limit_per_second=float(raw))
    with pytest.raises(EndpointError, match="batch size 5000"):
        add(receiver, "t1", receiver.url, max_batch_size=5000)
    assert scalar("select count(*) from delivery.endpoints") == 0


def _cli_add(*args: str, env: dict[str, str] | None = None):
    proc = pulse_cli("webhooks", "endpoints", "add", "t1", *args,
                     env={**TEST_ENV, **(env or {})}, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pulse webhooks: ")
    return lines[0]


def test_malformed_input_is_refused_via_the_cli(delivery_db):
    for url, reason in BAD_URLS:
        assert reason in _cli_add(url)
    for flt, reason in BAD_FILTERS:
        assert reason in _cli_add("https://hooks.example/hook", "--filter", flt)
    for raw, shown in BAD_RATES:
        assert f"the rate limit {shown} is not allowed" in _cli_add(
            "https://hooks.example/hook", "--rate-limit", raw)
    assert "PULSE_WEBHOOK_ALLOWED_PORTS" in _cli_add(
        "https://hooks.example/hook", env={"PULSE_WEBHOOK_ALLOWED_PORTS": "443,70000"})
    assert "cannot resolve no-such-host.invalid" in _cli_add("https://no-such-host.invalid/")
    assert scalar("select count(*) from delivery.endpoints") == 0


def test_allowed_ports_are_configurable():
    assert parse_ports("443, 1024-65535") == ((443, 443), (1024, 65535))
    only = replace(SETTINGS, allowed_ports=parse_ports("8443"))
    resolve = Names("hooks.example")
    assert check_url("http://hooks.example:8443/", only, resolve).ip == "127.0.0.1"
    with pytest.raises(UrlRefused, match="port 9000 is not allowed"):
        check_url("http://hooks.example:9000/", only, resolve)
    for bad in ("", "abc", "0", "99999", "2000-1000"):
        with pytest.raises(WebhookConfigError):
            parse_ports(bad)
