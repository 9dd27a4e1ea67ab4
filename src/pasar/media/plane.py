"""The media plane: WHIP publishers, their show's packager, dropouts and the
end of a show.

One publisher per show at a time. A publisher that drops (its video goes
quiet, or ICE fails) leaves the show live and "reconnecting" for the grace
period; publishing again with the same key continues the same show and the
same recording. An explicit end (WHIP ``DELETE``, the studio's *End show*)
or the grace running out ends the show and turns the recording into the
replay playlist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

from pasar.ids import new_id
from pasar.media import rtc_adapter
from pasar.media.errors import MediaError
from pasar.media.grace import GraceTimers
from pasar.media.ladder import Ladder, rung_height
from pasar.media.muxer import is_keyframe
from pasar.media.packager import PackagerOptions, ShowPackager
from pasar.media.transcode import H264Encoder
from pasar.settings import Settings
from pasar.storage import Storage

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000

# What the plane tells the show's side (which owns the database and the show's
# channel), by show id: its first frames arrived (on_started), its stream ended
# for good (on_ending: the show ends), its recording closed (on_recorded: the
# replay can publish) and the stream's status changed (on_status).
ShowEvent = Callable[[str], Awaitable[None]]
StatusChanged = Callable[[str, str], Awaitable[None]]


@dataclass
class _TrackClock:
    """Places a track's RTP timestamps on the wall clock."""

    clock: int
    wall0: float | None = None
    ts0: int = 0

    def wall(self, ts: int) -> float:
        if self.wall0 is None:
            self.wall0 = time.time()
            self.ts0 = ts
        return self.wall0 + (ts - self.ts0) / self.clock


class _Meter:
    """What the publisher sent over the last two seconds, for the studio's
    stream-health panel (any number of pollers see the same window)."""

    WINDOW = 2.0

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._samples: deque[tuple[float, int, int]] = deque()  # (when, video, audio) bytes
        self.keyframes: deque[float] = deque(maxlen=10)

    def video(self, size: int) -> None:
        self._samples.append((time.monotonic(), size, 0))

    def audio(self, size: int) -> None:
        self._samples.append((time.monotonic(), 0, size))

    def rates(self) -> dict[str, float]:
        now = time.monotonic()
        while self._samples and self._samples[0][0] < now - self.WINDOW:
            self._samples.popleft()
        span = min(self.WINDOW, now - self.started) or 1.0
        frames = sum(1 for _, v, _ in self._samples if v)
        return {
            "video_kbps": sum(v for _, v, _ in self._samples) * 8 / span / 1000,
            "audio_kbps": sum(a for _, _, a in self._samples) * 8 / span / 1000,
            "fps": frames / span,
        }


def segment_started(
    packaged: float | None, keyframes: Iterable[float], segment: float
) -> float | None:
    """When (wall clock) the source's segment being made started: the next
    keyframe is due a segment after it. ``packaged``: the start of the packager's
    open segment (None: none yet); ``keyframes``: the latest ones received, the
    packager may not have seen them yet.

    Only a keyframe that starts a segment counts (the packager ignores those less
    than half a segment into one): timing the next request from any keyframe,
    e.g. one answering a request sent again while the first answer was still on
    its way, made a segment last almost a segment and a half."""
    started = packaged
    # a little over the packager's half segment: when unsure, a keyframe too many
    # (ignored) rather than one too late (a segment longer than the target)
    least = segment * 0.5 + 0.05
    for key in keyframes:
        if started is None or key >= started + least:
            started = key
    return started


