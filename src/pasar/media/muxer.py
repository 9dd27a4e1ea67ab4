"""One continuous run of a show's media into fragmented MP4, without
re-encoding the video: H.264 access units (Annex B, as WebRTC carries them) go
straight into FFmpeg's ``mp4`` muxer; Opus audio becomes AAC, which every HLS
player plays (Safari's native player included).

A run starts on a keyframe and lasts until the publisher goes away or changes
its stream parameters (a new SPS, e.g. Chromium raising the resolution); the
packager turns each run into one init segment and a discontinuity in the
playlist. Everything here runs on the packager's worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
from av.audio.resampler import AudioResampler

from pasar.media.fmp4 import Box, BoxReader, FragmentTiming, InitInfo, fragment_timing, parse_init

VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_RATE = 48_000
AAC_BITRATE = 96_000
AAC_FRAME = 1024  # samples per AAC frame

OnInit = Callable[[bytes], None]
OnFragment = Callable[[bytes, FragmentTiming], None]
# an encoded AAC frame and its pts (samples, on this run's clock)
OnAac = Callable[[bytes, int], None]


def nal_types(annexb: bytes) -> list[int]:
    """The NAL unit types in an Annex B access unit."""
    types: list[int] = []
    i = annexb.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(annexb):
        types.append(annexb[i + 3] & 0x1F)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    return types


def sps(annexb: bytes) -> bytes | None:
    """The sequence parameter set carried in an access unit, if any."""
    i = annexb.find(b"\x00\x00\x01")
    while i != -1:
        start = i + 3
        nxt = annexb.find(b"\x00\x00\x01", start)
        if start < len(annexb) and annexb[start] & 0x1F == 7:
            end = len(annexb) if nxt == -1 else nxt
            return annexb[start:end].rstrip(b"\x00")
        i = nxt
    return None


def is_keyframe(annexb: bytes) -> bool:
    return 5 in nal_types(annexb)


class _Sink:
    """The muxer's output file: cuts the byte stream into boxes as it is written."""

    def __init__(self, on_box: Callable[[Box], None]) -> None:
        self._reader = BoxReader()
        self._on_box = on_box

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        for box in self._reader.feed(chunk):
            self._on_box(box)
        return len(chunk)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass


class FragmentMuxer:
    def __init__(
        self,
        *,
        width: int,
        height: int,
        audio: bool,
        fragment_seconds: float,
        on_init: OnInit,
        on_fragment: OnFragment,
        video: bool = True,
        aac_input: bool = False,
        on_aac: OnAac | None = None,
    ) -> None:
        """``aac_input``: the sound comes encoded (``aac``: the source's AAC, shared by
        the ladder's renditions so it is encoded once per show), not as Opus;
        ``on_aac``: hands out each AAC frame this muxer encodes."""
        self._on_aac = on_aac
        self._on_init = on_init
        self._on_fragment = on_fragment
        self._pending: list[Box] = []
        self._init: InitInfo | None = None
        self._moof: Box | None = None
        self._container = av.open(
            _Sink(self._box),
            mode="w",
            format="mp4",
            options={
                "movflags": "empty_moov+default_base_moof+frag_keyframe+cmaf",
                "frag_duration": str(int(fragment_seconds * 1_000_000)),
                # bound the interleaving wait so a silent track cannot stall video
                "max_interleave_delta": "300000",
            },
        )
        self._video: Any = None
        if video:  # without it: the audio-only rendition
            self._video = self._container.add_mux_stream("h264", width=width, height=height)
            self._video.time_base = VIDEO_TIME_BASE
        self._audio: Any = None
        self._decoder: Any = None
        self._resampler: AudioResampler | None = None
        self._audio_next: int | None = None  # pts (samples) of the next AAC frame
        if audio:
            self._audio = self._container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            self._audio.bit_rate = AAC_BITRATE  # its encoder also gives the stream's header
            if not aac_input:
                self._decoder = av.CodecContext.create("opus", "r")
                self._resampler = AudioResampler(
                    format="fltp", layout="stereo", rate=AUDIO_RATE, frame_size=1024
                )

    # -- input ----------------------------------------------------------------

    def video(self, annexb: bytes, seconds: float, keyframe: bool) -> None:
        if self._video is None:
            return
        packet = av.Packet(annexb)
        packet.stream = self._video
        packet.time_base = VIDEO_TIME_BASE
        packet.pts = packet.dts = round(seconds * 90_000)
        packet.is_keyframe = keyframe
        self._container.mux_one(packet)

    def audio(self, opus: bytes, seconds: float) -> None:
        if self._decoder is None or self._resampler is None or seconds < 0:
            return
        packet = av.Packet(opus)
        packet.time_base = Fraction(1, AUDIO_RATE)
        packet.pts = round(seconds * AUDIO_RATE)
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError:
            return  # a corrupt packet: lose 20 ms of sound, not the show
        for frame in frames:
            start = round(seconds * AUDIO_RATE)
            # Re-anchor the AAC clock when the input jumps (packet loss, a
            # publisher's clock drift) so sound stays in sync with pictures.
            if self._audio_next is None or abs(start - self._audio_next) > AUDIO_RATE // 10:
                self._audio_next = start
            frame.pts = None
            for out in self._resampler.resample(frame):
                self._encode_audio(out)

    def aac(self, data: bytes, seconds: float) -> None:
        """An AAC frame (1024 samples) encoded elsewhere, starting at ``seconds``."""
        if self._audio is None or self._decoder is not None or seconds < 0:
            return
        start = round(seconds * AUDIO_RATE)
        if self._audio_next is None or abs(start - self._audio_next) > AUDIO_RATE // 10:
            self._audio_next = start  # as in audio(): follow the source across jumps
        packet = av.Packet(data)
        packet.stream = self._audio
        packet.time_base = Fraction(1, AUDIO_RATE)
        packet.pts = packet.dts = self._audio_next
        packet.duration = AAC_FRAME
        self._audio_next += AAC_FRAME
        self._container.mux_one(packet)

    def _encode_audio(self, frame: av.AudioFrame) -> None:
        assert self._audio_next is not None
        frame.pts = self._audio_next
        frame.time_base = Fraction(1, AUDIO_RATE)
        self._audio_next += frame.samples
        for packet in self._audio.encode(frame):
            if self._on_aac is not None and packet.pts is not None:
                self._on_aac(bytes(packet), packet.pts)
            self._container.mux_one(packet)

    def close(self) -> None:
        try:
            if self._audio is not None:
                for packet in self._audio.encode(None):
                    self._container.mux_one(packet)
            self._container.close()
        except (av.FFmpegError, ValueError):
            pass  # nothing was ever written (no keyframe arrived)

    # -- output ---------------------------------------------------------------

    def _box(self, box: Box) -> None:
        if self._init is None:
            self._pending.append(box)
            if box.kind == "moov":
                self._init = parse_init(box)
                self._on_init(b"".join(b.data for b in self._pending))
                self._pending.clear()
            return
        if box.kind == "moof":
            self._moof = box
        elif box.kind == "mdat" and self._moof is not None:
            moof, self._moof = self._moof, None
            # parts are timed by the video; an audio-only stream by its sound
            track = self._init.video_track
            if self._video is None:
                track = next(iter(self._init.tracks), None)
            timing = fragment_timing(moof, self._init, track) if track is not None else None
            if timing is None:  # an audio-only fragment: ride along, no keyframe
                timing = FragmentTiming(0.0, 0.0, False)
            self._on_fragment(moof.data + box.data, timing)
        # styp, sidx, mfra: not needed by HLS
