"""Swagger UI at ``/docs``, served from the installed package, never a CDN.

FastAPI's own ``/docs`` loads Swagger UI from a CDN with a floating version and no
integrity hash, into a page on the studio's origin: whoever serves that script runs
code next to the studio's session cookie. Here the files come from the
``fastapi-offline`` package (a pinned Swagger UI build, upgraded with the package),
the page's only script is the bundle and a small same-origin initialiser, and the
Content-Security-Policy allows nothing else. ``PASAR_API_DOCS=false`` turns it off.
"""

from __future__ import annotations

import html
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pasar.web.errors import error_response
from pasar.web.pages import PAGE_CSP_TAIL

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    f"frame-ancestors 'none'; {PAGE_CSP_TAIL}"
)
PAGE_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
ASSET_CACHE = "public, max-age=3600"  # names carry no hash: revalidate hourly

# Starts Swagger UI on the page's element; an inline script would need the CSP to
# allow inline scripts, which is what the policy is there to refuse.
INIT_JS = """\
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/init.js"></script>
</body>
</html>
"""

# What /docs/assets/ serves: the package's files by name, nothing else.
PACKAGE_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
NOT_INSTALLED = "the API docs need the fastapi-offline package (pip install fastapi-offline)"


def _package_dir() -> Traversable | None:
    try:
        return resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        return None


def install(app: FastAPI, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` (the app must be built with ``docs_url=None``)."""
    assets_url = f"{docs_url}/assets"
    static = _package_dir()
    cache: dict[str, bytes] = {}

    @app.get(docs_url, include_in_schema=False)
    async def docs(request: Request) -> Response:
        if static is None:
            return error_response(503, "docs_unavailable", NOT_INSTALLED)
        root = request.scope.get("root_path", "")
        page = PAGE.format(
            title=html.escape(f"{app.title} - docs"),
            assets=html.escape(f"{root}{assets_url}"),
            openapi_url=html.escape(f"{root}{app.openapi_url}"),
        )
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get(f"{assets_url}/{{name}}", include_in_schema=False)
    async def asset(name: str) -> Response:
        headers = {"Cache-Control": ASSET_CACHE}
        if name == "init.js":
            return Response(INIT_JS, media_type="text/javascript; charset=utf-8", headers=headers)
        media_type = PACKAGE_ASSETS.get(name)
        if media_type is None or static is None:
            return error_response(404, "not_found", "no such file")
        if name not in cache:  # read once (1.7 MB in all), not on every request
            cache[name] = (static / name).read_bytes()
        return Response(cache[name], media_type=media_type, headers=headers)
