"""The built front ends served from the package: the studio, the embed
(``/embed.js``, the ``<pasar-live>`` element) and the two pages made of it, the
watch page (``/watch/{id}``) and the iframe page (``/embed/shows/{id}``).

Vite writes them to ``web/static`` (``scripts/setup.sh`` builds them); hashed
assets are immutable so a CDN can keep them forever, pages and ``embed.js`` (the
one stable URL vendors paste) are revalidated.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Header
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from pasar.ids import id_shaped
from pasar.shows.errors import ShowError
from pasar.vendors.models import Vendor
from pasar.web.deps import find_show
from pasar.web.errors import error_response
from pasar.web.routes.showdoc import watch_url

STATIC_DIR = Path(__file__).parent / "static"

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Pasar</title>
<p>The front end has not been built. Run <code>scripts/setup.sh</code> (needs Node.js 20+).</p>"""

# The watch page plays HLS through Media Source Extensions (blob: media URLs;
# hls.js demuxes in a blob: worker) and follows the show over a same-origin
# WebSocket. Images may come from any https: host: product images and the
# vendor's logo are often on the vendor's own; "remind me" is a data: calendar file.
# Every HTML page Pasar serves ends its policy with this: no <base> may move
# relative URLs elsewhere, and no form may post to another origin.
PAGE_CSP_TAIL = "base-uri 'none'; form-action 'self'"
PLAYER_CSP = (
    "default-src 'self'; script-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
    "img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'"
)
WATCH_CSP = f"{PLAYER_CSP}; frame-ancestors 'self'; {PAGE_CSP_TAIL}"
NOT_BUILT_HEADERS = {"Content-Security-Policy": f"default-src 'none'; {PAGE_CSP_TAIL}"}


IMMUTABLE = "public, max-age=31536000, immutable"


class ImmutableStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = IMMUTABLE
        return response


ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
EMBED_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Vary": "Accept-Encoding",
}


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows (q=0 refuses one)."""
    allowed = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=")
        if name and not (params and q.replace(".", "", 1).isdigit() and float(q) == 0):
            allowed.add(name.strip())
    return allowed


def precompressed(path: Path, accept_encoding: str) -> tuple[Path, str | None]:
    """The build's .br or .gz twin of ``path`` the client accepts, else ``path``.
    The embed's scripts are compressed once at build time (vite.embed.config.ts):
    on a phone on 3G the bytes are the wait."""
    allowed = accepted_encodings(accept_encoding)
    for encoding, suffix in ENCODINGS:
        twin = path.with_name(path.name + suffix)
        if encoding in allowed and twin.is_file():
            return twin, encoding
    return path, None


def script_response(path: Path, accept_encoding: str, cache_control: str) -> FileResponse:
    served, encoding = precompressed(path, accept_encoding)
    headers = {**EMBED_HEADERS, "Cache-Control": cache_control}
    if encoding:
        headers["Content-Encoding"] = encoding
    return FileResponse(served, media_type="text/javascript; charset=utf-8", headers=headers)


class CrossOriginStatic(StaticFiles):
    """The embed's chunks: imported by embed.js on the vendor's page, so with CORS;
    hashed, so immutable; compressed at build time."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)  # validates the path
        if response.status_code == 200 and isinstance(response, FileResponse):
            accept = Headers(scope=scope).get("accept-encoding", "")
            return script_response(Path(response.path), accept, IMMUTABLE)
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


