"""``create_app(settings)``: routers, static files, error mapping and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pasar import __version__
from pasar.db import migrate
from pasar.logging import keep_queries_out_of_logs
from pasar.services import Services
from pasar.settings import Settings
from pasar.web import apidocs, errors, pages
from pasar.web.cors import StorefrontCors
from pasar.web.edge import Edge
from pasar.web.errors import ErrorResponse
from pasar.web.fast_claims import FastClaims
from pasar.web.idempotency import purge_expired
from pasar.web.limits import MAX_JSON_BODY_BYTES, JsonTooLarge
from pasar.web.routes import (
    catalog,
    commerce,
    imports,
    media,
    media_hooks,
    realtime,
    showdoc,
    shows,
    staff,
    storefront,
    system,
    vendors,
    webhooks,
)
from pasar.web.routes import coupons as coupon_routes
from pasar.web.routes import orders as order_routes
from pasar.web.routes import shopping as shopping_routes
from pasar.web.show_socket import ShowSockets

log = structlog.get_logger()

DESCRIPTION = """Live-stream shopping for any storefront.

Authenticate with a vendor API key: `Authorization: Bearer pk_…`. Every error has
the shape `{"error": {"code", "message", "details"}}`. Lists are cursor-paginated:
pass `next_cursor` back as `cursor`. POSTs that create things honour `Idempotency-Key`.
Money is integer minor units of the ISO 4217 currency; times are UTC, ISO 8601.
"""


def _telemetry(on: bool) -> TelemetryConfig:
    return {"tracing": on, "metrics": on, "logs": on}


class PasarAPI(FastAPI):
    trusted_proxies: tuple[str, ...] = ()
    show_sockets: ShowSockets | None = None  # once the stack is built (the first call)
    fast_claims = True  # off with OpenTelemetry on: every claim is then traced

    def build_middleware_stack(self) -> ASGIApp:
        stack: ASGIApp = StorefrontCors(JsonTooLarge(super().build_middleware_stack()))
        # Ahead of the rest: a viewer's socket lives for hours, and every layer it
        # passes through keeps a frame per connection (see ShowSockets).
        stack = self.show_sockets = ShowSockets(stack, self.state.services)
        if self.fast_claims:
            # Outermost but for the proxy layer: a flash sale's claims skip the
            # stack, doing what its layers would (see web/fast_claims.py).
            stack = FastClaims(stack, fastapi=self)
        if self.trusted_proxies:
            # Outermost, so every route, limit and the show socket see the real
            # client in scope["client"]. Only these peers' X-Forwarded-For counts;
            # uvicorn's own proxy_headers is off in `pasar serve` (it would trust
            # 127.0.0.1 on its own terms).
            proxied = ProxyHeadersMiddleware(stack, list(self.trusted_proxies))  # type: ignore[arg-type]
            return proxied  # type: ignore[return-value]
        return stack


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keep_queries_out_of_logs()
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await migrate.upgrade(services.db)
        async with services.db.session() as db:
            await purge_expired(db, timedelta(hours=settings.idempotency_ttl_hours))
        await services.realtime.start()
        await services.chat.start()
        await services.polls.start()
        await services.show_link.start()
        await services.webhooks.start()
        await services.commerce.start()
        log.info(
            "pasar ready",
            public_url=settings.resolved_public_url,
            database=services.db.engine.url.render_as_string(),
        )
        try:
            yield
        finally:
            await services.close()
            log.info("pasar stopped")

    app = PasarAPI(
        title="Pasar API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # pasar.web.apidocs serves /docs without a CDN
        redoc_url=None,
        # JSON bodies are small; upload routes raise their own cap (web/limits.py).
        max_body_size=MAX_JSON_BODY_BYTES,
        # Off, FastAPI does not look up the OpenTelemetry providers per request
        # (os.environ reads: 3 % of a flash-sale claim's CPU).
        telemetry=_telemetry(settings.opentelemetry),
    )
    app.state.services = services
    app.trusted_proxies = tuple(settings.trusted_proxy_list)
    errors.install(app)
    # Routes are matched in order: the Storefront API first, as during a flash
    # sale nearly every request is a shopper's.
    for module in (
        storefront,
        showdoc,
        system,
        vendors,
        staff,
        catalog,
        imports,
        shows,
        commerce,
        realtime,
        media,
        media_hooks,
    ):
        app.include_router(module.router)
    app.include_router(webhooks.router)
    for module in (order_routes, coupon_routes, shopping_routes):
        app.include_router(module.router)
    app.include_router(showdoc.oembed_router)
    pages.install(app)
    if settings.api_docs:
        apidocs.install(app)
    app.mount(
        "/media", StaticFiles(directory=settings.resolved_media_dir, check_dir=False), name="media"
    )

    app.fast_claims = not settings.opentelemetry
    app.add_middleware(Edge, metrics=services.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _use_our_error_shape(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _use_our_error_shape(schema: dict[str, Any]) -> None:
    """FastAPI documents 422 as its own shape; Pasar answers with ErrorResponse."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in error_schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components["ErrorResponse"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    ref = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    }
    for path in schema.get("paths", {}).values():
        for op in path.values():
            resp = op.get("responses", {})
            if "422" in resp:
                resp["422"] = {"description": "Validation failed", **ref}
            if "requestBody" in op and "400" not in resp:
                # A body that cannot be parsed at all (not JSON, broken multipart).
                resp["400"] = {"description": "The body cannot be read", **ref}
