"""The default ladder in a real hls.js (the embed's player, 1.7) in Chromium: it
plays the multivariant playlist, leaves the audio-only rendition out, and
switches between the source and the 360p rung without stopping."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pasar.media import synthetic
from tests.conftest import service_missing
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.timeout(180)

HLS_JS = Path(__file__).resolve().parents[2] / "frontend/node_modules/hls.js/dist/hls.light.min.js"

# What the embed does (frontend/embed/playback.ts), plus a record of what hls.js saw.
PLAYER = """(src) => {
  const v = document.createElement('video');
  v.muted = true;
  document.body.appendChild(v);
  window.seen = { levels: null, switched: [], errors: [] };
  const h = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
  window.hls = h;
  h.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
    window.seen.levels = d.levels.map((l) => ({
      height: l.height, video: l.videoCodec || '', audio: l.audioCodec || '', url: l.url[0],
    }));
  });
  h.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => window.seen.switched.push(d.level));
  h.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.seen.errors.push(d.details); });
  h.loadSource(src);
  h.attachMedia(v);
  v.play().catch(() => {});
}"""


def wait_until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return value


@pytest.fixture(scope="module")
def on_air_480p(live_server: LiveServer) -> Iterator[str]:
    """A 854x480 publisher (above the default 360p rung) on the demo's live show;
    yields the show's multivariant playlist URL once the rung is in it."""
    stop = threading.Event()

    async def publish() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            session = await synthetic.publish(
                client,
                f"{live_server.url}/whip",
                live_server.demo.live_stream_key,
                width=854,
                height=480,
            )
            try:
                await asyncio.to_thread(stop.wait)
            finally:
                await session.stop()

    thread = threading.Thread(target=asyncio.run, args=(publish(),), daemon=True)
    thread.start()
    index = f"{live_server.url}/hls/{live_server.demo.live_show_id}/index.m3u8"

    def ladder_listed() -> bool:
        r = httpx.get(index, timeout=10)
        return r.status_code == 200 and "360p/live.m3u8" in r.text and "audio/" in r.text

    try:
        wait_until(ladder_listed, 60, "the 360p rung and the audio-only rendition")
        yield index
    finally:
        stop.set()
        thread.join(20)


def test_hls_js_plays_the_ladder_and_switches(on_air_480p: str, browser: Any) -> None:
    # (the server first: Playwright's loop would be running when it seeds the demo)
    if not HLS_JS.exists():
        service_missing("hls.js", "run scripts/setup.sh (npm ci in frontend/)")
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>ladder</title>")
        page.add_script_tag(path=str(HLS_JS))
        page.evaluate(PLAYER, on_air_480p)

        levels = wait_until(lambda: page.evaluate("window.seen.levels"), 30, "the manifest")
        # the audio-only rendition is listed but hls.js leaves it out: never picked
        assert sorted(lv["height"] for lv in levels) == [360, 480], levels
        assert all(re.match(r"avc1\.", lv["video"]) for lv in levels), levels
        assert not any("/audio/" in lv["url"] for lv in levels), levels

        def playing_past(t: float) -> Callable[[], bool]:
            return lambda: bool(
                page.evaluate(
                    "([t]) => { const v = document.querySelector('video');"
                    " return v.currentTime > t && v.readyState >= 2; }",
                    [t],
                )
            )

        wait_until(playing_past(1.0), 40, "playback")
        assert page.evaluate("window.seen.errors") == []
        for _ in range(2):  # down to the other rung, then back: playback goes on
            # currentLevel is -1 while hls.js has no level playing (between
            # fragments of a switch, or a stall): wait for the one it plays.
            current = (
                wait_until(
                    lambda: (page.evaluate("window.hls.currentLevel") + 1) or None,
                    30,
                    "a level playing",
                )
                - 1
            )
            other = 1 - current
            page.evaluate(f"window.hls.currentLevel = {other}")
            wait_until(
                lambda other=other: other in page.evaluate("window.seen.switched")[-1:],
                30,
                f"the switch to level {other}",
            )
            now = page.evaluate("document.querySelector('video').currentTime")
            wait_until(playing_past(now + 1.5), 30, f"playback on level {other}")
            height = levels[other]["height"]
            wait_until(
                lambda height=height: (
                    page.evaluate("document.querySelector('video').videoHeight") == height
                ),
                20,
                f"pictures of {height} lines",
            )
        assert page.evaluate("window.seen.errors") == []
    finally:
        page.close()
