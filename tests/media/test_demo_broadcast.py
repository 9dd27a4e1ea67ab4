"""`pasar demo` as a newcomer runs it: it serves, broadcasts its synthetic
show through the real WHIP path, and the live show plays as HLS."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.media.conftest import decode
from tests.servers import free_port


async def _snapshot(ws: Any) -> dict[str, Any]:
    while True:
        event = json.loads(await ws.recv())
        for e in event if isinstance(event, list) else [event]:
            if e["type"] == "snapshot":
                return dict(e["data"])


async def _shoppers_on_the_demo_show(base: str, show_id: str) -> None:
    """As the embed will do it: one shopper sees the pinned product and claims the
    deal over HTTP, getting the checkout URL; another's socket sees units fall."""
    ws_url = "ws" + base.removeprefix("http") + f"/ws/shows/{show_id}"
    async with connect(ws_url) as first, connect(ws_url) as second:
        for ws in (first, second):
            await ws.send(json.dumps({"type": "auth"}))  # a new guest each
        seen = await _snapshot(first)
        await _snapshot(second)
        assert seen["pinned_products"], "the demo pins a product"
        assert seen["pinned_products"][0]["product"]["variants"]
        deal = seen["deals"][0]
        guest = {"X-Pasar-Guest": seen["me"]["guest_token"], "Idempotency-Key": "demo-tap-1"}
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            r = await http.post(
                f"/api/v1/storefront/deals/{deal['deal_id']}/claims", json={}, headers=guest
            )
        assert r.status_code == 201, r.text
        reservation = r.json()
        assert reservation["id"] in (reservation["checkout_url"] or "")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(second.recv(), timeout=30))
            for e in frame if isinstance(frame, list) else [frame]:
                if e["type"] == "deal.updated" and e["data"]["deal_id"] == deal["deal_id"]:
                    assert e["data"]["units_left"] == deal["units_left"] - 1
                    return
        raise AssertionError("the second shopper never saw the units fall")


pytestmark = pytest.mark.timeout(120)


def test_demo_serves_a_live_synthetic_show(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PASAR_DATA_DIR": str(tmp_path), "PASAR_PORT": str(port)}
    env.pop("PASAR_DATABASE_URL", None)
    env.pop("PASAR_REDIS_URL", None)
    # The demo shop takes a port too: a free one, not whatever follows Pasar's.
    demo = subprocess.Popen(
        [sys.executable, "-m", "pasar", "demo", "--storefront-port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the broadcaster child is stopped with it
    )
    try:
        assert demo.stdout is not None
        out = ""
        while "live now" not in out:
            line = demo.stdout.readline()
            assert line, f"pasar demo exited early:\n{out}"
            out += line
        show_id = re.search(r"live now\s+\S+/watch/(\S+)", out)
        key = re.search(r"API key\s+(pk_\S+)", out)
        assert show_id and key, out
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        playlist = ""
        while time.monotonic() < deadline and playlist.count("#EXTINF") < 1:
            time.sleep(0.5)
            try:
                r = httpx.get(f"{base}/hls/{show_id[1]}/live.m3u8", timeout=10)
            except httpx.HTTPError:
                continue
            playlist = r.text if r.status_code == 200 else ""
        assert "#EXTINF" in playlist, "the demo's show never produced video"
        show = httpx.get(
            f"{base}/api/v1/shows/{show_id[1]}", headers={"Authorization": f"Bearer {key[1]}"}
        ).json()
        assert show["state"] == "live"
        segment = re.findall(r"^(s\d+\.m4s)$", playlist, re.M)[0]
        init = httpx.get(f"{base}/hls/{show_id[1]}/init0.mp4").content
        data = httpx.get(f"{base}/hls/{show_id[1]}/{segment}").content
        decoded = decode(init + data)
        assert decoded.video_frames > 10 and decoded.audio_frames > 10
        asyncio.run(_shoppers_on_the_demo_show(base, show_id[1]))
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)
