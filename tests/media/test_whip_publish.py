"""Publishing over WHIP with aiortc (the synthetic broadcast), and what a
player then gets: LL-HLS that decodes, a recording that replays."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import av
import httpx
import pytest
from fastapi import FastAPI

from pasar.media import synthetic
from tests.conftest import VendorCtx

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any, sqlite_template: Any) -> str:
    # Media does not touch the database beyond the show row; SQLite is enough.
    import shutil

    target = tmp_path / "pasar.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


async def new_show(client: httpx.AsyncClient, vendor: VendorCtx) -> tuple[str, str]:
    r = await client.post("/api/v1/shows", json={"title": "Live"}, headers=vendor.headers)
    assert r.status_code == 201, r.text
    show_id = r.json()["id"]
    r = await client.get(f"/api/v1/shows/{show_id}/ingest", headers=vendor.headers)
    return show_id, r.json()["stream_key"]


async def wait_for(check: Any, seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


def decode(data: bytes) -> tuple[int, int, tuple[int, int]]:
    """(video frames, audio frames, size) in an init + segment byte string."""
    video = audio = 0
    size = (0, 0)
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                video += 1
                size = (frame.width, frame.height)
            else:
                audio += 1
    return video, audio, size


async def test_aiortc_publish_plays_as_ll_hls_and_replays(
    client: httpx.AsyncClient, vendor: VendorCtx, app: FastAPI
) -> None:
    show_id, key = await new_show(client, vendor)
    session = await synthetic.publish(client, "http://testserver/whip", key)
    try:
        r = await client.get(f"/api/v1/shows/{show_id}", headers=vendor.headers)
        assert r.json()["state"] == "live"

        async def two_segments() -> str | None:
            r = await client.get(f"/hls/{show_id}/live.m3u8")
            return r.text if r.status_code == 200 and r.text.count("#EXTINF") >= 2 else None

        playlist = await wait_for(two_segments)
        assert "#EXT-X-PART:" in playlist and "#EXT-X-PRELOAD-HINT" in playlist
        init = (await client.get(f"/hls/{show_id}/init0.mp4")).content
        first = re.findall(r"^(s\d+\.m4s)$", playlist, re.M)[0]
        seg = await client.get(f"/hls/{show_id}/{first}")
        assert seg.headers["cache-control"].endswith("immutable")
        video, audio, size = decode(init + seg.content)
        assert size == (640, 360)
        assert video >= 20 and audio >= 20
        health = (
            await client.get(f"/api/v1/shows/{show_id}/stream", headers=vendor.headers)
        ).json()
        assert health["state"] == "live" and health["publisher"]["width"] == 640
    finally:
        await session.stop()
    r = await client.get(f"/api/v1/shows/{show_id}", headers=vendor.headers)
    assert r.json()["state"] == "replay"
    vod = (await client.get(f"/hls/{show_id}/live.m3u8")).text
    assert "#EXT-X-ENDLIST" in vod and "#EXT-X-PLAYLIST-TYPE:VOD" in vod
