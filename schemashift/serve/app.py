"""The Starlette application of ``schemashift serve`` (docs/serve.md).

Every answer is JSON (the page and the metrics aside); every error is ``{"error": "..."}``
with the password of the database masked. The decisions come from ``serve.gate`` and the
library the command line uses (deploy.py, execute/status.py): nothing is decided here.
Database calls block, so they run in Starlette's thread pool.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from schemashift.config import Config
from schemashift.execute.database import DatabaseError, mask_secret, parse_url
from schemashift.execute.state import State
from schemashift.serve.gate import (
    UNKNOWN,
    Decision,
    Undecidable,
    UnknownMigration,
    contract_decision,
    ready_decision,
)
from schemashift.serve.metrics import CONTENT_TYPE, Metrics
from schemashift.serve.page import PAGE_HTML

log = logging.getLogger("schemashift.serve")

MAX_BODY = 64 * 1024
_NAME_RE = re.compile(r"[^\x00-\x1f\x7f]{1,255}")  # a migration, app or instance name
_TEXT_LIMIT = 200  # characters kept of each caller-supplied field in the audit event


@dataclass(frozen=True)
class ServeSettings:
    database_url: str
    config: Config
    token: str | None = None  # bearer token of the mutating endpoints (None: they refuse)
    protect_reads: bool = False  # the read endpoints need the token too
    max_body: int = MAX_BODY


class HTTPProblem(Exception):
    """An answer other than success: status code and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Handler = Callable[[Request], Awaitable[Response]]


