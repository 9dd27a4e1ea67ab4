"""/docs renders in a real browser under its strict CSP (issue 10, item 14): the
Swagger UI bundle, its initialiser and the OpenAPI document are all same-origin, and
the browser reports no refused script, style or request."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LiveServer


def test_swagger_ui_renders_with_nothing_refused(live_server: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" or "Refused" in m.text else None,
    )
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(live_server.url) else None,
    )
    page.goto(f"{live_server.url}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 50  # every operation is listed
    assert "Pasar API" in page.locator(".swagger-ui .title").inner_text()
    assert problems == []
    assert [u for u in elsewhere if not u.startswith("data:")] == []
    page.close()
