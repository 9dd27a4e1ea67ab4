"""H.264 from decoded pictures, for publishers that cannot send H.264
(VP8 from a browser that prefers it, some WHIP encoders).

Only used when needed: an H.264 publisher is remuxed, never transcoded. The
encoder runs on its own thread; its Annex B output (parameter sets repeated on
every keyframe, so the packager sees them) goes to the packager like a
publisher's own H.264 would.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

log = logging.getLogger(__name__)

# (Annex B access unit, the RTP-clock pts of its picture)
OnEncoded = Callable[[bytes, int], None]


class H264Encoder:
    def __init__(
        self,
        on_encoded: OnEncoded,
        *,
        gop_seconds: float,
        fps: int = 30,
        height: int | None = None,
        maxrate_kbps: int = 3000,
        preset: str = "veryfast",
        threads: int = 0,
        scaler: str | None = None,
    ) -> None:
        self._on_encoded = on_encoded
        self._height = height  # scale down to this height (a ladder rung); None: as is
        self._maxrate = maxrate_kbps
        self._preset = preset
        self._threads = threads  # x264's threads; 0: its own choice (one per core and more)
        self._scaler = scaler  # swscale's interpolation; None: PyAV's default (bilinear)
        self._gop = max(1, round(gop_seconds * fps))
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._codec: Any = None
        self._size: tuple[int, int] | None = None
        self._thread = threading.Thread(target=self._run, name="h264-encoder", daemon=True)
        self._thread.start()

    def encode(self, frame: av.VideoFrame) -> None:
        # a publisher that outruns the encoder loses pictures, not latency
        if self._inbox.qsize() < 30:
            self._inbox.put(frame)

    def close(self) -> None:
        self._inbox.put(None)

    def _open(self, width: int, height: int) -> None:
        # the size of the pictures coming in: a new one (only) opens a new encoder
        self._size = (width, height)
        codec = av.CodecContext.create("libx264", "w")
        if self._height is not None and self._height < height:
            width, height = round(width * self._height / height / 2) * 2, self._height
        codec.width, codec.height = width - width % 2, height - height % 2
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, 90_000)
        codec.options = {
            "preset": self._preset,
            "tune": "zerolatency",
            "profile": "baseline",
            "g": str(self._gop),
            "keyint_min": str(self._gop),
            "sc_threshold": "0",
            "crf": "23",
            "maxrate": f"{self._maxrate}k",
            "bufsize": f"{self._maxrate}k",
            "x264-params": "repeat-headers=1:annexb=1",
        }
        codec.thread_count = self._threads
        self._codec = codec

    def _run(self) -> None:
        while (frame := self._inbox.get()) is not None:
            try:
                if self._size != (frame.width, frame.height):
                    self._open(frame.width, frame.height)
                picture = frame.reformat(
                    width=self._codec.width,
                    height=self._codec.height,
                    format="yuv420p",
                    interpolation=self._scaler,
                )
                picture.pts = frame.pts
                # a keyframe where the input has one: a rung's segments line up
                # with the source's (the GOP above is the fallback)
                picture.pict_type = PictureType.I if frame.key_frame else PictureType.NONE
                picture.time_base = Fraction(1, 90_000)
                for packet in self._codec.encode(picture):
                    self._on_encoded(bytes(packet), int(packet.pts or 0))
            except (av.FFmpegError, ValueError):
                log.exception("transcoding a picture failed")
