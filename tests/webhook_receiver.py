"""A real webhook receiver for the tests: HTTP (or HTTPS) on 127.0.0.1, every request
verified with the `standardwebhooks` library, answers scripted per test.

    with Receiver([secret]) as rx:
        rx.script(Reply(500), Reply(200))   # then 200 for everything after
        ...                                 # rx.requests: what arrived, verified or not
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks import Webhook

from pulse.webhooks.demo_receiver import read_request, serve_loopback, verify_signature


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or hung receiver)
    # An answer whose body never ends: this many bytes every `trickle` seconds, until the
    # client hangs up.
    endless_chunk: int = 0
    trickle: float = 0.0


@dataclass
class Received:
    webhook_id: str | None
    timestamp: str | None
    body: bytes
    verified: bool
    error: str | None
    answered: int  # the status the receiver answers (or would have)
    host: str | None = None  # the Host header
    peer_port: int | None = None  # the client's port: one per connection

    @property
    def message_ids(self) -> list[str]:
        return [e["id"] for e in json.loads(self.body)["events"]] if self.verified else []


def certificates(folder: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A certificate authority of its own and a server certificate it signed for `name`:
    the authority's certificate file (for the client to trust) and a server context."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key, issuer: str, signer, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signer.public_key()), critical=False)
        return builder.sign(signer, hashes.SHA256())

    folder.mkdir(parents=True, exist_ok=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_file, chain, key_file = (folder / f"{name}-{part}.pem" for part in ("ca", "cert", "key"))
    ca_file.write_bytes(cert("Pulse test CA", ca_key, "Pulse test CA", ca_key, True)
                        .public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(cert(name, server_key, "Pulse test CA", ca_key, False)
                      .public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain, key_file)
    return ca_file, server


class Receiver:
    def __init__(self, secrets: list[str], port: int = 0, tls: ssl.SSLContext | None = None,
                 name: str = "127.0.0.1") -> None:
        """`tls`: a server context (see `certificates`), for an HTTPS receiver known by
        `name` (which the test's resolver maps to 127.0.0.1)."""
        self.secrets = list(secrets)
        self.secret = None  # the tests keep the Secret object here
        self.requests: list[Received] = []
        self.body_bytes_sent = 0  # of endless answers, until the client hung up
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._tls, self._name = tls, name

    # --- scripting ----------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script = list(replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.pop(0) if self._script else Reply(200)

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._name}:{self._port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1: connections stay open between requests, as real receivers keep them
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body, headers = read_request(self)
                verified, error = receiver.verify(body, headers)
                reply = receiver._next_reply() if verified else Reply(401)
                # recorded on arrival, so a request whose sender gave up still counts
                with receiver._lock:
                    receiver.requests.append(Received(
                        headers.get("webhook-id"), headers.get("webhook-timestamp"), body,
                        verified, error, reply.status, headers.get("host"),
                        self.client_address[1]))
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.endless_chunk:
                    self._endless(reply)
                    return
                self.send_header("content-length", "0")
                self.end_headers()

            def _endless(self, reply: Reply) -> None:
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                chunk = b"%x\r\n%s\r\n" % (reply.endless_chunk, b"x" * reply.endless_chunk)
                self.close_connection = True
                try:
                    while True:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        with receiver._lock:
                            receiver.body_bytes_sent += reply.endless_chunk
                        if reply.trickle:
                            time.sleep(reply.trickle)
                except OSError:
                    return  # the client hung up: what it should do

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        self._server = serve_loopback(Handler, self._port, self._tls)
        self._port = self._server.server_address[1]
        return self

    def kill(self) -> None:
        """Stop answering: connections are refused until `start` again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()

    # --- verification -------------------------------------------------------------------
    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool, str | None]:
        error = verify_signature([Webhook(s) for s in self.secrets], body, headers)
        return error is None, error

    # --- what arrived -------------------------------------------------------------------
    @property
    def verified(self) -> list[Received]:
        return [r for r in self.requests if r.verified]
