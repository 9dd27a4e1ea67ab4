"""The optional ladder: lower renditions for weak networks, next to the source."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from pasar.media import synthetic
from pasar.media.ladder import maxrate
from pasar.settings import Settings, parse_ladder
from tests.media.conftest import Decoded, MediaFactory, decode, wait_for

pytestmark = pytest.mark.timeout(120)


def test_ladder_setting_is_checked() -> None:
    assert parse_ladder(" 360p, 720P,360p ") == [720, 360]
    assert parse_ladder("") == []
    assert Settings(hls_ladder="360p,720p").hls_ladder == "720p,360p"
    for bad in ("720", "abc", "99999p", "720p;360p"):
        with pytest.raises((ValueError, ValidationError)):
            Settings(hls_ladder=bad)
    assert maxrate(360) < maxrate(720) < maxrate(1080)


async def test_rungs_below_the_source_are_served_beside_it(media_factory: MediaFactory) -> None:
    media = await media_factory(hls_ladder="720p,240p")  # the source is 360p: no 720p
    show_id, key = await media.new_show()
    client = media.client
    session = await synthetic.publish(client, "http://testserver/whip", key)
    try:

        async def rung_playing() -> str | None:
            r = await client.get(f"/hls/{show_id}/240p/live.m3u8")
            return r.text if r.status_code == 200 and "#EXTINF" in r.text else None

        playlist = await wait_for(rung_playing, 30)
        assert "#EXT-X-PART:" in playlist and "#EXT-X-PRELOAD-HINT" in playlist
        index = (await client.get(f"/hls/{show_id}/index.m3u8")).text
        variants = re.findall(r"RESOLUTION=(\d+x\d+)\n(\S+)", index)
        assert variants == [("640x360", "live.m3u8"), ("426x240", "240p/live.m3u8")]
        init = (await client.get(f"/hls/{show_id}/240p/init0.mp4")).content

        async def segment_with_pictures() -> Decoded | None:
            """A rung segment that has pictures. A busy machine drops rung pictures
            (never the source's), so the first segment may have few or none."""
            text = (await client.get(f"/hls/{show_id}/240p/live.m3u8")).text
            for name in re.findall(r"^(s\d+\.m4s)$", text, re.M):
                data = (await client.get(f"/hls/{show_id}/240p/{name}")).content
                decoded = decode(init + data)
                if decoded.video_frames:
                    return decoded
            return None

        decoded = await wait_for(segment_with_pictures, 30)
        assert decoded.size == (426, 240)
        assert decoded.audio_frames > 10  # every rendition carries the sound
        health = (await media.health(show_id))["publisher"]
        assert health["renditions"] == ["240p"] and health["transcoding"] is False
        assert (await client.get(f"/hls/{show_id}/720p/live.m3u8")).status_code == 404
        assert (await client.get(f"/hls/{show_id}/junk/live.m3u8")).status_code == 404
    finally:
        await session.stop()

    async def replay() -> bool:
        return await media.state(show_id) == "replay"

    await wait_for(replay)
    vod = (await client.get(f"/hls/{show_id}/240p/live.m3u8")).text
    assert vod.endswith("#EXT-X-ENDLIST\n")
    index = (await client.get(f"/hls/{show_id}/index.m3u8")).text
    assert "240p/live.m3u8" in index and "720p" not in index
