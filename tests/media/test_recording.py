"""The recording after the show: timeline, MP4 download, retention, deletion."""

from __future__ import annotations

import asyncio
import io
import itertools
from datetime import datetime, timedelta

import av
import pytest
from sqlalchemy import update

from pasar.clock import utcnow
from pasar.media import synthetic
from pasar.shows.models import Show
from tests.media.conftest import QUICK_DROP, Media, MediaFactory, wait_for

pytestmark = pytest.mark.timeout(120)


async def record(media: Media, *, dropout: bool = False) -> str:
    """Publish a few seconds (with a reconnect when asked) and end the show."""
    show_id, key = await media.new_show()
    client = media.client

    async def segments() -> bool:
        r = await client.get(f"/hls/{show_id}/live.m3u8")
        return r.status_code == 200 and r.text.count("#EXTINF") >= 2

    session = await synthetic.publish(client, "http://testserver/whip", key)
    await wait_for(segments)
    if dropout:
        await session.stop(end_show=False)

        async def reconnecting() -> bool:
            return (await media.health(show_id))["state"] == "reconnecting"

        await wait_for(reconnecting)
        # Stay away a little longer: a run's wall clock is anchored at its first
        # packet's arrival, which a loaded machine can delay by a second or more,
        # and that delay would eat into the hole the test looks for.
        await asyncio.sleep(2.0)
        session = await synthetic.publish(client, "http://testserver/whip", key)

        async def second_run() -> bool:
            text = (await client.get(f"/hls/{show_id}/live.m3u8")).text
            return "init1.mp4" in text and "#EXTINF" in text.split("init1.mp4")[1]

        await wait_for(second_run)
    await session.stop()

    async def replay() -> bool:
        return await media.state(show_id) == "replay"

    await wait_for(replay)
    return show_id


async def test_recording_has_a_timeline_and_an_mp4_of_every_run(
    media_factory: MediaFactory,
) -> None:
    media = await media_factory(**QUICK_DROP)
    show_id = await record(media, dropout=True)

    async def mp4_ready() -> dict[str, object] | None:
        r = await media.client.get(f"/api/v1/shows/{show_id}/recording", headers=media.headers)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body if body["mp4_status"] == "ready" else None

    body = await wait_for(mp4_ready, 60)
    timeline = body["timeline"]
    assert isinstance(timeline, list) and len(timeline) >= 3
    assert body["hls_url"] == f"http://testserver/hls/{show_id}/index.m3u8"
    assert body["delete_after"] is None
    total = sum(e["duration"] for e in timeline)
    assert body["duration"] == pytest.approx(total, abs=0.01)
    # the dropout shows up as a wall-clock gap between runs, not as media time
    gaps = [
        (
            datetime.fromisoformat(b["wall_clock"]) - datetime.fromisoformat(a["wall_clock"])
        ).total_seconds()
        - a["duration"]
        for a, b in itertools.pairwise(timeline)
    ]
    assert all(gap > -0.1 for gap in gaps)  # wall clock only moves forward
    # the reconnect left a hole in wall-clock time that media time skips
    assert max(gaps) > 0.05

    mp4_url = str(body["mp4_url"])
    assert mp4_url.startswith("http://testserver/media/hls/")
    mp4 = await media.client.get(mp4_url.removeprefix("http://testserver"))
    assert mp4.status_code == 200
    with av.open(io.BytesIO(mp4.content)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.demux(video) if _.size)
        assert container.duration is not None
        seconds = container.duration / 1_000_000
    assert seconds == pytest.approx(total, abs=0.5)  # both runs, back to back
    assert frames >= 25 * total * 0.8


async def test_no_recording_before_anything_was_published(media: Media) -> None:
    show_id, _ = await media.new_show()
    r = await media.client.get(f"/api/v1/shows/{show_id}/recording", headers=media.headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "this show has no recording"


async def test_retention_deletes_old_recordings_only(media_factory: MediaFactory) -> None:
    media = await media_factory(recording_retention_days=7)
    old = await record(media)
    recent = await record(media)
    link = media.app.state.services.show_link
    async with media.app.state.services.db.session() as db:
        await db.execute(
            update(Show).where(Show.id == old).values(ended_at=utcnow() - timedelta(days=8))
        )
        await db.commit()
    r = await media.client.get(f"/api/v1/shows/{recent}/recording", headers=media.headers)
    assert r.json()["delete_after"] is not None
    assert await link.sweep() == [old]
    for show_id, status in ((old, 404), (recent, 200)):
        r = await media.client.get(f"/api/v1/shows/{show_id}/recording", headers=media.headers)
        assert r.status_code == status
        r = await media.client.get(f"/hls/{show_id}/live.m3u8")
        assert r.status_code == status
    assert await link.sweep() == []


async def test_deleting_a_show_deletes_its_recording(media: Media) -> None:
    show_id = await record(media)
    assert (await media.client.get(f"/hls/{show_id}/init0.mp4")).status_code == 200
    r = await media.client.delete(f"/api/v1/shows/{show_id}", headers=media.headers)
    assert r.status_code == 204
    assert (await media.client.get(f"/hls/{show_id}/init0.mp4")).status_code == 404
    assert (await media.client.get(f"/hls/{show_id}/live.m3u8")).status_code == 404
