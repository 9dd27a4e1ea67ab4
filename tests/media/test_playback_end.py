"""A player blocked at the live edge when the show ends gets the recording's
playlist (with ENDLIST), not an error (packager fed parts directly)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from pasar.media.fmp4 import FragmentTiming
from pasar.media.packager import PackagerOptions, ShowPackager, hls_key
from pasar.media.plane import MediaPlane
from pasar.media.playback import Playback, _listed
from pasar.storage.local import LocalStorage


async def test_a_blocking_reload_waiting_when_the_show_ends_gets_the_recording(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path, "http://testserver/media")
    packager = ShowPackager("show_e", storage, PackagerOptions(segment_seconds=2.0))
    plane: Any = SimpleNamespace(packagers={"show_e": packager}, ladders={})
    playback = Playback(cast(MediaPlane, plane), storage, hold_seconds=30)
    for i in range(12):  # a segment and a bit, in 0.2-s parts
        timing = FragmentTiming(i * 0.2, 0.2, i % 10 == 0)
        packager._on_fragment(0, 1_800_000_000.0, b"part", timing, timing.independent)
    await packager._writer._idle.wait()  # live, the playlist is in storage by now
    assert await storage.exists(hls_key("show_e", "live.m3u8"))
    # players at the live edge ask for the part after the last one (in the
    # segment being written), or the next segment's first part
    msn, part = packager.segments[-1].msn, len(packager.segments[-1].parts)
    requests = [
        asyncio.create_task(playback.media("show_e", True, msn, part)),
        asyncio.create_task(playback.media("show_e", True, msn + 1, 0)),
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(r.done() for r in requests)  # held: the parts do not exist yet

    await packager.finish()  # the show ends instead
    for request in requests:
        playlist = await asyncio.wait_for(request, 10)  # not the 30-s hold
        # was None (a 503) for the second, and a live playlist hinting at a part
        # that would never come for the first
        assert playlist is not None
        assert playlist.final and "#EXT-X-ENDLIST" in playlist.text
        assert "PRELOAD-HINT" not in playlist.text and "s1.m4s" in playlist.text


def test_from_storage_a_part_is_there_when_listed_not_when_hinted() -> None:
    """Another node (or this one once the packager is gone) answers a blocking
    request from storage: the preload hint names the part still to come, so it
    must not end the wait (it returned a stale playlist at the end of a show)."""
    text = '#EXT-X-PART:DURATION=0.2,URI="s1.1.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s1.2.m4s"\n'
    assert _listed(text, 1, 1)
    assert not _listed(text, 1, 2)
    assert _listed(text + "#EXT-X-ENDLIST\n", 1, 2)
    assert _listed("#EXTINF:2.0,\ns1.m4s\n", 1, 5)  # the whole segment is there
