"""Just enough ISO-BMFF parsing to cut FFmpeg's fragmented MP4 output into
LL-HLS parts: split a byte stream into top-level boxes and read, from each
``moof``, where its video samples start and how long they last.

FFmpeg's ``mp4`` muxer writes the fragments; this module only reads them, so
the packager can name and time each fragment without a second muxer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    kind: str
    data: bytes  # the whole box, header included

    @property
    def payload(self) -> bytes:
        return self.data[_header_size(self.data) :]


def _header_size(data: bytes) -> int:
    return 16 if struct.unpack_from(">I", data, 0)[0] == 1 else 8


class BoxReader:
    """Feed bytes in any chunks; take whole top-level boxes out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Box]:
        self._buf += data
        out: list[Box] = []
        while len(self._buf) >= 8:
            size, kind = struct.unpack_from(">I4s", self._buf, 0)
            if size == 1:
                if len(self._buf) < 16:
                    break
                size = struct.unpack_from(">Q", self._buf, 8)[0]
            if size < 8:
                raise ValueError(f"bad box size {size}")
            if len(self._buf) < size:
                break
            out.append(Box(kind.decode("latin-1"), bytes(self._buf[:size])))
            del self._buf[:size]
        return out


def children(payload: bytes) -> list[Box]:
    boxes: list[Box] = []
    pos = 0
    while pos + 8 <= len(payload):
        size, kind = struct.unpack_from(">I4s", payload, pos)
        if size == 1:
            size = struct.unpack_from(">Q", payload, pos + 8)[0]
        elif size == 0:
            size = len(payload) - pos
        if size < 8 or pos + size > len(payload):
            raise ValueError("truncated box")
        boxes.append(Box(kind.decode("latin-1"), payload[pos : pos + size]))
        pos += size
    return boxes


@dataclass
class TrackTiming:
    """Per track: timescale and the default sample duration from ``trex``."""

    timescale: int
    default_duration: int = 0
    default_flags: int = 0


@dataclass
class InitInfo:
    tracks: dict[int, TrackTiming] = field(default_factory=dict)
    video_track: int | None = None


def parse_init(moov: Box) -> InitInfo:
    info = InitInfo()
    defaults: dict[int, tuple[int, int]] = {}
    for box in children(moov.payload):
        if box.kind == "trak":
            track_id, timescale, handler = _trak(box)
            info.tracks[track_id] = TrackTiming(timescale)
            if handler == "vide" and info.video_track is None:
                info.video_track = track_id
        elif box.kind == "mvex":
            for ex in children(box.payload):
                if ex.kind == "trex":
                    p = ex.payload
                    track_id, _desc, duration, _size, flags = struct.unpack_from(">IIIII", p, 4)
                    defaults[track_id] = (duration, flags)
    for track_id, (duration, flags) in defaults.items():
        if track_id in info.tracks:
            info.tracks[track_id].default_duration = duration
            info.tracks[track_id].default_flags = flags
    return info


def _trak(trak: Box) -> tuple[int, int, str]:
    track_id = timescale = 0
    handler = ""
    for box in children(trak.payload):
        if box.kind == "tkhd":
            p = box.payload
            track_id = struct.unpack_from(">I", p, 20 if p[0] == 1 else 12)[0]
        elif box.kind == "mdia":
            for sub in children(box.payload):
                if sub.kind == "mdhd":
                    p = sub.payload
                    timescale = struct.unpack_from(">I", p, 20 if p[0] == 1 else 12)[0]
                elif sub.kind == "hdlr":
                    handler = sub.payload[8:12].decode("latin-1")
    return track_id, timescale, handler


@dataclass(frozen=True)
class FragmentTiming:
    """Where a fragment's track starts, how long it lasts (seconds), and whether
    its first sample is a sync sample (a part that starts with a keyframe)."""

    start: float
    duration: float
    independent: bool


NON_SYNC = 0x00010000  # sample_is_non_sync_sample in ISO-BMFF sample flags


def fragment_timing(moof: Box, init: InitInfo, track_id: int) -> FragmentTiming | None:
    for traf in children(moof.payload):
        if traf.kind != "traf":
            continue
        parts = children(traf.payload)
        tfhd = next((b for b in parts if b.kind == "tfhd"), None)
        if tfhd is None:
            continue
        p = tfhd.payload
        flags = int.from_bytes(p[1:4], "big")
        if struct.unpack_from(">I", p, 4)[0] != track_id:
            continue
        timing = init.tracks[track_id]
        default = timing.default_duration
        default_flags = timing.default_flags
        pos = 8
        if flags & 0x01:
            pos += 8  # base data offset
        if flags & 0x02:
            pos += 4  # sample description index
        if flags & 0x08:
            default = struct.unpack_from(">I", p, pos)[0]
            pos += 4
        if flags & 0x10:
            pos += 4  # default sample size
        if flags & 0x20:
            default_flags = struct.unpack_from(">I", p, pos)[0]
        start = 0
        total = 0
        first_flags: int | None = None
        for box in parts:
            q = box.payload
            if box.kind == "tfdt":
                start = struct.unpack_from(">Q" if q[0] == 1 else ">I", q, 4)[0]
            elif box.kind == "trun":
                duration, sample_flags = _trun(q, default, default_flags)
                total += duration
                if first_flags is None:
                    first_flags = sample_flags
        independent = first_flags is not None and not first_flags & NON_SYNC
        return FragmentTiming(start / timing.timescale, total / timing.timescale, independent)
    return None


def _trun(p: bytes, default: int, default_flags: int) -> tuple[int, int]:
    """(total duration, flags of the first sample) of one ``trun`` box."""
    flags = int.from_bytes(p[1:4], "big")
    count = struct.unpack_from(">I", p, 4)[0]
    pos = 8
    if flags & 0x001:
        pos += 4  # data offset
    first_flags = default_flags
    if flags & 0x004:
        first_flags = struct.unpack_from(">I", p, pos)[0]
        pos += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    stride = 4 * len(fields)
    if flags & 0x400 and not flags & 0x004 and count:
        first_flags = struct.unpack_from(">I", p, pos + 4 * fields.index(0x400))[0]
    if not flags & 0x100:
        return count * default, first_flags
    total = 0
    for i in range(count):
        total += struct.unpack_from(">I", p, pos + i * stride)[0]
    return total, first_flags
