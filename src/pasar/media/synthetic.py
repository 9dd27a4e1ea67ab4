"""A synthetic broadcast through the real WHIP path: a moving test pattern with
a burnt-in UTC clock and a 440 Hz tone, published with aiortc as any WHIP
client would. ``pasar demo`` uses it so the storefront shows live video, and
the tests use it as the aiortc publisher.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

import av
import httpx
from aiortc import (
    AudioStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from PIL import Image, ImageDraw, ImageFont

BARS = [
    (192, 192, 192),
    (192, 192, 0),
    (0, 192, 192),
    (0, 192, 0),
    (192, 0, 192),
    (192, 0, 0),
    (0, 0, 192),
]


class TestPatternTrack(VideoStreamTrack):
    """Colour bars, a box sweeping across, the frame number and the UTC time."""

    def __init__(self, width: int = 640, height: int = 360, label: str = "PASAR") -> None:
        super().__init__()
        self.width, self.height = width, height
        self.label = label
        self.frames = 0
        self._base = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(self._base)
        bar = width / len(BARS)
        for i, colour in enumerate(BARS):
            draw.rectangle([round(i * bar), 0, round((i + 1) * bar), height], fill=colour)
        self._font = ImageFont.load_default(size=max(16, height // 10))

    def render(self, moment: datetime) -> Image.Image:
        image = self._base.copy()
        draw = ImageDraw.Draw(image)
        w, h = self.width, self.height
        x = (self.frames * 6) % (w + 80) - 80
        draw.rectangle([x, h * 0.62, x + 80, h * 0.62 + 60], fill=(255, 255, 255))
        draw.rectangle([0, h * 0.78, w, h], fill=(0, 0, 0))
        clock = moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"
        draw.text((12, h * 0.8), f"{self.label}  {clock}", font=self._font, fill=(255, 255, 255))
        return image

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame: av.VideoFrame = av.VideoFrame.from_image(  # type: ignore[no-untyped-call]
            self.render(datetime.now(UTC))
        )
        frame.pts = pts
        frame.time_base = time_base
        self.frames += 1
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz sine at -20 dBFS, 48 kHz mono, in 20 ms frames."""

    RATE = 48_000
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        # 440 Hz repeats exactly every second: one second of samples loops cleanly
        amplitude = 0.1 * 32767
        samples = [
            round(amplitude * math.sin(2 * math.pi * 440 * i / self.RATE)) for i in range(self.RATE)
        ]
        self._pcm = struct.pack(f"<{self.RATE}h", *samples)
        self._pts = 0
        self._begun: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._begun is None:
            self._begun = time.time()
        else:
            self._pts += self.SAMPLES
            wait = self._begun + self._pts / self.RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        offset = (self._pts % self.RATE) * 2
        chunk = self._pcm[offset : offset + self.SAMPLES * 2]
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = self.RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, self.RATE)
        return frame


def offer_only(pc: RTCPeerConnection, codec: str = "H264") -> None:
    """Offer one video codec: H.264 (the server remuxes it) or VP8 (transcoded)."""
    caps = RTCRtpSender.getCapabilities("video")
    chosen = [c for c in caps.codecs if c.mimeType in (f"video/{codec}", "video/rtx")]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(chosen)


def prefer_h264(pc: RTCPeerConnection) -> None:
    offer_only(pc, "H264")


@dataclass
class WhipSession:
    """A running publish; ``stop()`` ends it with WHIP ``DELETE`` (ending the show)."""

    pc: RTCPeerConnection
    location: str
    stream_key: str
    client: httpx.AsyncClient
    video: TestPatternTrack

    async def stop(self, end_show: bool = True) -> None:
        if end_show:
            await self.client.delete(
                self.location, headers={"Authorization": f"Bearer {self.stream_key}"}
            )
        await self.pc.close()


async def publish(
    client: httpx.AsyncClient,
    whip_url: str,
    stream_key: str,
    *,
    width: int = 640,
    height: int = 360,
    audio: bool = True,
    label: str = "PASAR",
    codec: str = "H264",
) -> WhipSession:
    """Publish the test pattern (and tone) to ``whip_url``; raises
    ``httpx.HTTPStatusError`` when the server refuses."""
    pc = RTCPeerConnection()
    video = TestPatternTrack(width, height, label)
    pc.addTransceiver(video, direction="sendonly")
    if audio:
        pc.addTransceiver(ToneTrack(), direction="sendonly")
    offer_only(pc, codec)
    await pc.setLocalDescription(await pc.createOffer())
    response = await client.post(
        whip_url,
        content=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {stream_key}"},
    )
    if response.status_code != 201:
        await pc.close()
        response.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    location = str(httpx.URL(whip_url).join(response.headers["location"]))
    return WhipSession(pc, location, stream_key, client, video)


async def broadcast(
    whip_url: str, stream_key: str, *, seconds: float | None = None, label: str = "PASAR"
) -> None:
    """Publish until ``seconds`` pass (forever when None), reconnecting when the
    server drops the stream or is not up yet; end the show on the way out."""
    async with httpx.AsyncClient(timeout=30) as client:
        session: WhipSession | None = None
        loop = asyncio.get_running_loop()
        until = None if seconds is None else loop.time() + seconds
        try:
            while until is None or loop.time() < until:
                if session is None or session.pc.connectionState in ("failed", "closed"):
                    if session is not None:
                        await session.stop(end_show=False)
                    try:
                        session = await publish(client, whip_url, stream_key, label=label)
                    except (httpx.HTTPError, OSError) as exc:
                        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (
                            401,
                            409,
                        ):
                            raise  # wrong key or show over: retrying will not help
                        session = None
                await asyncio.sleep(1)
        finally:
            if session is not None:
                await session.stop(end_show=seconds is not None)
