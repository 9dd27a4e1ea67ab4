"""A live show on S3 storage, end to end: two nodes share a bucket (on the S3
emulator) and a database; the publisher reaches node A, players reach node B,
which holds no packager and serves everything from the bucket."""

from __future__ import annotations

import json
import re

import pytest

from pasar.media import synthetic
from pasar.storage.s3 import IMMUTABLE
from tests.media.conftest import Media, MediaFactory, decode, wait_for
from tests.media.s3.conftest import Emulator

pytestmark = pytest.mark.timeout(180)


async def test_a_show_on_s3_plays_from_another_node_and_replays(
    media_factory: MediaFactory, emulator: Emulator, bucket: str
) -> None:
    a: Media = await media_factory(**emulator.settings(bucket))
    b: Media = await media_factory(**emulator.settings(bucket))
    s3 = emulator.client()
    show_id, key = await a.new_show()
    prefix = f"hls/{show_id}/"
    session = await synthetic.publish(a.client, "http://testserver/whip", key)
    try:

        async def two_segments_on_b() -> str | None:
            r = await b.client.get(f"/hls/{show_id}/live.m3u8")
            ok = r.status_code == 200 and r.text.count("#EXTINF") >= 2
            return r.text if ok else None

        text = await wait_for(two_segments_on_b, 40)
        assert show_id in a.app.state.services.media.packagers
        assert show_id not in b.app.state.services.media.packagers
        assert "#EXT-X-PART:" in text and "#EXT-X-PRELOAD-HINT" in text

        # what the packager wrote is in the bucket, typed and cacheable for a CDN
        names = {k.removeprefix(prefix) for k in emulator.keys(bucket, prefix)}
        for name in ("init0.mp4", "s0.m4s", "live.m3u8", "legacy.m3u8", "recording.json"):
            assert name in names, (name, sorted(names))
        assert any(re.fullmatch(r"s\d+\.\d+\.m4s", n) for n in names), sorted(names)
        live = s3.head_object(Bucket=bucket, Key=f"{prefix}live.m3u8")
        assert live["ContentType"] == "application/vnd.apple.mpegurl"
        assert live["CacheControl"] == "public, max-age=1"
        segment = s3.head_object(Bucket=bucket, Key=f"{prefix}s0.m4s")
        assert (segment["ContentType"], segment["CacheControl"]) == ("video/mp4", IMMUTABLE)
        index = s3.head_object(Bucket=bucket, Key=f"{prefix}recording.json")
        assert index["CacheControl"] == "no-cache"

        # a blocking reload on B waits for A's next part to reach the bucket
        last = max(int(m) for m in re.findall(r'URI="s(\d+)\.\d+\.m4s"', text))
        r = await b.client.get(
            f"/hls/{show_id}/live.m3u8", params={"_HLS_msn": last + 1, "_HLS_part": 0}
        )
        assert r.status_code == 200 and f'URI="s{last + 1}.0.m4s"' in r.text
        hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="(s\d+\.\d+\.m4s)"', r.text)
        assert hint is not None
        part = await b.client.get(f"/hls/{show_id}/{hint[1]}")  # held until written
        assert part.status_code == 200 and part.content[4:8] == b"moof"
        init = await b.client.get(f"/hls/{show_id}/init0.mp4")
        first = re.findall(r"^(s\d+\.m4s)$", r.text, re.M)[0]
        data = await b.client.get(f"/hls/{show_id}/{first}")
        assert decode(init.content + data.content).video_frames > 10
    finally:
        await session.stop()  # WHIP DELETE: ends the show

    async def ended_on_b() -> str | None:
        r = await b.client.get(f"/hls/{show_id}/live.m3u8")
        return r.text if "#EXT-X-ENDLIST" in r.text else None

    vod = await wait_for(ended_on_b, 40)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod
    stored_vod = s3.get_object(Bucket=bucket, Key=f"{prefix}vod.m3u8")["Body"].read().decode()
    assert stored_vod == vod
    segments = re.findall(r"^(s\d+\.m4s)$", vod, re.M)
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{prefix}recording.json")["Body"].read()
    )
    assert [row["uri"] for row in manifest["segments"]] == segments
    # parts were only for the live edge: none is left once the show is over
    leftover = [k for k in emulator.keys(bucket, prefix) if re.search(r"s\d+\.\d+\.m4s$", k)]
    assert not leftover

    async def recording_ready() -> dict[str, str] | None:
        # node B, with the show owner's key (the same database)
        r = await b.client.get(f"/api/v1/shows/{show_id}/recording", headers=a.headers)
        body: dict[str, str] = r.json()
        return body if r.status_code == 200 and body.get("mp4_status") == "ready" else None

    recording = await wait_for(recording_ready, 60)
    # the MP4 export went up through put_file, and its link is the bucket's URL
    assert recording["mp4_url"] == f"{emulator.endpoint}/{bucket}/{prefix}recording.mp4"
    mp4 = s3.head_object(Bucket=bucket, Key=f"{prefix}recording.mp4")
    assert mp4["ContentType"] == "video/mp4" and mp4["ContentLength"] > 10_000