# The two pages made of the element: nothing but it, the script and the styles
# that let it fill the window. Every value is escaped (ids are id-shaped anyway).
PLAYER_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{title}</title>
<link rel="icon" href="data:,">
{discovery}<link rel="stylesheet" href="/embed/page.css">
<script type="module" src="/embed.js"></script>
</head>
<body>
<pasar-live show="{show}" layout="fullscreen" theme="dark"{extra}></pasar-live>
</body>
</html>
"""
PAGE_CSS = b"html,body{margin:0;height:100%;background:#000}\n"
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


def player_page(
    show_id: str, title: str, *, locale: str | None, debug: bool, discovery: str | None
) -> str:
    extra = ""
    if locale and LOCALE_RE.match(locale):
        extra += f' locale="{html.escape(locale)}"'
    if debug:
        extra += " debug"
    link = (
        f'<link rel="alternate" type="application/json+oembed" href="{html.escape(discovery)}">\n'
        if discovery
        else ""
    )
    return PLAYER_PAGE.format(
        lang=html.escape(locale if locale and LOCALE_RE.match(locale) else "en"),
        title=html.escape(title),
        discovery=link,
        show=html.escape(show_id),
        extra=extra,
    )


def install(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    studio_index = static_dir / "studio" / "index.html"
    embed_js = static_dir / "embed.js"
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

    @app.get("/embed.js", include_in_schema=False)
    async def embed_script(
        accept_encoding: Annotated[str, Header(max_length=1000)] = "",
    ) -> Response:
        """The one URL vendors paste: revalidated (an upgrade reaches every page within
        minutes), loadable from any origin (a module script is fetched with CORS)."""
        if not embed_js.exists():
            return error_response(503, "not_built", "the front end has not been built")
        return script_response(embed_js, accept_encoding, "public, max-age=300")

    @app.get("/embed.d.ts", include_in_schema=False)
    async def embed_types() -> Response:
        """The element's TypeScript types for vendors' developers."""
        types = static_dir / "embed.d.ts"
        if not types.exists():
            return error_response(503, "not_built", "the front end has not been built")
        return FileResponse(
            types,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
        )

    @app.get("/embed/page.css", include_in_schema=False)
    async def page_css() -> Response:
        return Response(
            PAGE_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    async def _page(show_id: str, locale: str | None, debug: bool, csp: str) -> Response:
        if services is None or not embed_js.exists():
            return HTMLResponse(NOT_BUILT, status_code=503, headers=NOT_BUILT_HEADERS)
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": csp}
        try:
            show = await find_show(services, show_id)
        except ShowError:
            # A person followed a dead link: the player says so, in their language.
            page = player_page(show_id, "Pasar", locale=locale, debug=False, discovery=None)
            return HTMLResponse(page, status_code=404, headers=headers)
        href = oembed_link(services.settings.resolved_public_url, show.id)
        headers["Link"] = f'<{href}>; rel="alternate"; type="application/json+oembed"'
        page = player_page(show.id, show.title, locale=locale, debug=debug, discovery=href)
        return HTMLResponse(page, headers=headers)

    @app.get("/watch/{show_id}", include_in_schema=False)
    async def watch(show_id: str, locale: str | None = None, debug: str | None = None) -> Response:
        """The player on a page of its own (the show's shareable link), with the
        oEmbed discovery link (head tag and Link header)."""
        if not id_shaped(show_id):
            return error_response(404, "not_found", "show not found")
        response = await _page(show_id, locale, debug is not None, WATCH_CSP)
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.get("/embed/shows/{show_id}", include_in_schema=False)
    async def embed(show_id: str, locale: str | None = None) -> Response:
        """The player for iframes (oEmbed's html), framable only by the vendor's
        allowed embed origins."""
        if services is None or not id_shaped(show_id):
            return error_response(404, "not_found", "show not found")
        try:
            show = await find_show(services, show_id)
        except ShowError:
            return error_response(404, "not_found", "show not found")
        async with services.db.session() as db:
            vendor = await db.get(Vendor, show.vendor_id)
        origins = list(vendor.allowed_origins) if vendor is not None else []
        response = await _page(show.id, locale, False, embed_csp(origins))
        # The vendor's page is another origin: send it no path, only ours.
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        return response

    app.mount(
        "/embed/c",
        CrossOriginStatic(directory=static_dir / "embed" / "c", check_dir=False),
        name="embed-chunks",
    )
    app.mount(
        "/assets", ImmutableStatic(directory=static_dir / "assets", check_dir=False), name="assets"
    )
