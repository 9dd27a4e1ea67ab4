"""/healthz, /readyz and /metrics for operators and load balancers."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pasar import __version__
from pasar.services import Services
from pasar.web.deps import get_services
from pasar.web.errors import error_response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up. Says nothing about its dependencies (see /readyz)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    """Ready to take traffic: the database answers. 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        await services.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """Prometheus text. With ``PASAR_METRICS_TOKEN`` set, only for its bearer."""
    token = services.settings.metrics_token
    if token is not None and not _bearer_is(request, token.get_secret_value()):
        return error_response(
            401,
            "unauthorized",
            "send the metrics token as a Bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _bearer_is(request: Request, expected: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str (a header may carry Latin-1).
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, expected.encode())
