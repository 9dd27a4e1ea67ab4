"""The ladder: lower renditions and an audio-only one for weak networks, next to
the source; on by default."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from pydantic import ValidationError

from pasar.media import synthetic
from pasar.media.ladder import maxrate
from pasar.settings import Settings, ladder_has_audio, parse_ladder
from tests.media.conftest import Decoded, MediaFactory, decode, wait_for

pytestmark = pytest.mark.timeout(120)


def test_ladder_setting_is_checked() -> None:
    assert parse_ladder(" 360p, 720P,360p ") == [720, 360]
    assert parse_ladder("") == []
    assert Settings(hls_ladder="360p,720p").hls_ladder == "720p,360p"
    assert Settings(hls_ladder="audio, 360p").hls_ladder == "360p,audio"
    assert parse_ladder("360p,audio") == [360] and ladder_has_audio("360p,AUDIO")
    assert not Settings(hls_ladder="").hls_ladder_audio
    for bad in ("720", "abc", "99999p", "720p;360p", "audio2"):
        with pytest.raises((ValueError, ValidationError)):
            Settings(hls_ladder=bad)
    assert maxrate(360) < maxrate(720) < maxrate(1080)


def test_the_ladder_is_on_by_default() -> None:
    """A 360p rung and the audio-only rendition, unless configured otherwise."""
    defaults = Settings.model_fields["hls_ladder"].default
    assert defaults == "360p,audio"
    settings = Settings()
    assert settings.hls_ladder_heights == [360] and settings.hls_ladder_audio


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
                if decoded.video_frames >= 10:
                    return decoded
            return None

        decoded = await wait_for(segment_with_pictures, 30)
        assert decoded.size == (426, 240)
        # one encoder for the rung, not one per picture: a segment starts on a
        # keyframe and has about one (a source keyframe may force another)
        assert 1 <= decoded.keyframes <= 2 < decoded.video_frames
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


def _report(text: str, uri: str) -> tuple[int, int] | None:
    m = re.search(
        rf'#EXT-X-RENDITION-REPORT:URI="{re.escape(uri)}",LAST-MSN=(\d+),LAST-PART=(\d+)', text
    )
    return (int(m[1]), int(m[2])) if m else None


async def test_audio_only_rendition_and_rendition_reports(media_factory: MediaFactory) -> None:
    media = await media_factory(hls_ladder="240p,audio")
    show_id, key = await media.new_show()
    client = media.client
    session = await synthetic.publish(client, "http://testserver/whip", key)
    try:

        async def everything_playing() -> str | None:
            for path in ("live.m3u8", "240p/live.m3u8", "audio/live.m3u8"):
                r = await client.get(f"/hls/{show_id}/{path}")
                if r.status_code != 200 or r.text.count("#EXTINF") < 2:
                    return None
            return (await client.get(f"/hls/{show_id}/index.m3u8")).text

        index = await wait_for(everything_playing, 40)
        # the source first (where hls.js starts), the audio-only rendition last,
        # with no resolution and the codec of sound alone
        uris = re.findall(r"^(\S+\.m3u8)$", index, re.M)
        assert uris == ["live.m3u8", "240p/live.m3u8", "audio/live.m3u8"]
        assert index.splitlines()[-2] == '#EXT-X-STREAM-INF:BANDWIDTH=110000,CODECS="mp4a.40.2"'

        audio = (await client.get(f"/hls/{show_id}/audio/live.m3u8")).text
        assert "#EXT-X-PART-INF:PART-TARGET=" in audio and "#EXT-X-PRELOAD-HINT" in audio
        parts = re.findall(r"#EXT-X-PART:DURATION=[\d.]+,URI=\S+", audio)
        assert parts and all(p.endswith(",INDEPENDENT=YES") for p in parts)
        target = float(re.search(r"PART-TARGET=([\d.]+)", audio)[1])  # type: ignore[index]
        for d in re.findall(r"#EXT-X-PART:DURATION=([\d.]+)", audio):
            assert float(d) <= target + 1e-6
        for d in re.findall(r"#EXTINF:([\d.]+),", audio):
            assert round(float(d)) <= 2  # within the target duration
        init = (await client.get(f"/hls/{show_id}/audio/init0.mp4")).content
        name = re.findall(r"^(s\d+\.m4s)$", audio, re.M)[-1]
        decoded = decode(init + (await client.get(f"/hls/{show_id}/audio/{name}")).content)
        assert decoded.video_frames == 0 and decoded.audio_frames > 40

        # each Low-Latency playlist reports the others (RFC 8216bis §4.4.5.4);
        # a report is at most a part or so behind that rendition's own playlist
        source = (await client.get(f"/hls/{show_id}/live.m3u8")).text
        rung = (await client.get(f"/hls/{show_id}/240p/live.m3u8")).text
        assert _report(source, "240p/live.m3u8") and _report(source, "audio/live.m3u8")
        assert _report(rung, "../live.m3u8") and _report(rung, "../audio/live.m3u8")
        assert _report(audio, "../live.m3u8") and _report(audio, "../240p/live.m3u8")
        reported_uris = re.findall(r'RENDITION-REPORT:URI="([^"]*)"', source)
        assert sorted(reported_uris) == ["240p/live.m3u8", "audio/live.m3u8"]  # not itself
        reported = _report(source, "audio/live.m3u8")
        assert reported is not None
        audio_now = (await client.get(f"/hls/{show_id}/audio/live.m3u8")).text
        last_msn = max(int(m) for m in re.findall(r'URI="s(\d+)\.\d+\.m4s"', audio_now))
        assert last_msn - 1 <= reported[0] <= last_msn
        legacy = (await client.get(f"/hls/{show_id}/legacy.m3u8")).text
        assert "RENDITION-REPORT" not in legacy

        # the audio-only segments start where the video's do: same MSN, same
        # stretch of the show. Up to a source segment longer than the target
        # duration, if any (its keyframe came late: the publisher's to send), which
        # the audio-only rendition splits to stay within the target, so that the
        # numbers after it cannot match.
        def numbered(text: str, pattern: str) -> dict[int, str]:
            seq = int(re.search(r"MEDIA-SEQUENCE:(\d+)", text)[1])  # type: ignore[index]
            return dict(enumerate(re.findall(pattern, text), seq))

        video_starts = numbered(source, r"PROGRAM-DATE-TIME:(\S+)")
        audio_starts = numbered(audio_now, r"PROGRAM-DATE-TIME:(\S+)")
        too_long = [
            m for m, d in numbered(source, r"#EXTINF:([\d.]+),").items() if round(float(d)) > 2
        ]
        common = {m for m in set(video_starts) & set(audio_starts) if m <= min(too_long, default=m)}
        assert common
        for msn in common:
            gap = datetime.fromisoformat(video_starts[msn]) - datetime.fromisoformat(
                audio_starts[msn]
            )
            assert abs(gap.total_seconds()) < 0.3, (msn, video_starts[msn], audio_starts[msn])
        health = (await media.health(show_id))["publisher"]
        assert health["renditions"] == ["240p", "audio"]
    finally:
        await session.stop()
