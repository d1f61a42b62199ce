"""The demo's webhook receiver: HTTP on 127.0.0.1 that checks every request's signature
with the `standardwebhooks` library (not Pulse's own signing code), as a tenant would.

`make demo` starts it, registers one endpoint for it (`register_demo_endpoint`), runs the
pulse_delivery DAG, and reports how many deliveries arrived with a valid signature.
A request that fails verification is answered 401, so Pulse records it as failed.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from standardwebhooks import Webhook, WebhookVerificationError

from pulse.warehouse import transaction
from pulse.webhooks import endpoints
from pulse.webhooks.settings import WebhookSettings
from pulse.webhooks.signing import Secret
from pulse.webhooks.urlguard import check_url

# One fixed id, so a second demo finds the endpoint of the first instead of adding one.
DEMO_ENDPOINT_ID = "ep_demo_receiver"
PATH = "/pulse-demo"


@dataclass
class Tally:
    requests: int = 0
    verified_requests: int = 0
    verified_events: int = 0
    rejected: int = 0
    last_error: str | None = None


def verify_signature(hooks: list[Webhook], body: bytes, headers: dict[str, str]
                     ) -> str | None:
    """None when one of the secrets verifies the request, else the library's reason."""
    error = "no signing secret"
    for hook in hooks:
        try:
            hook.verify(body, headers)
            return None
        except WebhookVerificationError as exc:
            error = str(exc)
    return error


def read_request(handler: BaseHTTPRequestHandler) -> tuple[bytes, dict[str, str]]:
    """The body and the headers (names lower-cased) of the request `handler` answers."""
    body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
    return body, {k.lower(): v for k, v in handler.headers.items()}


def serve_loopback(handler: type[BaseHTTPRequestHandler], port: int = 0,
                   tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    """A threaded HTTP server on 127.0.0.1:`port` (0: any free port), serving from a daemon
    thread; `server_address[1]` is its port. With `tls` (a server context holding its
    certificate), HTTPS."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class DemoReceiver:
    """A loopback receiver; `tally` says what arrived and whether it verified."""

    def __init__(self, secrets: list[Secret], port: int = 0) -> None:
        self._hooks = [Webhook(s.reveal()) for s in secrets]
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.tally = Tally()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}{PATH}"

    @property
    def port(self) -> int:
        return self._port

    def set_secrets(self, secrets: list[Secret]) -> None:
        with self._lock:
            self._hooks = [Webhook(s.reveal()) for s in secrets]

    def verify(self, body: bytes, headers: dict[str, str]) -> str | None:
        with self._lock:
            hooks = list(self._hooks)
        return verify_signature(hooks, body, headers)

    def _record(self, body: bytes, error: str | None) -> None:
        with self._lock:
            self.tally.requests += 1
            if error is None:
                self.tally.verified_requests += 1
                self.tally.verified_events += len(json.loads(body).get("events", []))
            else:
                self.tally.rejected += 1
                self.tally.last_error = error

    def start(self) -> DemoReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body, headers = read_request(self)
                error = receiver.verify(body, headers)
                receiver._record(body, error)
                self.send_response(204 if error is None else 401)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass  # the demo reports the tally instead of one line per request

        try:
            self._server = serve_loopback(Handler, self._port)
        except OSError:
            if not self._port:
                raise
            # The usual port is taken: any free one will do (the endpoint follows it).
            self._server = serve_loopback(Handler, 0)
        self._port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def registered_port(default: int) -> int:
    """The port of the demo endpoint's registered URL, else `default`: a second demo
    listens where the first one did, so its endpoint, and the warehouse, stay as they
    were. (The first may have had to take another port: a demo of another checkout held
    the usual one.)"""
    try:
        url = endpoints.get(DEMO_ENDPOINT_ID).url
    except endpoints.EndpointError:
        return default
    return urlsplit(url).port or default


def register_demo_endpoint(tenant_id: str, url: str, settings: WebhookSettings
                           ) -> tuple[str, list[Secret], bool]:
    """The demo's endpoint for `tenant_id` at `url`: created the first time, found (and
    pointed at `url`, re-enabled) after that, so a second demo adds nothing. `settings`
    must allow the URL (plain http on loopback is refused by default).
    Returns (endpoint id, its live secrets, whether it was created now)."""
    try:
        endpoints.get(DEMO_ENDPOINT_ID)
    except endpoints.EndpointError:
        ep, secret = endpoints.add(tenant_id, url, endpoint_id=DEMO_ENDPOINT_ID,
                                   settings=settings)
        return ep.endpoint_id, [secret], True
    check_url(url, settings)
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("update delivery.endpoints set url = %s, tenant_id = %s "
                    "where endpoint_id = %s and (url, tenant_id) is distinct from (%s, %s)",
                    (url, tenant_id, DEMO_ENDPOINT_ID, url, tenant_id))
        secrets = endpoints.live_secrets(cur, [DEMO_ENDPOINT_ID]).get(DEMO_ENDPOINT_ID, [])
    if not endpoints.get(DEMO_ENDPOINT_ID).enabled:
        endpoints.enable(DEMO_ENDPOINT_ID)
    if not secrets:
        secrets = [endpoints.rotate(DEMO_ENDPOINT_ID)]
    return DEMO_ENDPOINT_ID, secrets, False
