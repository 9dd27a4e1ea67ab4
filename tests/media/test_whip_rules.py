"""WHIP's contract (RFC 9725) at its edges: keys, content types, a second
publisher, finished shows, codecs, CORS; and dropouts with their grace."""

from __future__ import annotations

import io
import re

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender

from pasar.media import rtc_adapter, synthetic
from tests.media.conftest import QUICK_DROP, Media, MediaFactory, decode, wait_for

pytestmark = pytest.mark.timeout(120)


async def offer(codec: str = "video/H264") -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver(synthetic.TestPatternTrack(), direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video")
    for t in pc.getTransceivers():
        t.setCodecPreferences([c for c in caps.codecs if c.mimeType == codec])
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def whip_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"}


def sessions(media: Media) -> int:
    return sum(not p.closed for p in media.app.state.services.media.publishers.values())


async def test_bad_publish_requests_are_refused_and_start_nothing(media: Media) -> None:
    show_id, key = await media.new_show()
    client = media.client
    sdp = await offer()
    vp9 = (await offer("video/VP8")).replace("VP8/90000", "VP9/90000")  # nothing we take
    cases = [
        ({"Content-Type": "application/sdp"}, sdp, 401, "unauthorized"),
        (whip_headers("live_not-a-real-key"), sdp, 401, "unauthorized"),
        (whip_headers("pk_an-api-key-is-not-a-stream-key"), sdp, 401, "unauthorized"),
        ({**whip_headers(key), "Content-Type": "application/json"}, sdp, 415, None),
        (whip_headers(key), "hello", 400, "bad_sdp"),
        (whip_headers(key), "v=0\r\nthis is not sdp\r\n", 400, "no_video"),
        (whip_headers(key), "v=0\r\n" + "a=x\r\n" * 20_000, 413, "too_large"),
        (whip_headers(key), vp9, 400, "unsupported_codec"),
    ]
    for headers, body, status, code in cases:
        r = await client.post("/whip", content=body, headers=headers)
        assert r.status_code == status, (status, r.text)
        error = r.json()["error"]
        assert error["message"]
        if code:
            assert error["code"] == code
    assert sessions(media) == 0
    assert await media.state(show_id) == "scheduled"


async def test_cors_preflight_and_no_trickle(media: Media) -> None:
    r = await media.client.options(
        "/whip",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in r.headers["access-control-allow-headers"]
    assert "Location" in r.headers["access-control-expose-headers"]
    assert r.headers["accept-post"] == "application/sdp"
    r = await media.client.patch("/whip/whip_x", content="a=candidate")
    assert r.status_code == 405


async def test_second_publisher_gets_409_and_the_first_keeps_going(media: Media) -> None:
    show_id, key = await media.new_show()
    first = await synthetic.publish(media.client, "http://testserver/whip", key)
    try:

        async def live() -> bool:
            return await media.state(show_id) == "live"

        await wait_for(live)
        r = await media.client.post("/whip", content=await offer(), headers=whip_headers(key))
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "publisher_active"
        assert (await media.health(show_id))["publisher"]["session_id"] in first.location
    finally:
        await first.stop()


async def test_delete_needs_the_key_of_the_session(media: Media) -> None:
    _show_id, key = await media.new_show()
    other_id, other_key = await media.new_show("Other")
    session = await synthetic.publish(media.client, "http://testserver/whip", key)
    try:
        path = re.sub(r"^https?://[^/]+", "", session.location)
        r = await media.client.delete(path, headers={"Authorization": f"Bearer {other_key}"})
        assert r.status_code == 404
        r = await media.client.delete(path)
        assert r.status_code == 401
        r = await media.client.delete("/whip/whip_nope", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 404
        assert await media.state(other_id) == "scheduled"
    finally:
        await session.stop()


async def test_ended_show_refuses_publishers(media: Media) -> None:
    show_id, key = await media.new_show()
    for to in ("live", "ended"):
        r = await media.client.post(
            f"/api/v1/shows/{show_id}/transitions", json={"to": to}, headers=media.headers
        )
        assert r.status_code == 200
    r = await media.client.post("/whip", content=await offer(), headers=whip_headers(key))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "show_over"


async def test_dropout_reconnects_into_the_same_show_and_recording(
    media_factory: MediaFactory,
) -> None:
    media = await media_factory(**QUICK_DROP)
    show_id, key = await media.new_show()
    client = media.client
    first = await synthetic.publish(client, "http://testserver/whip", key)

    async def segments(n: int) -> bool:
        r = await client.get(f"/hls/{show_id}/live.m3u8")
        return r.status_code == 200 and r.text.count("#EXTINF") >= n

    await wait_for(lambda: segments(1))
    await first.stop(end_show=False)  # the network drops: no DELETE

    async def reconnecting() -> bool:
        return (await media.health(show_id))["state"] == "reconnecting"

    await wait_for(reconnecting)
    assert await media.state(show_id) == "live"  # not ended: viewers wait

    second = await synthetic.publish(client, "http://testserver/whip", key)
    try:

        async def new_run() -> str | None:
            r = await client.get(f"/hls/{show_id}/live.m3u8")
            text = r.text
            ok = '#EXT-X-MAP:URI="init1.mp4"' in text and "#EXTINF" in text.split("init1.mp4")[1]
            return text if ok else None

        playlist = await wait_for(new_run)
        assert "#EXT-X-DISCONTINUITY\n" in playlist
        assert (await media.health(show_id))["state"] == "live"
    finally:
        await second.stop()

    async def replay() -> bool:
        return await media.state(show_id) == "replay"

    await wait_for(replay)
    vod = (await client.get(f"/hls/{show_id}/live.m3u8")).text
    assert vod.index("init0.mp4") < vod.index("#EXT-X-DISCONTINUITY") < vod.index("init1.mp4")


async def test_a_publisher_that_never_returns_ends_the_show(media_factory: MediaFactory) -> None:
    media = await media_factory(publish_grace_seconds=1, **QUICK_DROP)
    show_id, key = await media.new_show()
    session = await synthetic.publish(media.client, "http://testserver/whip", key)

    async def recorded() -> bool:
        r = await media.client.get(f"/hls/{show_id}/live.m3u8")
        return r.status_code == 200 and "#EXTINF" in r.text

    await wait_for(recorded)
    await session.stop(end_show=False)

    async def replay() -> bool:
        return await media.state(show_id) == "replay"

    await wait_for(replay)
    assert (await media.health(show_id))["state"] == "offline"


async def test_studio_end_stops_the_publisher_and_publishes_the_replay(media: Media) -> None:
    show_id, key = await media.new_show()
    session = await synthetic.publish(media.client, "http://testserver/whip", key)
    try:

        async def recorded() -> bool:
            r = await media.client.get(f"/hls/{show_id}/live.m3u8")
            return r.status_code == 200 and "#EXTINF" in r.text

        await wait_for(recorded)
        r = await media.client.post(
            f"/api/v1/shows/{show_id}/transitions", json={"to": "ended"}, headers=media.headers
        )
        assert r.status_code == 200
        assert await media.state(show_id) == "replay"
        assert sessions(media) == 0
    finally:
        await session.pc.close()


async def test_vp8_is_transcoded_to_h264(media: Media) -> None:
    show_id, key = await media.new_show()
    session = await synthetic.publish(media.client, "http://testserver/whip", key, codec="VP8")
    try:

        async def segment() -> str | None:
            r = await media.client.get(f"/hls/{show_id}/live.m3u8")
            return r.text if r.status_code == 200 and "#EXTINF" in r.text else None

        playlist = await wait_for(segment)
        health = (await media.health(show_id))["publisher"]
        assert health["codec"] == "VP8" and health["transcoding"] is True
        init = (await media.client.get(f"/hls/{show_id}/init0.mp4")).content
        first = re.findall(r"^(s\d+\.m4s)$", playlist, re.M)[0]
        data = (await media.client.get(f"/hls/{show_id}/{first}")).content
        decoded = decode(init + data)
        assert decoded.size == (640, 360) and decoded.video_frames > 10
        with av.open(io.BytesIO(init)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    finally:
        await session.stop()


def test_the_aiortc_internals_we_rely_on_are_there() -> None:
    rtc_adapter.check()  # fails loudly after an aiortc upgrade that moved them


def test_tapping_a_receiver_without_the_internal_queue_fails_loudly() -> None:
    class NotAReceiver:
        pass

    with pytest.raises(rtc_adapter.IncompatibleAiortc):
        rtc_adapter.tap_encoded_frames(NotAReceiver(), lambda *a: None, lambda m: False)  # type: ignore[arg-type]


async def test_whip_is_refused_when_an_external_media_server_takes_the_streams(
    media_factory: MediaFactory,
) -> None:
    media = await media_factory(
        media_server="nginx-rtmp",
        media_server_hls_url="http://media.example/hls/{show_id}/index.m3u8",
        media_hook_secret="a-long-enough-hook-secret",
    )
    show_id, key = await media.new_show()
    r = await media.client.post("/whip", content=await offer(), headers=whip_headers(key))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "external_media_server"
    assert await media.state(show_id) == "scheduled"
