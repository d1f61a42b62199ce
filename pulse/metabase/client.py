"""A small client for Metabase's REST API: JSON over HTTP with a session token.

Only what `pulse metabase apply` needs (docs/metabase.md, "API used"). Every write is
recorded in `writes`, so the caller can report what changed.
"""

from __future__ import annotations

from typing import Any

import httpx

SESSION_HEADER = "X-Metabase-Session"


class MetabaseError(RuntimeError):
    """Metabase answered with an error, or could not be reached."""


class LoginRefused(MetabaseError):
    """The admin email or password was refused (a settings problem: exit 2)."""


class Metabase:
    def __init__(self, url: str, *, secrets: tuple[str, ...] = (), timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._secrets = tuple(s for s in secrets if s)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  follow_redirects=False)
        self.writes: list[tuple[str, str]] = []

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Metabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _redact(self, text: str) -> str:
        # Metabase's validation errors may echo a request's values back.
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, Any] | list[tuple[str, str]] | None = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise MetabaseError(f"cannot reach Metabase at {self.url} ({type(exc).__name__}: "
                                f"{self._redact(str(exc))}); is it running?") from None
        if method != "GET":
            self.writes.append((method, path))
        if resp.status_code >= 400:
            detail = self._redact(resp.text.strip().replace("\n", " "))[:300]
            raise MetabaseError(f"{method} {path}: HTTP {resp.status_code}: {detail}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise MetabaseError(f"{method} {path}: not JSON: {resp.text[:120]!r}") from None

    # --- session ---------------------------------------------------------------------

    def properties(self) -> dict[str, Any]:
        return self.request("GET", "/api/session/properties") or {}

    def login(self, email: str, password: str) -> None:
        try:
            session = self.request("POST", "/api/session",
                                   {"username": email, "password": password})
        except MetabaseError as exc:
            if "HTTP 401" in str(exc) or "HTTP 400" in str(exc):
                raise LoginRefused(
                    f"Metabase at {self.url} refused the admin login {email!r}: check "
                    "PULSE_METABASE_ADMIN_EMAIL and PULSE_METABASE_ADMIN_PASSWORD") from None
            raise
        self.writes.pop()  # a login changes nothing Pulse provisions
        self._use_session(session)

    def setup(self, token: str, email: str, password: str, site_name: str) -> None:
        """First start: create the admin user (POST /api/setup returns a session)."""
        session = self.request("POST", "/api/setup", {
            "token": token,
            "user": {"email": email, "password": password, "first_name": "Pulse",
                     "last_name": "Admin", "site_name": site_name},
            "prefs": {"site_name": site_name, "site_locale": "en", "allow_tracking": False},
        })
        self._use_session(session)

    def _use_session(self, session: Any) -> None:
        if not isinstance(session, dict) or not session.get("id"):
            raise MetabaseError("Metabase returned no session id")
        self._http.headers[SESSION_HEADER] = str(session["id"])
