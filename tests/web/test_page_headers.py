"""Every HTML page Pasar serves carries a strict Content-Security-Policy
(issue 10, items 14 and 16a)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from pasar.web import pages


def _policy(r: httpx.Response) -> dict[str, str]:
    csp = r.headers["content-security-policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


HTML_PAGES = ["/studio/", "/watch/show_01TEST"]


async def test_every_html_page_forbids_base_and_foreign_form_targets(
    client: httpx.AsyncClient,
) -> None:
    for url in HTML_PAGES:
        r = await client.get(url)
        assert r.headers["content-type"].startswith("text/html"), url
        policy = _policy(r)
        assert policy["base-uri"] == "'none'", url
        assert policy["form-action"] == "'self'", url


async def test_the_not_built_page_has_the_same_policy(tmp_path: Path) -> None:
    app = FastAPI()
    pages.install(app, static_dir=tmp_path)  # nothing built there
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for url in HTML_PAGES:
            r = await client.get(url)
            assert r.status_code == 503
            policy = _policy(r)
            assert policy["default-src"] == "'none'"
            assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
