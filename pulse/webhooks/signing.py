"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

`webhook-signature` is `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), where
the key is the base64 part of a `whsec_...` secret. During a key rotation every live secret
signs, space-separated, so a receiver holding either one verifies. The tests check these
headers with the `standardwebhooks` library itself; this module exists because signing
thousands of bodies is on the hot path and needs the key decoded once, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets

PREFIX = "whsec_"


class Secret:
    """A signing secret that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_key", "_value")

    def __init__(self, value: str) -> None:
        if not value.startswith(PREFIX):
            raise ValueError("a webhook secret starts with whsec_ (see `pulse webhooks "
                             "endpoints add --help`)")
        try:
            key = base64.b64decode(value[len(PREFIX):], validate=True)
        except ValueError:
            raise ValueError("a webhook secret is whsec_ followed by base64") from None
        if len(key) < 24:
            raise ValueError("a webhook secret must hold at least 24 random bytes")
        self._value = value
        self._key = key

    def reveal(self) -> str:
        """The secret's text, for storing it or showing it once to its owner."""
        return self._value

    def sign(self, to_sign: bytes) -> str:
        digest = hmac.new(self._key, to_sign, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()

    def __repr__(self) -> str:
        return "Secret(whsec_***)"

    __str__ = __repr__


def new_secret() -> Secret:
    return Secret(PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode())


def signature_header(secrets: list[Secret], msg_id: str, timestamp: int, body: bytes) -> str:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(s.sign(to_sign) for s in secrets)


def headers(secrets: list[Secret], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    if not secrets:
        raise ValueError(f"message {msg_id}: the endpoint has no live signing secret; add one "
                         "with `pulse webhooks endpoints rotate ENDPOINT_ID`")
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }
