"""The app holds its routers' routes itself (``include_router`` matched them lazily, ~0.1-0.2 ms
a request): the OpenAPI document must be exactly what ``include_router`` gave."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter, FastAPI

from enterprise_store.api import _app, create_app
from enterprise_store.services import Services


def test_the_openapi_document_is_the_one_of_included_routers(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    flat = create_app(services)

    def include(app: FastAPI, router: APIRouter) -> None:
        app.include_router(router)

    monkeypatch.setattr(_app, "_add_routes", include)
    included = create_app(services)
    assert json.dumps(flat.openapi()) == json.dumps(included.openapi())
    paths = {getattr(r, "path", None) for r in flat.routes}
    assert {"/api/v1/hosts", "/api/v1/auth/whoami", "/healthz", "/api/v1/tasks"} <= paths
