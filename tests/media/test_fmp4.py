"""Reading FFmpeg's fragmented MP4: boxes in any chunking, fragment timing,
and which fragments start with a keyframe."""

from __future__ import annotations

import io
from fractions import Fraction

import av
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pasar.media.fmp4 import BoxReader
from pasar.media.muxer import FragmentMuxer, is_keyframe, nal_types, sps


def encoded(frames: int = 60, gop: int = 15) -> list[tuple[bytes, float]]:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base = Fraction(1, 30)
    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "bf": "0"}
    out = []
    for i in range(frames):
        frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), (i * 4 % 255, 0, 90)))
        frame.pts = i
        for packet in enc.encode(frame):
            out.append((bytes(packet), i / 30))
    for packet in enc.encode(None):
        out.append((bytes(packet), len(out) / 30))
    return out


STREAM = encoded()


def mux(stream: list[tuple[bytes, float]]) -> tuple[bytes, list[tuple[bytes, object]]]:
    inits: list[bytes] = []
    fragments: list[tuple[bytes, object]] = []
    muxer = FragmentMuxer(
        width=320,
        height=240,
        audio=False,
        fragment_seconds=0.25,
        on_init=inits.append,
        on_fragment=lambda data, timing: fragments.append((data, timing)),
    )
    for data, t in stream:
        muxer.video(data, t, is_keyframe(data))
    muxer.close()
    return inits[0], fragments


def test_annex_b_helpers() -> None:
    first = STREAM[0][0]
    assert is_keyframe(first) and 7 in nal_types(first) and 8 in nal_types(first)
    assert sps(first) is not None and sps(first)[0] & 0x1F == 7  # type: ignore[index]
    assert not is_keyframe(STREAM[1][0]) and sps(STREAM[1][0]) is None


def test_fragments_are_timed_and_keyframes_start_independent_ones() -> None:
    init, fragments = mux(STREAM)
    assert init[4:8] == b"ftyp" and b"moov" in init
    timings = [t for _, t in fragments]
    starts = [t.start for t in timings]  # type: ignore[attr-defined]
    assert starts == sorted(starts) and starts[0] == 0
    total = sum(t.duration for t in timings)  # type: ignore[attr-defined]
    assert abs(total - len(STREAM) / 30) < 0.05
    keyframe_times = {round(t * 30) for data, t in STREAM if is_keyframe(data)}
    independent = {round(t.start * 30) for t in timings if t.independent}  # type: ignore[attr-defined]
    assert independent == keyframe_times  # every GOP starts a fragment; nothing else claims to
    for _, t in fragments:
        assert t.duration <= 0.25 + 1 / 30 + 1e-6  # type: ignore[attr-defined]
    # and the bytes are what a player decodes
    with av.open(io.BytesIO(init + b"".join(d for d, _ in fragments))) as c:
        assert sum(1 for _ in c.decode(video=0)) == len(STREAM)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=50))
def test_box_reader_takes_any_chunking(cuts: list[int]) -> None:
    init, fragments = mux(STREAM[:20])
    data = init + b"".join(d for d, _ in fragments)
    reader = BoxReader()
    boxes = []
    pos = 0
    for cut in cuts:
        boxes += reader.feed(data[pos : pos + cut])
        pos += cut
    boxes += reader.feed(data[pos:])
    assert b"".join(b.data for b in boxes) == data
    assert [b.kind for b in boxes][:2] == ["ftyp", "moov"]
