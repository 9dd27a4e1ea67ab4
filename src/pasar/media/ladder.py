"""An optional adaptive-bitrate ladder: lower renditions (e.g. 360p) encoded
from the publisher's video, each packaged like the source, so shoppers on weak
mobile networks keep watching. Off by default (``PASAR_HLS_LADDER``): the
source is always served as is, and only rungs below its height are made.

One decoder thread turns the source into pictures; each rung has its own
encoder thread and its own packager (``hls/{show_id}/{rung}/…``).
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

from pasar.media.packager import PackagerOptions, ShowPackager
from pasar.media.transcode import H264Encoder
from pasar.storage import Storage

log = logging.getLogger(__name__)

# a rung's bitrate cap (kb/s) by height; about what the big platforms use
MAXRATE = {1080: 4500, 720: 2500, 540: 1600, 480: 1200, 360: 800, 240: 400}


def rung_name(height: int) -> str:
    return f"{height}p"


def maxrate(height: int) -> int:
    return next((rate for h, rate in sorted(MAXRATE.items()) if height <= h), 4500)


class Ladder:
    def __init__(
        self, show_id: str, storage: Storage, options: PackagerOptions, heights: list[int]
    ) -> None:
        self.show_id = show_id
        self._storage = storage
        self._options = options
        self._heights = heights
        self._loop = asyncio.get_running_loop()
        self.packagers: dict[str, ShowPackager] = {}
        self._encoders: dict[str, H264Encoder] = {}
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._audio = True
        self._thread = threading.Thread(target=self._decode, name=f"ladder-{show_id}", daemon=True)
        self._thread.start()

    async def resume(self) -> None:
        for height in self._heights:
            packager = self._packager(rung_name(height))
            await packager.resume()

    def _packager(self, name: str) -> ShowPackager:
        if name not in self.packagers:
            self.packagers[name] = ShowPackager(
                self.show_id, self._storage, self._options, rendition=name
            )
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
        if self._inbox.qsize() < 60:  # a slow machine drops rung pictures, not the source
            self._inbox.put((annexb, wall))

    def audio_frame(self, opus: bytes, wall: float) -> None:
        for packager in self.packagers.values():
            packager.audio_frame(opus, wall)

    async def finish(self) -> None:
        self._inbox.put(None)
        await asyncio.to_thread(self._thread.join)
        for encoder in self._encoders.values():
            encoder.close()
        for packager in self.packagers.values():
            await packager.finish()

    # -- the decoder thread -----------------------------------------------------

    def _decode(self) -> None:
        decoder = av.CodecContext.create("h264", "r")
        while (item := self._inbox.get()) is not None:
            annexb, wall = item
            packet = av.Packet(annexb)
            packet.pts = round(wall * 90_000)
            packet.time_base = Fraction(1, 90_000)
            try:
                frames = decoder.decode(packet)
            except av.FFmpegError:
                continue  # until the next keyframe
            for frame in frames:
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
