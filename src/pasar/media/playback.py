"""What players are served, from whichever node they reach.

The node that holds a show's packager answers from memory, holding blocked
requests until the part they ask for exists. Every other node (and the same
node after a restart) answers from storage, where the packager writes each
part before the playlists that list it; a blocked request there polls.
After the show, the recording's VOD playlist is served everywhere.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from pasar.media.errors import MediaError
from pasar.media.ladder import AUDIO, maxrate, rung_height, rung_name
from pasar.media.packager import ShowPackager, hls_key
from pasar.media.plane import MediaPlane
from pasar.media.playlist import Variant, render_multivariant
from pasar.storage import Storage

CODECS = "avc1.42e01f,mp4a.40.2"  # when the stream is not at hand (another node)
AAC = "mp4a.40.2"
SOURCE_BANDWIDTH = 3_000_000  # what the publisher sends is not known up front; a ceiling
# the audio-only rendition: AAC at muxer.AAC_BITRATE plus the fMP4 around it
AUDIO_BANDWIDTH = 110_000
POLL_SECONDS = 0.1
PART_NAME = re.compile(r"^s(\d{1,9})\.(\d{1,4})\.m4s$")


@dataclass(frozen=True)
class Playlist:
    text: str
    final: bool  # the recording: cache it longer


def _not_found(what: str) -> MediaError:
    return MediaError("not_found", "not_found", f"{what} not found")


def _listed(text: str, msn: int, part: int | None) -> bool:
    if f"\ns{msn}.m4s\n" in text or "#EXT-X-ENDLIST" in text:
        return True
    # a part of its own, not the preload hint (which names the part to come)
    if part is None:
        return False
    return re.search(rf'#EXT-X-PART:[^\n]*URI="s{msn}\.{part}\.m4s"', text) is not None


class Playback:
    def __init__(self, plane: MediaPlane, storage: Storage, hold_seconds: float) -> None:
        self.plane = plane
        self.storage = storage
        self.hold_seconds = hold_seconds  # how long a blocking request may wait

    def _local(self, show_id: str, rendition: str = "") -> ShowPackager | None:
        if rendition:
            ladder = self.plane.ladders.get(show_id)
            packager = ladder.packagers.get(rendition) if ladder else None
        else:
            packager = self.plane.packagers.get(show_id)
        return packager if packager is not None and not packager.finished else None

    async def _get(self, show_id: str, name: str, rendition: str = "") -> bytes | None:
        key = hls_key(show_id, f"{rendition}/{name}" if rendition else name)
        return await self.storage.get(key)

    async def multivariant(self, show_id: str) -> Playlist:
        """The source first, then each ladder rung that exists, highest first, then
        the audio-only rendition (no RESOLUTION, CODECS of sound alone: hls.js leaves
        it out when there is video, Safari falls back to it on a very weak network)."""
        packager = self._local(show_id)
        if packager is not None and packager.video is not None:
            size = (packager.video.width, packager.video.height)
            codecs = f"{packager.video.codec},{AAC}"
            variants = [Variant("live.m3u8", SOURCE_BANDWIDTH, codecs, size)]
            ladder = self.plane.ladders.get(show_id)
            rungs = sorted(
                ladder.packagers.items() if ladder else [], key=lambda r: -rung_height(r[0])
            )
            for name, rung in rungs:
                if rung.finished or not rung.has_media:
                    continue
                if rung.audio_only:
                    variants.append(Variant(f"{name}/live.m3u8", AUDIO_BANDWIDTH, AAC, None))
                elif rung.video is not None:
                    size = (rung.video.width, rung.video.height)
                    rate = maxrate(size[1]) * 1000
                    codecs = f"{rung.video.codec},{AAC}"
                    variants.append(Variant(f"{name}/live.m3u8", rate, codecs, size))
            return Playlist(render_multivariant(variants), False)
        vod = await self._get(show_id, "vod.m3u8")
        if vod is None and await self._get(show_id, "live.m3u8") is None:
            raise _not_found("stream")
        variants = [Variant("live.m3u8", SOURCE_BANDWIDTH, CODECS, None)]
        for height in self.plane.ladder_heights:
            name = rung_name(height)
            if await self.storage.exists(hls_key(show_id, f"{name}/init0.mp4")):
                variants.append(Variant(f"{name}/live.m3u8", maxrate(height) * 1000, CODECS, None))
        if self.plane.ladder_audio and await self.storage.exists(
            hls_key(show_id, f"{AUDIO}/init0.mp4")
        ):
            variants.append(Variant(f"{AUDIO}/live.m3u8", AUDIO_BANDWIDTH, AAC, None))
        return Playlist(render_multivariant(variants), vod is not None)

    async def media(
        self,
        show_id: str,
        low_latency: bool,
        msn: int | None,
        part: int | None,
        rendition: str = "",
    ) -> Playlist | None:
        """The media playlist; None when a blocking request timed out (503)."""
        if part is not None and msn is None:
            raise MediaError("invalid", "bad_request", "_HLS_part needs _HLS_msn")
        blocking = msn is not None and low_latency
        packager = self._local(show_id, rendition)
        if packager is not None:
            if not packager.segments and not await packager.wait(
                lambda: bool(packager.segments), self.hold_seconds
            ):
                raise _not_found("stream")  # published, but no keyframe came
            ready = True
            if blocking:
                assert msn is not None
                if msn > packager.next_msn + 1:
                    raise MediaError("invalid", "bad_request", "_HLS_msn is too far ahead of live")
                ready = await packager.wait(lambda: packager.has(msn, part), self.hold_seconds)
            if not packager.finished:
                return Playlist(packager.live_playlist(low_latency), False) if ready else None
            # The show ended while the request waited: the answer is the recording's
            # playlist (ENDLIST; RFC 8216bis §6.2.5.2), from storage as soon as the
            # packager has written it. It was a 503 when the part asked for was never
            # to come (a player at the live edge then went into its error retries at
            # the very end), or a live playlist hinting at a part that never would.
        name = "live.m3u8" if low_latency else "legacy.m3u8"
        raw = await self._get(show_id, name, rendition)
        if raw is None:
            raise _not_found("stream")
        text = raw.decode()
        if blocking:
            assert msn is not None
            last = max((int(m) for m in re.findall(r"\ns(\d+)\.", text)), default=0)
            if msn > last + 2:
                raise MediaError("invalid", "bad_request", "_HLS_msn is too far ahead of live")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.hold_seconds
            while not _listed(text, msn, part):
                if loop.time() > deadline:
                    return None
                await asyncio.sleep(POLL_SECONDS)
                text = (await self._get(show_id, name, rendition) or raw).decode()
        return Playlist(text, "#EXT-X-ENDLIST" in text)

    async def part(self, show_id: str, name: str, rendition: str = "") -> bytes:
        """A part; the preload-hinted next part is held until it exists."""
        m = PART_NAME.match(name)
        if m is None:
            raise _not_found("part")
        msn, index = int(m[1]), int(m[2])
        packager = self._local(show_id, rendition)
        if packager is not None:
            if msn <= packager.next_msn and not packager.has(msn, index):
                await packager.wait(lambda: packager.has(msn, index), self.hold_seconds)
            data = packager.part(msn, index)
            if data is None:
                raise _not_found("part")
            return data
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hold_seconds
        while (data := await self._get(show_id, name, rendition)) is None:
            live = await self._get(show_id, "live.m3u8", rendition)
            if live is None or b"#EXT-X-ENDLIST" in live or loop.time() > deadline:
                raise _not_found("part")
            await asyncio.sleep(POLL_SECONDS)
        return data

    async def file(self, show_id: str, name: str, rendition: str = "") -> bytes:
        data = await self._get(show_id, name, rendition)
        if data is None:
            raise _not_found("file")
        return data
