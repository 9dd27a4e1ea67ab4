"""The adaptive-bitrate ladder: lower renditions (360p by default) encoded
from the publisher's video, each packaged like the source, so shoppers on weak
mobile networks keep watching, and an audio-only rendition (no transcoding:
the sound of the source, for players that fall back to it). On by default
(``PASAR_HLS_LADDER=360p,audio``): the source is always served as is, and only
rungs below its height are made.

One decoder thread turns the source into pictures; each rung has its own
encoder thread and its own packager (``hls/{show_id}/{rung}/…``); the
audio-only rendition is one more packager (``hls/{show_id}/audio/…``). The
sound is encoded to AAC once, by the source's packager, and every rendition
muxes those frames (``aac_frame``). What
keeps a rung cheap (measured in docs/benchmarks.md, Ingest CPU): the decoder
skips the deblocking filter (the picture is about to be scaled down anyway)
and uses no frame threads (each would hold a picture back), the scaler is
swscale's area averaging (as cheap as fast bilinear, and right for halving),
and x264 runs ``superfast`` on one thread, opened once per picture size.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

from pasar.media.muxer import is_keyframe, sps
from pasar.media.packager import PackagerOptions, ShowPackager
from pasar.media.transcode import H264Encoder
from pasar.storage import Storage

log = logging.getLogger(__name__)

# a rung's bitrate cap (kb/s) by height; about what the big platforms use
MAXRATE = {1080: 4500, 720: 2500, 540: 1600, 480: 1200, 360: 800, 240: 400}
AUDIO = "audio"  # the audio-only rendition's directory
# x264 for a rung: see the module's docstring
RUNG_PRESET = "superfast"
RUNG_THREADS = 1
RUNG_SCALER = "AREA"
DECODER_OPTIONS = {"skip_loop_filter": "all"}


def rung_name(height: int) -> str:
    return f"{height}p"


def rung_height(name: str) -> int:
    """Sort key of a rendition: its height (the audio-only one is the lowest)."""
    return int(name[:-1]) if name.endswith("p") and name[:-1].isdigit() else 0


def maxrate(height: int) -> int:
    return next((rate for h, rate in sorted(MAXRATE.items()) if height <= h), 4500)


class Ladder:
    def __init__(
        self,
        show_id: str,
        storage: Storage,
        options: PackagerOptions,
        heights: list[int],
        *,
        audio_only: bool = False,
        source: ShowPackager | None = None,
    ) -> None:
        """``source``: the packager of the publisher's own stream, whose segments
        the audio-only rendition follows, and whose rendition group the ladder's
        packagers join."""
        self.show_id = show_id
        self._storage = storage
        self._options = options
        self._heights = heights
        self._loop = asyncio.get_running_loop()
        # the show's renditions, the source's packager first (rendition reports)
        self._source = source
        self._group: list[ShowPackager] = source.group if source is not None else []
        self.packagers: dict[str, ShowPackager] = {}
        self._encoders: dict[str, H264Encoder] = {}
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._audio = True
        self._audio_only = self._packager(AUDIO, audio_only=True) if audio_only else None
        self._thread: threading.Thread | None = None
        if heights:
            self._thread = threading.Thread(
                target=self._decode, name=f"ladder-{show_id}", daemon=True
            )
            self._thread.start()

    async def resume(self) -> None:
        for height in self._heights:
            packager = self._packager(rung_name(height))
            await packager.resume()
        if self._audio_only is not None:
            await self._audio_only.resume()

    def _packager(self, name: str, audio_only: bool = False) -> ShowPackager:
        if name not in self.packagers:
            packager = ShowPackager(
                self.show_id,
                self._storage,
                self._options,
                rendition=name,
                audio_only=audio_only,
                shared_audio=True,  # the source's AAC (aac_frame), not encoded again
            )
            self._group.append(packager)
            packager.group = self._group
            if audio_only and self._source is not None:
                packager.follow(self._source)  # same MSN, same stretch of the show
            self.packagers[name] = packager
        return self.packagers[name]

    # -- from the publisher (event loop) --------------------------------------

    def new_session(self, audio: bool) -> None:
        self._audio = audio
        for packager in self.packagers.values():
            packager.new_session(audio)

    def end_session(self) -> None:
        for packager in self.packagers.values():
            packager.end_session()

    def video_frame(self, annexb: bytes, wall: float) -> None:
        if self._audio_only is not None and is_keyframe(annexb):
            self._audio_only.keyframe(wall)  # where its runs start
        if self._thread is not None and self._inbox.qsize() < 60:
            # a slow machine drops rung pictures, not the source
            self._inbox.put((annexb, wall))

    def aac_frame(self, aac: bytes, wall: float) -> None:
        """The source's sound, encoded once (the source packager's ``on_aac``, on
        its worker thread): every rendition of the ladder muxes the same AAC."""
        for packager in tuple(self.packagers.values()):  # one C call: no Python in between
            packager.aac_frame(aac, wall)

    async def finish(self) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            await asyncio.to_thread(self._thread.join)
        for encoder in self._encoders.values():
            encoder.close()
        for packager in self.packagers.values():
            await packager.finish()

    # -- the decoder thread -----------------------------------------------------

    def _decode(self) -> None:
        decoder = av.CodecContext.create("h264", "r")
        decoder.options = DECODER_OPTIONS
        decoder.thread_count = 1
        params: bytes | None = None  # the stream's SPS, from its last keyframe
        # the SPS of a stream with no rung below its height (a 360p publisher with
        # a 360p ladder): nothing to make, so nothing to decode until it changes
        nothing_below: bytes | None = None
        while (item := self._inbox.get()) is not None:
            annexb, wall = item
            params = sps(annexb) or params
            if params is not None and params == nothing_below:
                continue
            packet = av.Packet(annexb)
            packet.pts = round(wall * 90_000)
            packet.time_base = Fraction(1, 90_000)
            try:
                frames = decoder.decode(packet)
            except av.FFmpegError:
                continue  # until the next keyframe
            for frame in frames:
                if not any(height < frame.height for height in self._heights):
                    nothing_below = params
                    continue
                frame.pts = packet.pts
                self._feed(frame)

    def _feed(self, frame: av.VideoFrame) -> None:
        for height in self._heights:
            if height >= frame.height:
                continue  # never upscale: the source itself is the top rung
            name = rung_name(height)
            encoder = self._encoders.get(name)
            if encoder is None:
                packager = self._packager_threadsafe(name)
                encoder = H264Encoder(
                    _to_packager(packager),
                    gop_seconds=self._options.segment_seconds,
                    height=height,
                    maxrate_kbps=maxrate(height),
                    preset=RUNG_PRESET,
                    threads=RUNG_THREADS,
                    scaler=RUNG_SCALER,
                )
                self._encoders[name] = encoder
            encoder.encode(frame)

    def _packager_threadsafe(self, name: str) -> ShowPackager:
        """Packagers belong to the loop: make a new one there and wait for it."""
        if name in self.packagers:
            return self.packagers[name]

        async def make() -> ShowPackager:
            packager = self._packager(name)
            packager.new_session(self._audio)
            return packager

        return asyncio.run_coroutine_threadsafe(make(), self._loop).result()


def _to_packager(packager: ShowPackager) -> Callable[[bytes, int], None]:
    def deliver(annexb: bytes, pts: int) -> None:
        packager.video_frame(annexb, pts / 90_000)

    return deliver
