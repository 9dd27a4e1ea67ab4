"""The built front ends (the studio, the watch page; the embed later) served
from the package.

Vite writes them to ``web/static`` (``scripts/setup.sh`` builds them); hashed
assets are immutable so a CDN can keep them forever, pages are revalidated.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from pasar.ids import id_shaped
from pasar.shows.errors import ShowError
from pasar.vendors.models import Vendor
from pasar.web.errors import error_response
from pasar.web.routes.showdoc import find_show, watch_url

STATIC_DIR = Path(__file__).parent / "static"

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Pasar</title>
<p>The front end has not been built. Run <code>scripts/setup.sh</code> (needs Node.js 20+).</p>"""

# The watch page plays HLS through Media Source Extensions (blob: media URLs;
# hls.js demuxes in a blob: worker) and follows the show over a same-origin
# WebSocket. Images may come from any https: host: product images and the
# vendor's logo are often on the vendor's own.
# Every HTML page Pasar serves ends its policy with this: no <base> may move
# relative URLs elsewhere, and no form may post to another origin.
PAGE_CSP_TAIL = "base-uri 'none'; form-action 'self'"
PLAYER_CSP = (
    "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
    "img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'"
)
WATCH_CSP = f"{PLAYER_CSP}; frame-ancestors 'self'; {PAGE_CSP_TAIL}"
NOT_BUILT_HEADERS = {"Content-Security-Policy": f"default-src 'none'; {PAGE_CSP_TAIL}"}


class ImmutableStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def embed_csp(allowed_origins: list[str]) -> str:
    """The player's policy, framable by the vendor's allowed embed origins only
    (validated origins, so safe in a header); never ``*``."""
    ancestors = " ".join(["'self'", *(o for o in allowed_origins if o != "*")])
    return f"{PLAYER_CSP}; frame-ancestors {ancestors}; {PAGE_CSP_TAIL}"


def oembed_link(public_url: str, show_id: str) -> str:
    """The oEmbed discovery URL for a show's watch page."""
    return f"{public_url}/oembed?url={quote(watch_url(public_url, show_id), safe='')}&format=json"


def with_discovery(page: str, href: str) -> str:
    tag = f'<link rel="alternate" type="application/json+oembed" href="{html.escape(href)}">'
    head_end = page.find("</head>")
    if head_end < 0:
        return tag + page
    return page[:head_end] + tag + page[head_end:]


def install(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    studio_index = static_dir / "studio" / "index.html"
    watch_index = static_dir / "watch" / "index.html"
    # The studio publishes WHIP to the public URL's /whip, which need not be
    # the origin the studio was opened on (localhost vs. the LAN address).
    services = getattr(app.state, "services", None)
    connect = "'self'"
    if services is not None:
        connect += " " + _origin(services.settings.resolved_public_url)

    @app.get("/studio", include_in_schema=False)
    async def studio_redirect() -> RedirectResponse:
        return RedirectResponse("/studio/", status_code=308)

    @app.get("/studio/", include_in_schema=False)
    async def studio() -> Response:
        if not studio_index.exists():
            return HTMLResponse(NOT_BUILT, status_code=503, headers=NOT_BUILT_HEADERS)
        return FileResponse(
            studio_index,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' https: data:; style-src 'self' "
                    f"'unsafe-inline'; connect-src {connect}; frame-ancestors 'none'; "
                    + PAGE_CSP_TAIL
                ),
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "same-origin",
            },
        )

    @app.get("/watch/{show_id}", include_in_schema=False)
    async def watch(show_id: str) -> Response:
        """A minimal player for one show (until the embed lands), with the oEmbed
        discovery link (head tag and Link header) when the public URL is known."""
        if not id_shaped(show_id):
            return error_response(404, "not_found", "show not found")
        if not watch_index.exists():
            return HTMLResponse(NOT_BUILT, status_code=503, headers=NOT_BUILT_HEADERS)
        headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": WATCH_CSP,
            "Referrer-Policy": "same-origin",
        }
        if services is None:
            return FileResponse(watch_index, headers=headers)
        href = oembed_link(services.settings.resolved_public_url, show_id)
        headers["Link"] = f'<{href}>; rel="alternate"; type="application/json+oembed"'
        return HTMLResponse(with_discovery(watch_index.read_text(), href), headers=headers)

    @app.get("/embed/shows/{show_id}", include_in_schema=False)
    async def embed(show_id: str) -> Response:
        """The player for iframes (oEmbed's html): the watch build for now, framable
        only by the vendor's allowed embed origins."""
        if services is None:
            return error_response(404, "not_found", "show not found")
        try:
            show = await find_show(services, show_id)
        except ShowError:
            return error_response(404, "not_found", "show not found")
        if not watch_index.exists():
            return HTMLResponse(NOT_BUILT, status_code=503, headers=NOT_BUILT_HEADERS)
        async with services.db.session() as db:
            vendor = await db.get(Vendor, show.vendor_id)
        origins = list(vendor.allowed_origins) if vendor is not None else []
        return FileResponse(
            watch_index,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": embed_csp(origins),
                # The vendor's page is another origin: send it no path, only ours.
                "Referrer-Policy": "strict-origin-when-cross-origin",
            },
        )

    app.mount(
        "/assets", ImmutableStatic(directory=static_dir / "assets", check_dir=False), name="assets"
    )