class Publisher:
    def __init__(
        self,
        plane: MediaPlane,
        show_id: str,
        packager: ShowPackager,
        ladder: Ladder | None = None,
    ) -> None:
        self.id = new_id("whip")
        self.show_id = show_id
        self.plane = plane
        self.packager = packager
        self.ladder = ladder
        self.pc = RTCPeerConnection()
        self.video_receiver: RTCRtpReceiver | None = None
        self.has_audio = False
        self.connected_at = datetime.now(UTC)
        self.last_media = time.monotonic()
        self.meter = _Meter()
        self._video_clock = _TrackClock(VIDEO_CLOCK)
        self._audio_clock = _TrackClock(AUDIO_CLOCK)
        self.closed = False
        self.video_codec = ""
        # Media arrived (a publisher that fails its handshake never gets here:
        # it neither takes the show live nor ends it when it gives up).
        self.media_started = False
        self.user_agent = ""
        self.encoder: H264Encoder | None = None  # only when transcoding
        self._pump: asyncio.Task[None] | None = None

    async def answer(self, offer_sdp: str) -> str:
        _check_offer(offer_sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except Exception as exc:  # aiortc raises several types for bad offers; all are 400
            raise MediaError("invalid", "bad_sdp", f"the SDP offer cannot be used: {exc}") from exc
        kinds = set()
        for transceiver in self.pc.getTransceivers():
            kind = transceiver.kind
            caps = RTCRtpReceiver.getCapabilities(kind)
            if caps is None:
                continue
            if kind == "video":
                # H.264 is remuxed; VP8 only when the publisher offers nothing
                # else, and then transcoded
                order = {"video/H264": 0, "video/VP8": 1, "video/rtx": 2}
                wanted = sorted(
                    (c for c in caps.codecs if c.mimeType in order),
                    key=lambda c: order[c.mimeType],
                )
                self.video_receiver = transceiver.receiver
            else:
                wanted = [c for c in caps.codecs if c.mimeType == "audio/opus"]
                self.has_audio = True
            transceiver.setCodecPreferences(wanted)
            transceiver.direction = "recvonly"
            rtc_adapter.tap_encoded_frames(transceiver.receiver, self._frame, _decode_vp8)
            kinds.add(kind)
        if "video" not in kinds:
            raise MediaError("invalid", "no_video", "the offer has no video to publish")
        rtc_adapter.keep_consent(self.pc)
        try:
            answer = await self.pc.createAnswer()
        except (ValueError, RuntimeError) as exc:
            raise MediaError(
                "invalid",
                "unsupported_codec",
                f"publish H.264 video (and Opus audio): {exc}",
            ) from exc
        await self.pc.setLocalDescription(answer)
        sdp = self.pc.localDescription.sdp
        if "H264/90000" in sdp:
            self.video_codec = "H264"
        elif "VP8/90000" in sdp:
            self.video_codec = "VP8"
            self._start_transcoding()
        else:
            raise MediaError(
                "invalid",
                "unsupported_codec",
                "publish H.264 (or VP8) video; VP9/AV1 are not taken",
            )

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = self.pc.connectionState
            if state == "failed" and not self.media_started:
                hint = ""
                if self.user_agent.startswith("Lavf"):
                    hint = (
                        " (FFmpeg: its default P-224 DTLS certificate is refused; pass "
                        "cert_file/key_file with a P-256 one, see `pasar whip-cert`)"
                    )
                log.warning("show %s: WHIP handshake failed%s", self.show_id, hint)
            if state in ("failed", "closed") and not self.closed:
                await self.plane._dropped(self)

        self.packager.new_session(audio=self.has_audio)
        if self.ladder is not None:
            self.ladder.new_session(audio=self.has_audio)
        return self.pc.localDescription.sdp

    def _start_transcoding(self) -> None:
        """VP8 in: aiortc decodes it, we encode H.264 for the packager."""
        assert self.video_receiver is not None
        track = self.video_receiver.track
        self.encoder = H264Encoder(
            self._encoded, gop_seconds=self.plane.settings.hls_segment_seconds
        )

        async def pump() -> None:
            try:
                while not self.closed:
                    frame = await track.recv()
                    if isinstance(frame, av.VideoFrame) and self.encoder is not None:
                        self.encoder.encode(frame)
            except MediaStreamError:
                pass  # the track ended with the connection

        self._pump = asyncio.create_task(pump())

    def _encoded(self, annexb: bytes, pts: int) -> None:
        """From the encoder's thread: our H.264 of the publisher's picture."""
        if self.closed:
            return
        wall = self._video_clock.wall(pts)
        if is_keyframe(annexb):
            self.meter.keyframes.append(wall)
        self.packager.video_frame(annexb, wall)
        if self.ladder is not None:
            self.ladder.video_frame(annexb, wall)

    def _frame(self, mime: str, data: bytes, ts: int) -> None:
        if self.closed:
            return
        if mime in ("video/H264", "video/VP8"):
            if not self.media_started:
                self.media_started = True
                self.plane._started(self)
            self.last_media = time.monotonic()
            self.meter.video(len(data))
            wall = self._video_clock.wall(ts)
            if mime == "video/VP8":
                return  # decoded by aiortc, then encoded by us (_encoded)
            if is_keyframe(data):
                self.meter.keyframes.append(wall)
            self.packager.video_frame(data, wall)
            if self.ladder is not None:
                self.ladder.video_frame(data, wall)
        elif mime == "audio/opus":
            self.meter.audio(len(data))
            wall = self._audio_clock.wall(ts)
            self.packager.audio_frame(data, wall)  # the ladder gets it as AAC from there

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.encoder is not None:
            self.encoder.close()
        if self._pump is not None:
            self._pump.cancel()
        self.packager.end_session()
        if self.ladder is not None:
            self.ladder.end_session()
        await self.pc.close()

    async def health(self) -> dict[str, Any]:
        rates = self.meter.rates()
        loss = None
        with contextlib.suppress(Exception):
            report = await self.video_receiver.getStats() if self.video_receiver else {}
            for stat in report.values():
                if getattr(stat, "type", "") == "inbound-rtp" and stat.kind == "video":
                    total = stat.packetsReceived + max(stat.packetsLost, 0)
                    loss = round(100 * max(stat.packetsLost, 0) / total, 2) if total else 0.0
        keys = self.meter.keyframes
        interval = (keys[-1] - keys[0]) / (len(keys) - 1) if len(keys) >= 2 else None
        video = self.packager.video
        return {
            "session_id": self.id,
            "connected_at": self.connected_at,
            "codec": self.video_codec,
            "width": video.width if video else None,
            "height": video.height if video else None,
            "fps": round(rates["fps"], 1),
            "video_kbps": round(rates["video_kbps"]),
            "audio_kbps": round(rates["audio_kbps"]),
            "keyframe_interval_s": round(interval, 2) if interval else None,
            "packet_loss_pct": loss,
            "transcoding": self.encoder is not None,
            "renditions": sorted(
                (n for n, p in self.ladder.packagers.items() if p.has_media),
                key=lambda n: -rung_height(n),
            )
            if self.ladder
            else [],
        }


def _check_offer(sdp: str) -> None:
    """Refuse, with a reason, offers we cannot take before aiortc sees them."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:
        raise MediaError("invalid", "bad_sdp", f"the SDP offer cannot be read: {exc}") from exc
    video = [m for m in parsed.media if m.kind == "video"]
    if not video:
        raise MediaError("invalid", "no_video", "the offer has no video to publish")
    names = {c.mimeType.split("/")[-1].upper() for m in video for c in m.rtp.codecs}
    if not names & {"H264", "VP8"}:
        raise MediaError(
            "invalid",
            "unsupported_codec",
            f"publish H.264 (or VP8) video; the offer has {', '.join(sorted(names)) or 'none'}",
        )


def _decode_vp8(mime: str) -> bool:
    """Which encoded frames continue to aiortc's decoder: VP8 (to transcode)."""
    return mime == "video/VP8"


class MediaPlane:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        on_started: ShowEvent | None = None,
        on_ending: ShowEvent | None = None,
        on_recorded: ShowEvent | None = None,
        on_status: StatusChanged | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.on_started = on_started
        self.on_ending = on_ending
        self.on_recorded = on_recorded
        self.on_status = on_status
        self.publishers: dict[str, Publisher] = {}  # show id → current publisher
        self.packagers: dict[str, ShowPackager] = {}
        self.ladders: dict[str, Ladder] = {}
        self.ladder_heights = settings.hls_ladder_heights
        self.ladder_audio = settings.hls_ladder_audio
        # the grace running out without the publisher coming back ends the show
        self._grace = GraceTimers(settings.publish_grace_seconds, self.end)
        self._watch: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def options(self) -> PackagerOptions:
        s = self.settings
        return PackagerOptions(
            segment_seconds=s.hls_segment_seconds,
            part_seconds=s.hls_part_seconds,
            window=s.hls_window_segments,
        )

    # -- publishing -----------------------------------------------------------

    async def publish(self, show_id: str, offer_sdp: str, user_agent: str = "") -> Publisher:
        current = self.publishers.get(show_id)
        if current is not None and not current.closed:
            quiet = time.monotonic() - current.last_media
            if quiet < min(3.0, self.settings.publish_dead_seconds):
                raise MediaError(
                    "conflict",
                    "publisher_active",
                    "someone is already publishing to this show; stop that stream first",
                )
            await self.stop_publisher(current)  # a reconnect: the old one is gone quiet
        packager = self.packagers.get(show_id)
        if packager is None or packager.finished:
            packager = ShowPackager(show_id, self.storage, self.options())
            await packager.resume()
            self.packagers[show_id] = packager
            if self.ladder_heights or self.ladder_audio:
                ladder = Ladder(
                    show_id,
                    self.storage,
                    self.options(),
                    self.ladder_heights,
                    audio_only=self.ladder_audio,
                    source=packager,
                )
                packager.on_aac = ladder.aac_frame
                await ladder.resume()
                self.ladders[show_id] = ladder
        publisher = Publisher(self, show_id, packager, self.ladders.get(show_id))
        publisher.user_agent = user_agent
        try:
            await publisher.answer(offer_sdp)
        except BaseException:
            publisher.closed = True
            await publisher.pc.close()
            raise
        self.publishers[show_id] = publisher
        self._grace.cancel(show_id)
        self._watch[publisher.id] = asyncio.create_task(self._watchdog(publisher))
        return publisher

    def _started(self, publisher: Publisher) -> None:
        """The first frame arrived (called from the tap, on the loop)."""
        task = asyncio.create_task(self._go_live(publisher.show_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _go_live(self, show_id: str) -> None:
        if self.on_started is not None:
            try:
                await self.on_started(show_id)
            except Exception:
                log.exception("show %s: could not go live", show_id)
        await self._status(show_id, "live")

    def session(self, session_id: str) -> Publisher | None:
        return next((p for p in self.publishers.values() if p.id == session_id), None)

    async def _watchdog(self, publisher: Publisher) -> None:
        """Ask for keyframes on schedule; notice a publisher going quiet."""
        segment = self.settings.hls_segment_seconds
        dead = self.settings.publish_dead_seconds
        last_pli = 0.0
        try:
            while not publisher.closed:
                await asyncio.sleep(0.1)
                now = time.monotonic()
                started = segment_started(
                    publisher.packager.segment_started_at, publisher.meter.keyframes, segment
                )
                since_key = time.time() - started if started is not None else segment
                # Ask ~0.2 s early: the keyframe takes a round trip and an
                # encode to arrive, and segments must not outgrow the target.
                if (
                    publisher.video_receiver
                    and since_key >= segment - 0.2
                    and now - last_pli >= 0.5
                ):
                    last_pli = now
                    with contextlib.suppress(Exception):
                        await rtc_adapter.request_keyframe(publisher.video_receiver)
                if now - publisher.last_media > dead:
                    await self._dropped(publisher)
                    return
        finally:
            self._watch.pop(publisher.id, None)

    async def stop_publisher(self, publisher: Publisher) -> None:
        await publisher.close()
        if task := self._watch.pop(publisher.id, None):
            task.cancel()

    async def _dropped(self, publisher: Publisher) -> None:
        """The publisher vanished without saying goodbye: hold the show open."""
        if publisher.closed:
            return
        await self.stop_publisher(publisher)
        show_id = publisher.show_id
        if self.publishers.get(show_id) is not publisher:
            return
        if not publisher.media_started:
            del self.publishers[show_id]  # never got going: nothing to hold open
            return
        await self._status(show_id, "reconnecting")
        self._grace.start(show_id)

    async def _status(self, show_id: str, status: str) -> None:
        if self.on_status is not None:
            try:
                await self.on_status(show_id, status)
            except Exception:
                log.exception("show %s: stream status %s not published", show_id, status)

    # -- the end ----------------------------------------------------------------

    async def end(self, show_id: str) -> None:
        """The stream ended for good (WHIP DELETE, the grace ran out): the show
        ends first (``on_ending``), then its media (:meth:`close_show`)."""
        if self.on_ending is not None:
            await self.on_ending(show_id)
        await self.close_show(show_id)

    async def close_show(self, show_id: str) -> None:
        """The show has ended (however it ended): stop its publisher, close its
        recording and, when there is one, say so (``on_recorded``: the replay
        publishes itself)."""
        if await self.end_show(show_id) and self.on_recorded is not None:
            await self.on_recorded(show_id)

    async def end_show(self, show_id: str) -> bool:
        """Stop the show's publisher and close its recording. Returns whether
        there was a recording."""
        self._grace.cancel(show_id)
        publisher = self.publishers.pop(show_id, None)
        if publisher is not None:
            await self.stop_publisher(publisher)
        packager = self.packagers.pop(show_id, None)
        if ladder := self.ladders.pop(show_id, None):
            await ladder.finish()
        if packager is None:
            return False
        recorded = bool(await packager.finish())
        await self._status(show_id, "ended")
        return recorded

    async def health(self, show_id: str) -> dict[str, Any]:
        publisher = self.publishers.get(show_id)
        if show_id in self._grace:
            state = "reconnecting"
        elif publisher is not None and not publisher.closed:
            state = "live"
        else:
            state = "offline"
        out: dict[str, Any] = {"state": state, "publisher": None}
        if publisher is not None and not publisher.closed:
            out["publisher"] = await publisher.health()
        return out

    async def close(self) -> None:
        """Shut down: drop publishers (they reconnect elsewhere) and close the
        packagers' recordings without ending any show."""
        await self._grace.close()
        for publisher in list(self.publishers.values()):
            await self.stop_publisher(publisher)
        for packager in list(self.packagers.values()):
            with contextlib.suppress(Exception):
                await packager.finish()
        self.publishers.clear()
        self.packagers.clear()
