"""The audio-only rendition's segments follow the source's: same MSN, same
stretch of the show, whatever order the two renditions' parts reach the event
loop in (the source's video lags its sound on a busy publisher), and never
longer than the target duration allows.

Both packagers are fed parts directly, on a made-up timeline: each part
reaches the loop ``lag`` seconds after its end, so every interleaving is
exact and nothing here depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from pasar.media.align import Aligner
from pasar.media.fmp4 import FragmentTiming
from pasar.media.packager import PackagerOptions, ShowPackager
from pasar.media.playlist import Segment
from pasar.storage.local import LocalStorage

T0 = 1_800_000_000.0  # the runs' start (wall clock)
AUDIO_PART = 8 * 1024 / 48_000  # what the muxer makes of 0.15-s fragments of AAC
VIDEO_PART = 0.2
EPS = 1e-6

Event = tuple[float, int, Callable[[], None]]  # (reaches the loop at, tie-break, deliver)


@asynccontextmanager
async def renditions(tmp_path: Path) -> AsyncIterator[tuple[ShowPackager, ShowPackager]]:
    storage = LocalStorage(tmp_path, "http://testserver/media")
    options = PackagerOptions(segment_seconds=2.0, part_seconds=0.2)
    source = ShowPackager("show_a", storage, options)
    audio = ShowPackager("show_a", storage, options, rendition="audio", audio_only=True)
    audio.follow(source)
    try:
        yield source, audio
    finally:
        await audio.finish()
        await source.finish()


def video_parts(
    source: ShowPackager, keyframes: list[float], until: float, lag: float, run_at: float = -1
) -> Iterator[Event]:
    """Video parts of VIDEO_PART (shorter up to a keyframe), a keyframe at each of
    ``keyframes`` (seconds after T0); a new run (new stream parameters) at
    ``run_at``."""
    edges = sorted({*keyframes, *(i * VIDEO_PART for i in range(int(until / VIDEO_PART) + 1))})
    edges = [e for e in edges if e <= until]
    for start, end in pairwise(edges):
        run = 1 if run_at >= 0 and start >= run_at - EPS else 0
        run_start = T0 + (run_at if run else 0)
        key = any(abs(start - k) < EPS for k in keyframes)
        timing = FragmentTiming(T0 + start - run_start, end - start, key)

        def deliver(run: int = run, at: float = run_start, t: FragmentTiming = timing) -> None:
            source._on_fragment(run, at, b"v", t, t.independent)

        yield T0 + end + lag, 0, deliver


def audio_parts(audio: ShowPackager, until: float, lag: float) -> Iterator[Event]:
    yield T0, -1, lambda: audio._on_run(0, b"init", None)
    for i in range(int(until / AUDIO_PART)):
        timing = FragmentTiming(i * AUDIO_PART, AUDIO_PART, True)

        def deliver(t: FragmentTiming = timing) -> None:
            audio._on_fragment(0, T0, b"a", t, False)

        yield T0 + (i + 1) * AUDIO_PART + lag, 1, deliver


def play(*streams: Iterator[Event]) -> None:
    """Deliver every part in the order they reach the loop."""
    for _, _, deliver in sorted((e for s in streams for e in s), key=lambda e: e[:2]):
        deliver()


def starts(segments: list[Segment]) -> dict[int, float]:
    return {s.msn: s.started_at.timestamp() - T0 for s in segments}


def assert_aligned(source: ShowPackager, audio: ShowPackager, msns: range) -> None:
    video, sound = starts(source.segments), starts(audio.segments)
    for msn in msns:
        # the audio part nearest the source's segment start starts the audio's
        assert abs(video[msn] - sound[msn]) <= AUDIO_PART / 2 + EPS, (msn, video, sound)


def assert_within_target(audio: ShowPackager) -> None:
    for seg in audio.segments:
        assert round(seg.duration) <= 2 and seg.duration < 2.5, (seg.msn, seg.duration)


@pytest.mark.parametrize("video_lag", [-0.3, 0.0, 0.4, 0.7, 1.2, 1.8])
async def test_audio_segments_follow_the_sources_however_late_its_video(
    tmp_path: Path, video_lag: float
) -> None:
    """The flake in test_ladder: with the publisher's video ~0.6 s behind its
    sound, the audio-only rendition cut on its own and ran one MSN off."""
    async with renditions(tmp_path) as (source, audio):
        play(
            video_parts(source, [0, 2, 4, 6, 8, 10], until=11, lag=video_lag),
            audio_parts(audio, until=11, lag=0.05),
        )
        await audio.finish()
        assert [s.msn for s in audio.segments] == [0, 1, 2, 3, 4, 5]
        assert_aligned(source, audio, range(6))
        assert_within_target(audio)


async def test_a_new_run_of_the_source_starts_an_audio_segment(tmp_path: Path) -> None:
    """The source starts a run (and a segment) when the publisher's stream
    parameters change, keyframe interval or not: the audio-only rendition,
    which never sees parameters, still cuts there."""
    async with renditions(tmp_path) as (source, audio):
        play(
            video_parts(source, [0, 2, 2.6, 4.6, 6.6], until=8, lag=0.5, run_at=2.6),
            audio_parts(audio, until=8, lag=0),
        )
        await audio.finish()
        assert [s.run for s in source.segments] == [0, 0, 1, 1, 1]
        assert [s.msn for s in audio.segments] == [0, 1, 2, 3, 4]
        assert_aligned(source, audio, range(5))


async def test_a_late_keyframe_costs_alignment_for_a_segment_or_two_not_the_target(
    tmp_path: Path,
) -> None:
    """A source segment longer than the target (its keyframe came late) is split
    in the audio; the numbers line up again right after."""
    async with renditions(tmp_path) as (source, audio):
        play(
            video_parts(source, [0, 3, 5, 7, 9, 11], until=12, lag=0.3),
            audio_parts(audio, until=12, lag=0),
        )
        await audio.finish()
        assert_within_target(audio)
        assert_aligned(source, audio, range(3, 6))


async def test_sound_goes_on_when_the_video_stops(tmp_path: Path) -> None:
    async with renditions(tmp_path) as (source, audio):
        play(
            video_parts(source, [0, 2], until=3, lag=0.2),
            audio_parts(audio, until=12, lag=0),
        )
        # held for at most a segment's worth of sound
        assert sum(s.duration for s in audio.segments) >= 12 - 2.0 - AUDIO_PART
        await audio.finish()
        assert_aligned(source, audio, range(2))
        assert_within_target(audio)
        assert sum(s.duration for s in audio.segments) == pytest.approx(
            int(12 / AUDIO_PART) * AUDIO_PART
        )


async def test_finishing_keeps_the_sound_past_the_sources_last_part(tmp_path: Path) -> None:
    async with renditions(tmp_path) as (source, audio):
        play(
            video_parts(source, [0, 2], until=3, lag=0.5),
            audio_parts(audio, until=3.5, lag=0),
        )
        assert audio._aligner is not None and audio._aligner.held > 0
        await audio.finish()
        assert audio._aligner.held == 0
        assert sum(s.duration for s in audio.segments) == pytest.approx(
            int(3.5 / AUDIO_PART) * AUDIO_PART
        )
        assert all(s.complete for s in audio.segments)


async def test_a_fresh_audio_rendition_takes_the_sources_numbering(tmp_path: Path) -> None:
    """The source resumed a recording (its numbers go on from 7) and the audio
    rendition has none of its own yet: its first segment is the source's."""
    async with renditions(tmp_path) as (source, audio):
        earlier = datetime.fromtimestamp(T0 - 100, UTC)
        source.segments.extend(
            Segment(msn=msn, run=0, started_at=earlier, complete=True) for msn in range(7)
        )
        play(
            video_parts(source, [0, 2, 4], until=5, lag=0.3),
            audio_parts(audio, until=5, lag=0),
        )
        await audio.finish()
        assert [s.msn for s in audio.segments] == [7, 8, 9]


def test_aligner_keeps_the_order_and_waits_for_the_source() -> None:
    released: list[tuple[str, int | None]] = []
    aligner = Aligner(patience=2.0)

    def item(name: str) -> Callable[[int | None], None]:
        return lambda msn: released.append((name, msn))

    aligner.hold(item("a"), 0.0, 0.2)
    aligner.hold(item("run"))  # no time: waits for "a" only
    aligner.hold(item("b"), 0.2, 0.4)
    assert released == []
    aligner.source_part(4, 0.0, 0.15)  # past a's middle, not b's
    assert released == [("a", 4), ("run", None)]
    aligner.source_part(5, 0.25, 0.5)  # a new segment before b's middle
    assert released == [("a", 4), ("run", None), ("b", 5)]
    aligner.hold(item("c"), 0.4, 0.6)
    aligner.hold(item("d"), 2.6, 2.8)  # c has waited a segment's worth of sound
    assert released[-1] == ("c", 5) and aligner.held == 1
    aligner.flush()
    assert released[-1] == ("d", 5) and aligner.held == 0
