"""Operations: ``/healthz`` (alive), ``/readyz`` (store reachable, workers alive), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from enterprise_store.api._auth import ServicesDep, doc
from enterprise_store.schemas import Health, Readiness

__all__ = ["router"]

router = APIRouter(tags=["operations"])
_TEXT = CONTENT_TYPE_LATEST.split(";")[0]


@router.get("/healthz", summary="Liveness", response_model=Health, **doc("none", public=True))
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the store answers and every worker runs",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the failing checks."}},
    description="**Required role: none** — No credential needed.",
    openapi_extra={"x-required-role": "none"},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = await services.readiness()
    ready = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
    },
    description="**Required role: none** — No credential needed (no secrets; put it behind "
    "the scraper's network).",
    openapi_extra={"x-required-role": "none"},
)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
