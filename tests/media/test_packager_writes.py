"""What a packager writes to storage as parts come in (no video: its playlist
side, fed fragments directly)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from pasar.media.fmp4 import FragmentTiming
from pasar.media.packager import PackagerOptions, ShowPackager
from pasar.storage.local import LocalStorage


class CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root, "http://testserver/media")
        self.puts: Counter[str] = Counter()

    async def put(self, key: str, data: bytes) -> None:
        self.puts[key.rsplit("/", 1)[-1]] += 1
        await super().put(key, data)


async def test_legacy_playlist_is_written_per_segment_not_per_part(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    packager = ShowPackager("show_x", storage, PackagerOptions(segment_seconds=2.0))
    try:
        t = 0.0
        for i in range(36):  # three 2-s segments of 0.2-s parts, a keyframe every 10 parts
            timing = FragmentTiming(t, 0.2, i % 10 == 0)
            packager._on_fragment(0, 1_000_000.0, b"part", timing, timing.independent)
            t += 0.2
            await asyncio.sleep(0.02)  # the writer's turn (it keeps only the latest of a name)
    finally:
        await packager.finish()
    assert storage.puts["live.m3u8"] >= 30  # every part: Low-Latency players need it
    # none, then one per finished segment (3), then the recording at the end
    assert storage.puts["legacy.m3u8"] <= 5, storage.puts