class Server:
    """The routes' shared state: settings, the database target, the metrics."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.target = parse_url(settings.database_url)  # DatabaseError on a bad URL
        self.metrics = Metrics(self._status_document)
        self._ensured = False

    # -- plumbing ---------------------------------------------------------------------

    def mask(self, text: str) -> str:
        return mask_secret(text, self.target)

    def error(self, status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": self.mask(message)}, status_code=status)

    def route(self, handler: Handler, *, mutating: bool = False) -> Handler:
        """Token check, then the handler; problems become JSON errors, never tracebacks."""

        async def endpoint(request: Request) -> Response:
            try:
                if mutating or self.settings.protect_reads:
                    self._authorize(request, mutating)
                return await handler(request)
            except HTTPProblem as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                response = self.error(exc.status, str(exc))
                if headers:
                    response.headers.update(headers)
                return response
            except (Undecidable, DatabaseError) as exc:
                log.warning("database unavailable: %s", self.mask(str(exc)))
                return self.error(503, f"database unavailable: {exc}")
            except Exception as exc:  # one masked line in the log and the answer
                log.error("internal error on %s: %s: %s", request.url.path,
                          type(exc).__name__, self.mask(str(exc)))  # fmt: skip
                return self.error(500, f"internal error: {type(exc).__name__}")

        return endpoint

    def _authorize(self, request: Request, mutating: bool) -> None:
        token = self.settings.token
        if token is None:
            if mutating:
                raise HTTPProblem(403, "this server has no token (set SCHEMASHIFT_SERVE_TOKEN "
                                       "or --token-file): it accepts no changes")  # fmt: skip
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()):  # fmt: skip
            raise HTTPProblem(401, "missing or wrong bearer token (Authorization: Bearer ...)")

    async def body(self, request: Request, *, required: bool) -> dict[str, Any]:
        """The JSON object of the request body, at most ``max_body`` bytes."""
        limit = self.settings.max_body
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPProblem(413, f"request body larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPProblem(413, f"request body larger than {limit} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            if required:
                raise HTTPProblem(400, "expected a JSON object as the request body")
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPProblem(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPProblem(400, "expected a JSON object as the request body")
        return data

    @contextmanager
    def state(self) -> Iterator[State]:
        """The state tables, created (or upgraded) on first use as the CLI does; later
        requests run no DDL and wait at most seconds for a lock."""
        from schemashift.deploy import open_state

        with open_state(self.settings.database_url, self.settings.config.state_schema,
                        create=not self._ensured, lock_timeout=2.0,
                        statement_timeout=5.0) as state:  # fmt: skip
            self._ensured = True
            yield state

    def _status_document(self) -> dict[str, Any]:
        from schemashift.execute.status import status_document

        with self.state() as state:
            return status_document(state, self.settings.config.heartbeat_ttl)

    # -- the gates --------------------------------------------------------------------

    def gate(self, kind: str) -> Handler:
        async def handler(request: Request) -> Response:
            migration = _name(request.path_params["migration"], "migration")
            migration = migration[:-4] if migration.endswith(".sql") else migration
            verdict = request.query_params.get("as")
            if verdict not in (None, "verdict"):
                raise HTTPProblem(400, f"as={verdict!r}: the only form is as=verdict")
            payload = await self.body(request, required=False) if request.method == "POST" else {}
            try:
                if kind == "contract":
                    asked = _requested_by(request, payload)
                    decision = await run_in_threadpool(
                        contract_decision, self.settings.database_url, self.settings.config,
                        migration, asked)  # fmt: skip
                else:
                    decision = await run_in_threadpool(
                        ready_decision, self.settings.database_url, self.settings.config,
                        migration)  # fmt: skip
            except UnknownMigration as exc:
                if verdict is None:
                    raise HTTPProblem(404, str(exc)) from None
                decision = Decision(kind, migration, UNKNOWN, str(exc))
            except Undecidable as exc:
                if verdict is None:
                    raise
                log.warning("database unavailable: %s", self.mask(str(exc)))
                decision = Decision(kind, migration, UNKNOWN, f"cannot decide: {exc}")
            self.metrics.gate_decisions.labels(kind, decision.decision).inc()
            log.info("gate %s %s: %s", kind, migration, decision.decision)
            body = {**decision.to_json(), "reason": self.mask(decision.reason)}
            status = 200 if verdict or decision.allowed else 409
            return JSONResponse(body, status_code=status)

        return handler

    # -- status, events, metrics, page ------------------------------------------------

    async def status(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self._status_document))

    async def events(self, request: Request) -> Response:
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 500:
            raise HTTPProblem(400, f"limit={raw!r}: a whole number from 1 to 500")

        def read() -> list[dict[str, Any]]:
            with self.state() as state:
                return state.recent_events(int(raw))

        events = await run_in_threadpool(read)
        # "now": the page's clock for backfill rates (a headless browser's may be virtual).
        return JSONResponse({"version": 1, "now": time.time(), "events": events})

    async def info(self, request: Request) -> Response:
        from schemashift import __version__

        t = self.target
        where = t.database if t.dialect == "sqlite" else (
            f"{t.host or 'localhost'}{'' if t.port is None else f':{t.port}'}/{t.database or ''}")  # fmt: skip
        return JSONResponse({"schemashift": __version__, "dialect": t.dialect,
                             "database": self.mask(str(where)),
                             "protect_reads": self.settings.protect_reads})  # fmt: skip

    async def metrics_text(self, request: Request) -> Response:
        text = await run_in_threadpool(self.metrics.render)
        return Response(text, media_type=CONTENT_TYPE)

    async def page(self, request: Request) -> Response:
        return HTMLResponse(PAGE_HTML)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    # -- the deployment registry ------------------------------------------------------

    async def list_deployments(self, request: Request) -> Response:
        from schemashift.deploy import live

        def read() -> list[dict[str, Any]]:
            with self.state() as state:
                return [r.to_json() for r in live(state, request.query_params.get("app"),
                                                  self.settings.config.heartbeat_ttl)]  # fmt: skip

        return JSONResponse({"version": 1, "deployments": await run_in_threadpool(read)})

    async def record(self, request: Request) -> Response:
        from schemashift.deploy import VersionError, record

        data = await self.body(request, required=True)
        unknown = sorted(set(data) - {"app", "version", "instance", "environment", "slot",
                                      "traffic"})  # fmt: skip
        if unknown:
            raise HTTPProblem(400, f"unknown field(s): {', '.join(unknown)}")
        app = _name(data.get("app"), "app")
        version = _name(data.get("version"), "version")
        instance = None if data.get("instance") is None else _name(data["instance"], "instance")
        environment = _name(data.get("environment", "production"), "environment")
        slot = data.get("slot")
        traffic = data.get("traffic")
        if slot is not None and not isinstance(slot, str):
            raise HTTPProblem(400, "slot must be blue, green or canary")
        if traffic is not None and (isinstance(traffic, bool)
                                    or not isinstance(traffic, (int, float))):  # fmt: skip
            raise HTTPProblem(400, "traffic must be a number (a percentage, 0-100)")

        def write() -> str:
            with self.state() as state:
                return record(state, app, version, instance, environment, slot,
                              None if traffic is None else float(traffic))  # fmt: skip

        try:
            name = await run_in_threadpool(write)
        except (VersionError, ValueError) as exc:
            raise HTTPProblem(400, str(exc)) from None
        log.info("recorded %s %s instance %s (%s)", app, version, name, environment)
        return JSONResponse({"recorded": True, "app": app, "version": version,
                             "instance": name, "environment": environment})  # fmt: skip

    async def retire(self, request: Request) -> Response:
        from schemashift.deploy import retire

        app = _name(request.path_params["app"], "app")
        instance = request.path_params.get("instance")
        version = request.query_params.get("version")
        if instance is not None:
            instance = _name(instance, "instance")
        elif version is None:
            raise HTTPProblem(400, "retire needs an instance (/deployments/APP/INSTANCE) or "
                                   "?version=V (/deployments/APP?version=V)")  # fmt: skip
        else:
            version = _name(version, "version")

        def write() -> int:
            with self.state() as state:
                return retire(state, app, instance, version if instance is None else None)

        count = await run_in_threadpool(write)
        log.info("retired %d instance(s) of %s", count, app)
        return JSONResponse({"retired": count, "app": app, "instance": instance,
                             "version": version if instance is None else None})  # fmt: skip


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise HTTPProblem(400, f"{what} must be a non-empty string of at most 255 printable "
                               "characters")  # fmt: skip
    return value


def _requested_by(request: Request, payload: dict[str, Any]) -> dict[str, Any]:
    """Who asked, for the audit event: the caller's address and headers, and Flagger's
    webhook body (name, namespace, phase, checksum, metadata) when posted."""

    def short(value: Any) -> Any:
        return value[:_TEXT_LIMIT] if isinstance(value, str) else value

    asked: dict[str, Any] = {"via": "schemashift serve"}
    if request.client is not None:
        asked["client"] = request.client.host
    for header, key in (("x-schemashift-requested-by", "requested_by"),
                        ("user-agent", "user_agent")):  # fmt: skip
        if header in request.headers:
            asked[key] = short(request.headers[header])
    for key in ("name", "namespace", "phase", "checksum"):
        if isinstance(payload.get(key), str):
            asked[key] = short(payload[key])
    metadata = payload.get("metadata")
    if isinstance(metadata, dict):
        asked["metadata"] = {short(str(k)): short(v) for k, v in list(metadata.items())[:20]
                             if isinstance(v, (str, int, float, bool))}  # fmt: skip
    return asked


def create_app(settings: ServeSettings) -> Starlette:
    """The application; ``DatabaseError`` when the URL cannot be parsed."""
    s = Server(settings)
    gate_methods = ["GET", "POST"]
    routes = [
        # The page holds no data (its script asks the API, with the token if needed) and
        # liveness must answer without one.
        Route("/", s.page, methods=["GET"]),
        Route("/healthz", s.health, methods=["GET"]),
        Route("/metrics", s.route(s.metrics_text), methods=["GET"]),
        Route("/api/v1/info", s.route(s.info), methods=["GET"]),
        Route("/api/v1/status", s.route(s.status), methods=["GET"]),
        Route("/api/v1/events", s.route(s.events), methods=["GET"]),
        Route(
            "/api/v1/gate/contract/{migration}", s.route(s.gate("contract")), methods=gate_methods
        ),
        Route("/api/v1/gate/ready/{migration}", s.route(s.gate("ready")), methods=gate_methods),
        Route("/api/v1/deployments", s.route(s.list_deployments), methods=["GET"]),
        Route("/api/v1/deployments", s.route(s.record, mutating=True), methods=["POST"]),
        Route("/api/v1/deployments/{app}", s.route(s.retire, mutating=True), methods=["DELETE"]),
        Route(
            "/api/v1/deployments/{app}/{instance}",
            s.route(s.retire, mutating=True),
            methods=["DELETE"],
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        response = s.error(status, str(getattr(exc, "detail", "")) or "error")
        response.headers.update(getattr(exc, "headers", None) or {})  # Allow on a 405
        return response

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.server = s
    return app
