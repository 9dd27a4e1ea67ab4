"""Apps with settings of a test's own, and clients that come from a given address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pasar.app import create_app
from tests.conftest import _truncate, make_settings

AppFactory = Callable[..., Any]


@pytest.fixture
async def app_with(database_url: str, tmp_path: Path) -> AsyncIterator[AppFactory]:
    """``await app_with(**settings)``: a started app on the test's database; several
    calls make several nodes sharing it."""
    async with AsyncExitStack() as stack:
        count = 0

        async def make(**extra: Any) -> FastAPI:
            nonlocal count
            count += 1
            settings = make_settings(database_url, tmp_path / f"data{count}", **extra)
            application = create_app(settings)
            if count == 1:
                await _truncate(application.state.services.db)
            await stack.enter_async_context(application.router.lifespan_context(application))
            return application

        yield make


def client_from(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client whose requests come from ``ip`` (what ``request.client.host`` says)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
