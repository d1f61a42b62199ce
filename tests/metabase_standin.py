"""A stand-in for the part of Metabase's REST API that `pulse metabase apply` uses.

Written from Metabase's API documentation (docs/api/*.md in the metabase repository, the
v0.47-v0.50 shapes: `GET /api/database` answers `{"data": [...]}`, dashboard cards are
replaced with `PUT /api/dashboard/:id {"dashcards": [...]}` where a negative id creates a
dashcard). HTTP on 127.0.0.1, state in memory. It checks what Metabase checks and a little
more, answering 400 with `{"errors": {field: message}}` as Metabase does:

- every call but health, session properties, setup and login needs the
  `X-Metabase-Session` header of a live session (else 401);
- required fields, their types, ids that must exist;
- native queries: every `{{tag}}` has a template tag of that name with id, name,
  display-name and a known type;
- dashcards: cards that exist, ids that belong to the dashboard, a 24-column grid, and
  parameter mappings whose parameter exists on the dashboard and whose target is a
  template tag of the dashcard's own card.

    with MetabaseStandin(admin=("admin@x", "pw1")) as mb:   # admin=None: not set up yet
        ...  mb.url, mb.requests (method, path), mb.cards, mb.dashboards

Over 300 lines on purpose: the part of Metabase's REST API the client uses, written from
Metabase's API documentation, in one server so the tests start it once.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SESSION_HEADER = "X-Metabase-Session"
TAG_TYPES = {"text", "number", "date", "dimension", "snippet", "card", "temporal-unit"}
DISPLAYS = {"table", "line", "bar", "area", "row", "pie", "scalar", "smartscalar", "combo",
            "funnel", "scatter", "pivot", "progress", "gauge", "map", "waterfall", "object"}
PARAMETER_TYPES = {"string/=", "string/!=", "string/contains", "category", "id",
                   "number/=", "date/single", "date/range", "date/all-options",
                   "date/relative", "date/month-year", "date/quarter-year",
                   "temporal-unit"}
ENGINES = {"postgres", "h2", "mysql"}
GRID_WIDTH = 24
OBFUSCATED = "**MetabasePass**"


class Invalid(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _bad(field: str, message: str) -> Invalid:
    return Invalid(400, {"errors": {field: message}})


def _not_found() -> Invalid:
    return Invalid(404, "Not found.")


def _need_str(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad(key, "value must be a non-blank string.")
    return value


def _optional(body: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool)
                              and kind is int)):
        raise _bad(key, f"value may be nil, or if non-nil, value must be a {kind}.")
    return value


class MetabaseStandin:
    def __init__(self, admin: tuple[str, str] | None = ("admin@pulse.local", "adminpw1")):
        self.users: dict[str, str] = dict([admin]) if admin else {}
        self.setup_token = secrets.token_hex(16)
        self.sessions: set[str] = set()
        self.databases: dict[int, dict[str, Any]] = {}
        self.collections: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.rejected: list[tuple[str, str, Any]] = []
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> MetabaseStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = standin.handle(method, self.path, dict(self.headers), raw)
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(
                    body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def _next(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    # --- dispatch ---------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, path))
            try:
                body = json.loads(raw) if raw else None
                if method in ("POST", "PUT") and not isinstance(body, dict):
                    raise Invalid(400, "body must be a JSON object")
                if path not in ("/api/health", "/api/session/properties", "/api/setup",
                                "/api/session"):
                    token = {k.lower(): v for k, v in headers.items()}.get(
                        SESSION_HEADER.lower())
                    if token not in self.sessions:
                        raise Invalid(401, "Unauthenticated")
                for pattern, verb, func in self._routes():
                    m = re.fullmatch(pattern, path)
                    if m and verb == method:
                        args = [int(g) for g in m.groups()]
                        return 200, func(*args, body=body or {}, query=query)
                raise _not_found()
            except Invalid as exc:
                self.rejected.append((method, path, exc.body))
                return exc.status, exc.body
            except json.JSONDecodeError:
                return 400, "malformed JSON"

    def _routes(self):
        n = r"(\d+)"
        return [
            (r"/api/health", "GET", lambda **_: {"status": "ok"}),
            (r"/api/session/properties", "GET", self.properties),
            (r"/api/setup", "POST", self.setup),
            (r"/api/session", "POST", self.login),
            (r"/api/database", "GET", self.list_databases),
            (r"/api/database", "POST", self.create_database),
            (rf"/api/database/{n}", "GET", self.get_database),
            (rf"/api/database/{n}", "PUT", self.update_database),
            (r"/api/collection", "GET", self.list_collections),
            (r"/api/collection", "POST", self.create_collection),
            (rf"/api/collection/{n}", "PUT", self.update_collection),
            (rf"/api/collection/{n}/items", "GET", self.collection_items),
            (r"/api/card", "POST", self.create_card),
            (rf"/api/card/{n}", "GET", self.get_card),
            (rf"/api/card/{n}", "PUT", self.update_card),
            (r"/api/dashboard", "POST", self.create_dashboard),
            (rf"/api/dashboard/{n}", "GET", self.get_dashboard),
            (rf"/api/dashboard/{n}", "PUT", self.update_dashboard),
        ]

    # --- session and setup --------------------------------------------------------------

    def properties(self, **_: Any) -> dict[str, Any]:
        done = bool(self.users)
        return {"has-user-setup": done, "setup-token": None if done else self.setup_token,
                "version": {"tag": "v0.50.36-standin"}}

    def _session(self) -> dict[str, str]:
        token = secrets.token_hex(16)
        self.sessions.add(token)
        return {"id": token}

    def setup(self, *, body: dict, **_: Any) -> dict[str, str]:
        if self.users:
            raise Invalid(403, "The /api/setup route can only be used to create the first "
                               "user, however a user currently exists.")
        if body.get("token") != self.setup_token:
            raise _bad("token", "Token does not match the setup token.")
        user = body.get("user") or {}
        email = _need_str(user, "email")
        password = user.get("password") or ""
        # Metabase's default ("normal") complexity: 6 characters with a digit
        if len(password) < 6 or not re.search(r"\d", password):
            raise _bad("password", "password is too common.")
        _need_str(body.get("prefs") or {}, "site_name")
        self.users[email] = password
        return self._session()

    def login(self, *, body: dict, **_: Any) -> dict[str, str]:
        username, password = _need_str(body, "username"), _need_str(body, "password")
        if self.users.get(username) != password:
            raise Invalid(401, {"errors": {"password": "did not match stored password"}})
        return self._session()

    # --- databases --------------------------------------------------------------------

    def _public_db(self, db: dict[str, Any]) -> dict[str, Any]:
        details = dict(db["details"])
        if "password" in details:
            details["password"] = OBFUSCATED
        return {**db, "details": details}

    def list_databases(self, **_: Any) -> dict[str, Any]:
        rows = [self._public_db(d) for d in self.databases.values()]
        return {"data": rows, "total": len(rows)}

    def get_database(self, db_id: int, **_: Any) -> dict[str, Any]:
        if db_id not in self.databases:
            raise _not_found()
        return self._public_db(self.databases[db_id])

    def _check_db(self, body: dict) -> None:
        _need_str(body, "name")
        if body.get("engine") not in ENGINES:
            raise _bad("engine", "value must be a valid database engine.")
        details = body.get("details")
        if not isinstance(details, dict):
            raise _bad("details", "value must be a map.")
        for key in ("host", "dbname", "user"):
            _need_str(details, key)
        if not isinstance(details.get("port"), int):
            raise _bad("details", "port must be an integer")

    def create_database(self, *, body: dict, **_: Any) -> dict[str, Any]:
        self._check_db(body)
        db_id = self._next("database")
        self.databases[db_id] = {"id": db_id, "name": body["name"], "engine": body["engine"],
                                 "details": dict(body["details"]),
                                 "is_full_sync": body.get("is_full_sync", True)}
        return self._public_db(self.databases[db_id])

    def update_database(self, db_id: int, *, body: dict, **_: Any) -> dict[str, Any]:
        if db_id not in self.databases:
            raise _not_found()
        db = self.databases[db_id]
        merged = {**db, **{k: v for k, v in body.items() if v is not None}}
        self._check_db(merged)
        if merged["details"].get("password") == OBFUSCATED:  # Metabase keeps the old one
            merged["details"]["password"] = db["details"].get("password")
        self.databases[db_id] = merged
        return self._public_db(merged)

    # --- collections ------------------------------------------------------------------

    def list_collections(self, **_: Any) -> list[dict[str, Any]]:
        root = {"id": "root", "name": "Our analytics", "location": None, "archived": False}
        return [root, *(c for c in self.collections.values() if not c["archived"])]

    def create_collection(self, *, body: dict, **_: Any) -> dict[str, Any]:
        name = _need_str(body, "name")
        parent = _optional(body, "parent_id", int)
        if parent is not None and parent not in self.collections:
            raise _bad("parent_id", "no such collection")
        location = "/" if parent is None else f"{self.collections[parent]['location']}{parent}/"
        coll_id = self._next("collection")
        self.collections[coll_id] = {"id": coll_id, "name": name, "location": location,
                                     "description": _optional(body, "description", str),
                                     "archived": False}
        return self.collections[coll_id]

    def update_collection(self, coll_id: int, *, body: dict, **_: Any) -> dict[str, Any]:
        if coll_id not in self.collections:
            raise _not_found()
        coll = self.collections[coll_id]
        if "name" in body:
            coll["name"] = _need_str(body, "name")
        if "description" in body:
            coll["description"] = _optional(body, "description", str)
        return coll

    def collection_items(self, coll_id: int, *, query: dict, **_: Any) -> dict[str, Any]:
        if coll_id not in self.collections:
            raise _not_found()
        models = set(query.get("models") or ["card", "dashboard", "collection"])
        data = []
        if "card" in models:
            data += [{"id": c["id"], "name": c["name"], "model": "card",
                      "description": c["description"]} for c in self.cards.values()
                     if c["collection_id"] == coll_id and not c["archived"]]
        if "dashboard" in models:
            data += [{"id": d["id"], "name": d["name"], "model": "dashboard",
                      "description": d["description"]} for d in self.dashboards.values()
                     if d["collection_id"] == coll_id and not d["archived"]]
        return {"data": data, "total": len(data), "models": sorted(models)}

    # --- cards ------------------------------------------------------------------------

    def _check_collection(self, body: dict) -> None:
        coll = _optional(body, "collection_id", int)
        if coll is not None and coll not in self.collections:
            raise _bad("collection_id", "no such collection")

    def _check_query(self, query: Any) -> None:
        if not isinstance(query, dict):
            raise _bad("dataset_query", "value must be a map.")
        if query.get("database") not in self.databases:
            raise _bad("dataset_query", f"no database with id {query.get('database')!r}")
        if query.get("type") != "native":
            raise _bad("dataset_query", "the stand-in knows native queries only")
        native = query.get("native")
        if not isinstance(native, dict) or not isinstance(native.get("query"), str):
            raise _bad("dataset_query", "native.query must be a string")
        tags = native.get("template-tags") or {}
        if not isinstance(tags, dict):
            raise _bad("dataset_query", "native.template-tags must be a map")
        for name, tag in tags.items():
            if not isinstance(tag, dict) or tag.get("name") != name:
                raise _bad("dataset_query", f"template tag {name!r}: name must be {name!r}")
            for key in ("id", "display-name"):
                if not isinstance(tag.get(key), str) or not tag[key]:
                    raise _bad("dataset_query", f"template tag {name!r}: no {key}")
            if tag.get("type") not in TAG_TYPES:
                raise _bad("dataset_query", f"template tag {name!r}: unknown type "
                                            f"{tag.get('type')!r}")
        used = set(re.findall(r"\{\{\s*([\w.-]+)\s*\}\}", native["query"]))
        missing = used - set(tags)
        if missing:
            raise _bad("dataset_query", f"no template tag for {sorted(missing)}")

    def _check_card(self, body: dict) -> None:
        _need_str(body, "name")
        if body.get("display") not in DISPLAYS:
            raise _bad("display", "value must be a non-blank string (a known display).")
        if not isinstance(body.get("visualization_settings"), dict):
            raise _bad("visualization_settings", "value must be a map.")
        _optional(body, "description", str)
        self._check_collection(body)
        self._check_query(body.get("dataset_query"))

    def create_card(self, *, body: dict, **_: Any) -> dict[str, Any]:
        self._check_card(body)
        card_id = self._next("card")
        self.cards[card_id] = {
            "id": card_id, "name": body["name"], "description": body.get("description"),
            "collection_id": body.get("collection_id"), "display": body["display"],
            "visualization_settings": body["visualization_settings"],
            "dataset_query": body["dataset_query"], "archived": False,
            "query_type": "native"}
        return self.cards[card_id]

    def get_card(self, card_id: int, **_: Any) -> dict[str, Any]:
        if card_id not in self.cards:
            raise _not_found()
        return self.cards[card_id]

    def update_card(self, card_id: int, *, body: dict, **_: Any) -> dict[str, Any]:
        if card_id not in self.cards:
            raise _not_found()
        merged = {**self.cards[card_id], **{k: v for k, v in body.items() if v is not None
                                            or k in ("description", "collection_id")}}
        self._check_card(merged)
        self.cards[card_id] = merged
        return merged

    # --- dashboards -------------------------------------------------------------------

    def _check_parameters(self, params: Any) -> None:
        if params is None:
            return
        if not isinstance(params, list):
            raise _bad("parameters", "value must be an array.")
        for p in params:
            if not isinstance(p, dict) or not p.get("id") or not p.get("type"):
                raise _bad("parameters", "Each parameter must be a map with :id and :type "
                                         "keys")
            if p["type"] not in PARAMETER_TYPES:
                raise _bad("parameters", f"unknown parameter type {p['type']!r}")

    def create_dashboard(self, *, body: dict, **_: Any) -> dict[str, Any]:
        name = _need_str(body, "name")
        self._check_collection(body)
        self._check_parameters(body.get("parameters"))
        dash_id = self._next("dashboard")
        self.dashboards[dash_id] = {
            "id": dash_id, "name": name, "description": body.get("description"),
            "collection_id": body.get("collection_id"),
            "parameters": body.get("parameters") or [], "dashcards": [], "tabs": [],
            "archived": False}
        return self.get_dashboard(dash_id)

    def get_dashboard(self, dash_id: int, **_: Any) -> dict[str, Any]:
        if dash_id not in self.dashboards:
            raise _not_found()
        dash = self.dashboards[dash_id]
        cards = [{**dc, "card": self.cards[dc["card_id"]]} for dc in dash["dashcards"]]
        return {**dash, "dashcards": cards}

    def update_dashboard(self, dash_id: int, *, body: dict, **_: Any) -> dict[str, Any]:
        if dash_id not in self.dashboards:
            raise _not_found()
        dash = self.dashboards[dash_id]
        if "name" in body:
            _need_str(body, "name")
        self._check_collection(body)
        self._check_parameters(body.get("parameters"))
        params = body["parameters"] if body.get("parameters") is not None \
            else dash["parameters"]
        new_cards = None
        if "dashcards" in body:
            new_cards = self._check_dashcards(dash, body["dashcards"], params)
        for key in ("name", "description", "collection_id", "archived"):
            if key in body:
                dash[key] = body[key]
        dash["parameters"] = params
        if new_cards is not None:
            dash["dashcards"] = new_cards
        return self.get_dashboard(dash_id)

    def _check_dashcards(self, dash: dict, dashcards: Any,
                         params: list[dict]) -> list[dict[str, Any]]:
        if not isinstance(dashcards, list):
            raise _bad("dashcards", "value must be an array.")
        own = {dc["id"] for dc in dash["dashcards"]}
        param_ids = {p["id"] for p in params}
        out = []
        for i, dc in enumerate(dashcards):
            where = f"dashcards[{i}]"
            if not isinstance(dc, dict) or not isinstance(dc.get("id"), int):
                raise _bad("dashcards", f"{where}: id must be an integer")
            if dc["id"] >= 0 and dc["id"] not in own:
                raise _bad("dashcards", f"{where}: dashcard {dc['id']} is not on this "
                                        "dashboard")
            for key in ("row", "col", "size_x", "size_y"):
                if not isinstance(dc.get(key), int) or dc[key] < 0:
                    raise _bad("dashcards", f"{where}: {key} must be an integer >= 0")
            if dc["size_x"] < 1 or dc["size_y"] < 1 or dc["col"] + dc["size_x"] > GRID_WIDTH:
                raise _bad("dashcards", f"{where}: outside the {GRID_WIDTH}-column grid")
            card = self.cards.get(dc.get("card_id"))
            if card is None:
                raise _bad("dashcards", f"{where}: no card {dc.get('card_id')!r}")
            tags = card["dataset_query"]["native"].get("template-tags") or {}
            for m in dc.get("parameter_mappings") or []:
                if m.get("parameter_id") not in param_ids:
                    raise _bad("dashcards", f"{where}: mapping to unknown parameter "
                                            f"{m.get('parameter_id')!r}")
                if m.get("card_id") != card["id"]:
                    raise _bad("dashcards", f"{where}: mapping card_id differs from card_id")
                target = m.get("target")
                ok = (isinstance(target, list) and len(target) == 2
                      and target[0] in ("variable", "dimension")
                      and isinstance(target[1], list) and target[1][:1] == ["template-tag"]
                      and target[1][1] in tags)
                if not ok:
                    raise _bad("dashcards", f"{where}: target {target!r} is not a template "
                                            "tag of the card")
            new_id = dc["id"] if dc["id"] >= 0 else self._next("dashcard")
            out.append({"id": new_id, "dashboard_id": dash["id"], "card_id": card["id"],
                        "row": dc["row"], "col": dc["col"], "size_x": dc["size_x"],
                        "size_y": dc["size_y"],
                        "parameter_mappings": dc.get("parameter_mappings") or [],
                        "visualization_settings": dc.get("visualization_settings") or {}})
        return out
