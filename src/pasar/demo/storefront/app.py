"""Toko Demo's storefront: the vendor's own site, which `pasar demo` serves on a
second origin so the player is embedded cross-origin, as on a real shop.

The shop sells from its own catalogue (``products.json``, the file the seed
imports into Pasar), not from Pasar's database: a real vendor's site has its own
catalogue and Pasar holds an imported copy. The SKU ties the two. Its cart lives
in the browser (localStorage, static/cart.js); placing an order is the one thing
done on the server, because it reports the order to Pasar with the shop's API key,
which never reaches the browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pasar.demo import catalogue as shop_catalogue
from pasar.demo.catalogue import ShopProduct, ShopVariant
from pasar.demo.pictures import product_picture
from pasar.demo.storefront import orders, views

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ShopConfig:
    pasar_url: str  # Pasar's public URL: embed.js, the Storefront API, the show socket
    vendor_slug: str = "toko-demo"
    # The shop's Pasar API key, used on the server only to report orders; without
    # one, orders are taken but not reported.
    api_key: str | None = None
    catalogue: Sequence[ShopProduct] = field(default_factory=shop_catalogue.load)
    # Other origins the player loads from (an external HLS server, S3 images).
    media_origins: Sequence[str] = ()
    # Tests hand in an in-process Pasar; None: over the network to pasar_url.
    pasar_transport: httpx.AsyncBaseTransport | None = None


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def storefront_csp(pasar_url: str, media_origins: Sequence[str] = ()) -> str:
    """The policy a vendor's page needs for the player: scripts from itself and
    Pasar only (nothing inline), the Storefront API and the show socket, HLS
    through Media Source Extensions (blob:), product images from https: hosts."""
    pasar = origin(pasar_url)
    socket = ("wss" if pasar.startswith("https:") else "ws") + pasar[pasar.index(":") :]
    media = " ".join(origin(o) for o in media_origins)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {pasar}",
            f"connect-src 'self' {pasar} {socket} {media}".rstrip(),
            f"img-src 'self' data: blob: https: {pasar} {media}".rstrip(),
            f"media-src 'self' blob: {pasar} {media}".rstrip(),
            "worker-src 'self' blob:",
            # Styles: the player may set style attributes (progress bars, the
            # floating bubble's position); scripts stay strict.
            f"style-src 'self' 'unsafe-inline' {pasar}",
            f"font-src 'self' {pasar}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """The same headers on every answer, static files and errors included."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app, self.csp = app, csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", self.csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _catalogue_json(products: Sequence[ShopProduct]) -> list[dict[str, Any]]:
    return [
        {
            "handle": p.handle,
            "title": p.title,
            "image_url": f"/images/{p.handle}.jpg",
            "url": f"/products/{p.handle}",
            "variants": [
                {
                    "sku": v.sku,
                    "title": v.title,
                    "price": v.price,
                    "compare_at": v.compare_at,
                    "stock": v.stock,
                }
                for v in p.variants
            ],
        }
        for p in products
    ]


def create_storefront(config: ShopConfig) -> Starlette:
    by_handle = {p.handle: p for p in config.catalogue}
    catalogue_json = {
        "currency": shop_catalogue.CURRENCY,
        "products": _catalogue_json(config.catalogue),
    }
    render = {"pasar_url": config.pasar_url}
    no_cache = {"Cache-Control": "no-cache"}

    async def home(request: Request) -> Response:
        page = views.home(config.catalogue, vendor_slug=config.vendor_slug, **render)
        return HTMLResponse(page, headers=no_cache)

    async def product(request: Request) -> Response:
        found = by_handle.get(request.path_params["handle"])
        if found is None:
            return HTMLResponse(views.not_found(**render), status_code=404)
        others = [p for p in config.catalogue if p.handle != found.handle]
        page = views.product_page(found, others, vendor_slug=config.vendor_slug, **render)
        return HTMLResponse(page, headers=no_cache)

    async def checkout(request: Request) -> Response:
        return HTMLResponse(views.checkout_page(**render), headers=no_cache)

    async def catalogue(request: Request) -> Response:
        return JSONResponse(catalogue_json, headers={"Cache-Control": "public, max-age=60"})

    async def image(request: Request) -> Response:
        found = by_handle.get(request.path_params["handle"])
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            product_picture(found.title, found.colour),
            media_type="image/jpeg",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"code": "not_found", "message": "not found"}}, 404)
        return HTMLResponse(views.not_found(**render), status_code=404)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        async with httpx.AsyncClient(
            base_url=config.pasar_url.rstrip("/"),
            headers=headers,
            timeout=15,
            transport=config.pasar_transport,
        ) as client:
            app.state.shop = orders.Shop(
                client if config.api_key else None, by_sku(config.catalogue)
            )
            yield

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/products/{handle}", product),
            Route("/checkout", checkout),
            Route("/catalogue.json", catalogue),
            Route("/images/{handle}.jpg", image),
            Route("/api/orders", orders.place_order, methods=["POST"]),
            Route(
                "/api/reservations/{reservation_id}/release",
                orders.release_reservation,
                methods=["POST"],
            ),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
    app.add_middleware(
        SecurityHeaders,
        csp=storefront_csp(config.pasar_url, config.media_origins),
    )
    return app


def by_sku(products: Sequence[ShopProduct]) -> dict[str, tuple[ShopProduct, ShopVariant]]:
    return {v.sku: (p, v) for p in products for v in p.variants}


__all__ = ["ShopConfig", "create_storefront", "origin", "storefront_csp"]
