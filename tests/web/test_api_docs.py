"""/docs is Swagger UI from the installed package under a strict CSP, never a CDN
(issue 10, item 14); ``PASAR_API_DOCS=false`` turns it off."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from pasar.app import create_app
from tests.conftest import make_settings
from tests.web.test_page_headers import _policy


async def test_docs_load_only_same_origin_files(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "://" not in page  # no CDN, no other origin
    assert "<script>" not in page  # no inline script: the policy would refuse it
    policy = _policy(r)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "http" not in r.headers["content-security-policy"]

    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(urls) == [
        "/docs/assets/favicon.png",
        "/docs/assets/init.js",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert 'data-openapi-url="/openapi.json"' in page
    assert (await client.get("/openapi.json")).status_code == 200
    for bad in ["../../settings.py", "core.py", "swagger-ui.css.map", "a" * 5000]:
        assert (await client.get(f"/docs/assets/{bad}")).status_code == 404, bad


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_docs_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path / "data", api_docs=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200
