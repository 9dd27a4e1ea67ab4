"""Fixtures for media tests: apps with short media timings, real publishers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from fastapi import FastAPI

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner, open_services
from pasar.settings import Settings
from tests.conftest import _truncate as truncate
from tests.conftest import make_settings
from tests.servers import free_port, serving

# Media timings for tests. A publisher counts as dropped after production's 5 s
# without video: the publisher runs in the test's own process, and a busy machine
# (the suite runs in parallel workers) can hold a healthy one up for over a second.
# Tests of dropping set QUICK_DROP so they notice the drop sooner. The grace is
# long unless a test shortens it.
TIMINGS = {"publish_dead_seconds": 5.0, "publish_grace_seconds": 30}
QUICK_DROP = {"publish_dead_seconds": 1.5}


@dataclass
class Media:
    app: FastAPI
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def new_show(self, title: str = "Live") -> tuple[str, str]:
        r = await self.client.post("/api/v1/shows", json={"title": title}, headers=self.headers)
        assert r.status_code == 201, r.text
        show_id: str = r.json()["id"]
        r = await self.client.get(f"/api/v1/shows/{show_id}/ingest", headers=self.headers)
        return show_id, r.json()["stream_key"]

    async def state(self, show_id: str) -> str:
        r = await self.client.get(f"/api/v1/shows/{show_id}", headers=self.headers)
        state: str = r.json()["state"]
        return state

    async def health(self, show_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/shows/{show_id}/stream", headers=self.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


MediaFactory = Callable[..., Awaitable[Media]]


async def seed_vendor(services: Any, n: int = 1) -> str:
    async with services.db.session() as db:
        made = await add_vendor_with_owner(
            db,
            services,
            name=f"Toko {n}",
            slug=f"toko-{n}",
            email=f"owner{n}@toko.example",
            password="correct horse battery",
            currency="IDR",
            locale="id_ID",
        )
        await db.commit()
    return made.api_key


@pytest.fixture
async def media_factory(database_url: str, tmp_path: Path) -> AsyncIterator[MediaFactory]:
    """Apps with the fast media timings (override any setting per app)."""
    async with contextlib.AsyncExitStack() as stack:
        made = 0

        async def make(**overrides: Any) -> Media:
            nonlocal made
            made += 1
            settings = make_settings(
                database_url, tmp_path / f"data{made}", **{**TIMINGS, **overrides}
            )
            app = create_app(settings)
            if made == 1:
                await truncate(app.state.services.db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                )
            )
            key = await seed_vendor(app.state.services, made)
            return Media(app, client, {"Authorization": f"Bearer {key}"})

        yield make


@pytest.fixture
async def media(media_factory: MediaFactory) -> Media:
    return await media_factory()


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float = 20) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {check.__name__}")
        await asyncio.sleep(0.2)


@dataclass
class Decoded:
    video_frames: int
    audio_frames: int
    size: tuple[int, int]
    keyframes: int = 0


def decode(data: bytes) -> Decoded:
    """Decode init segment + media bytes the way a player would."""
    video = audio = keyframes = 0
    size = (0, 0)
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                video += 1
                keyframes += frame.key_frame
                size = (frame.width, frame.height)
            else:
                audio += 1
    return Decoded(video, audio, size, keyframes)


# -- a real server on a loopback port (for publishers in other processes) ----


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    port = free_port()
    db = tmp_path / "pasar.db"
    shutil.copy(sqlite_template, db)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        data_dir=tmp_path / "data",
        port=port,
        secret_key="media-test-secret",  # type: ignore[arg-type]
        auto_migrate=False,
        **TIMINGS,  # type: ignore[arg-type]
    )

    async def seed() -> str:
        async with open_services(settings) as services:
            return await seed_vendor(services)

    key = asyncio.run(seed())
    app = create_app(settings)
    with serving(app, port):
        yield LiveServer(f"http://127.0.0.1:{port}", app, key)
