"""The FastAPI application: routers, the error map, metrics, a body limit, OpenAPI 3.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from enterprise_store.api import (
    _routes_approvals,
    _routes_audit,
    _routes_compute,
    _routes_history,
    _routes_incidents,
    _routes_ops,
    _routes_policy,
    _routes_policy_objects,
    _routes_tasks,
    _routes_tokens,
    _routes_users,
    _routes_whatif,
)
from enterprise_store.api._errors import PROBLEM_MEDIA_TYPE, install_error_handlers, problem
from enterprise_store.api._metrics import Metrics, MetricsMiddleware
from enterprise_store.services import Services
from enterprise_store.workers import register_ingest_metrics

__all__ = ["API_VERSION", "MAX_BODY", "create_app"]

API_VERSION = "1.0.0"
MAX_BODY = 1024 * 1024
_DESCRIPTION = """\
Xenon Enterprise (XE): users, roles and enclave scopes, credentials, the audit log, and
the federated XE policy — enclaves, hosts, SecLabels, VMs, conflict sets, DHCP servers,
versions and views; hosts through their XPS, VM lifecycle, propagation of each host's
slice, and long-running tasks (report §4). Every operation states its required role
(`x-required-role`); the services check role and enclave scope on every call. Errors are
RFC 9457 problem details with a stable `code`. Collections take `limit`, `cursor` and
`fields`. Long work answers 202 with a task under `/api/v1/tasks`.
"""


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes (413) before a handler reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "too_large", f"request body over {self.limit} bytes", instance=scope.get("path")
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if "x-required-role" not in operation:
                # Anything undeclared is admin-only: better a wrong doc than an open door.
                operation["x-required-role"] = "admin"
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response.get("content", {})
                if "Readiness" in str(content):
                    continue
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
                if status == "422":
                    response["description"] = "Invalid input (problem details)."
    for unused in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, as routes of the app itself.

    ``include_router`` (FastAPI 0.165) keeps the router whole and matches it lazily: a
    request scans every router before the one holding its route, then that one again to
    dispatch, with per-candidate scope bookkeeping — ~0.1-0.2 ms per request over ~80
    routes. An :class:`APIRouter`'s routes already carry its prefix, tags and
    dependencies (none of ours has a lifespan), so the OpenAPI document is the same (a
    test compares the two).
    """
    app.router.routes.extend(router.routes)


def create_app(
    services: Services | Callable[[], Awaitable[Services]],
    *,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The XE API.

    Args:
        services: The services to expose (the caller opens and closes them), or an async
            factory the app calls at start-up, on the server's event loop, closing what
            it returns at shutdown (database connections belong to the loop that opened
            them).
        metrics: The metrics (a fresh registry by default).
    """
    lifespan = None
    if not isinstance(services, Services):
        opener = services

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            opened = await opener()
            app.state.services = opened
            try:
                yield
            finally:
                await opened.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Xenon Enterprise API",
        version=API_VERSION,
        description=_DESCRIPTION,
        docs_url=None,  # Swagger UI would load scripts from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    if isinstance(services, Services):
        app.state.services = services
    app.state.metrics = metrics or Metrics()
    for module in (
        _routes_users,
        _routes_tokens,
        _routes_audit,
        _routes_policy,
        _routes_approvals,
        _routes_whatif,
        _routes_incidents,
        _routes_policy_objects,
        _routes_compute,
        _routes_tasks,
        _routes_history,
        _routes_ops,
    ):
        _add_routes(app, module.router)
    # The ingester belongs to the services (started with them or later): read at scrape time.
    register_ingest_metrics(
        app.state.metrics.registry,
        lambda: getattr(getattr(app.state, "services", None), "ingester", None),
    )
    app.state.metrics.registry.register(
        _routes_compute.ComputeCollector(
            services if isinstance(services, Services) else None, lookup=app
        )
    )
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(BodyLimit)

    def openapi() -> dict[str, Any]:
        return _openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
