"""``PASAR_METRICS_TOKEN``: with it set, /metrics answers only its bearer
(issue 10, item 15). Unset, /metrics stays open (tests/web/test_edge.py scrapes it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from pasar.app import create_app
from pasar.settings import Settings
from tests.conftest import _truncate, make_settings

TOKEN = "metrics-token-0123456789"


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url, tmp_path / "data", metrics_token=TOKEN))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


async def test_metrics_need_the_token_when_one_is_set(client: httpx.AsyncClient) -> None:
    refused: list[dict[str, str | bytes]] = [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer tökén".encode()},  # non-ASCII: no 500
    ]
    for headers in refused:
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "pasar_http_requests_total" not in r.text
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert 'pasar_http_requests_total{method="GET",route="/metrics",status="401"}' in r.text
    assert (await client.get("/healthz")).status_code == 200  # the rest stays open


def test_a_short_metrics_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(data_dir=tmp_path, metrics_token="short")  # type: ignore[arg-type]
