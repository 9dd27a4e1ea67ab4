"""The playlist writer's rules (RFC 8216bis), without any video."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pasar.media.packager import PackagerOptions
from pasar.media.playlist import (
    LiveOptions,
    Part,
    RenditionReport,
    Segment,
    Variant,
    render_live,
    render_multivariant,
    render_vod,
)
from pasar.settings import Settings

T0 = datetime(2026, 11, 11, 11, 11, 11, tzinfo=UTC)
OPTIONS = LiveOptions(target_duration=2, part_target=0.334, window=3)


def segment(msn: int, run: int = 0, parts: int = 6, complete: bool = True) -> Segment:
    seg = Segment(msn=msn, run=run, started_at=T0 + timedelta(seconds=2 * msn))
    seg.parts = [Part(i, 1 / 3, i == 0, b"x") for i in range(parts)]
    seg.complete = complete
    return seg


def runs(*spec: tuple[int, bool]) -> list[Segment]:
    """Segments from (run, complete) pairs, marking where a new run starts."""
    out: list[Segment] = []
    for msn, (run, complete) in enumerate(spec):
        seg = segment(msn, run, complete=complete)
        seg.gap_before = bool(out) and out[-1].run != run
        out.append(seg)
    return out


def test_live_playlist_has_the_low_latency_tags() -> None:
    text = render_live(runs((0, True), (0, True), (0, False)), OPTIONS)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:2"]
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,HOLD-BACK=6" in lines
    assert "#EXT-X-PART-INF:PART-TARGET=0.334" in lines
    assert lines[-1] == '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s2.6.m4s"'
    assert '#EXT-X-PART:DURATION=0.33333,URI="s2.0.m4s",INDEPENDENT=YES' in lines
    assert "#EXTINF:2," in lines and "s1.m4s" in lines and "s2.m4s" not in lines


def _tags(text: str, name: str) -> dict[str, float]:
    line = next(x for x in text.splitlines() if x.startswith(f"#EXT-X-{name}:"))
    return {k: float(v) for k, v in re.findall(r"([A-Z-]+)=([\d.]+)", line)}


def test_default_low_latency_budget() -> None:
    """The default part target puts the player's hold-back (most of the
    glass-to-glass latency) at 0.6 s, and PART-HOLD-BACK stays at least three
    part targets (RFC 8216bis §4.4.3.8: SHOULD be 3x, MUST be 2x)."""
    default = Settings.model_fields["hls_part_seconds"].default
    assert PackagerOptions().part_seconds == default  # the packager and the setting agree
    options = LiveOptions(target_duration=2, part_target=default, window=3)
    text = render_live(runs((0, True), (0, True), (0, False)), options)
    target = _tags(text, "PART-INF")["PART-TARGET"]
    control = _tags(text, "SERVER-CONTROL")
    assert target == default <= 0.2
    assert control["PART-HOLD-BACK"] >= 3 * target - 1e-9
    assert control["PART-HOLD-BACK"] <= 0.6 + 1e-9  # the sub-second budget
    assert control["HOLD-BACK"] >= 3 * options.target_duration


def test_rendition_reports_follow_the_hint_in_low_latency_playlists_only() -> None:
    reports = [RenditionReport("../live.m3u8", 7, 3), RenditionReport("../audio/live.m3u8", 7, 0)]
    segs = runs((0, True), (0, True), (0, False))
    lines = render_live(segs, OPTIONS, reports).splitlines()
    assert lines[-3].startswith("#EXT-X-PRELOAD-HINT:")
    assert lines[-2:] == [
        '#EXT-X-RENDITION-REPORT:URI="../live.m3u8",LAST-MSN=7,LAST-PART=3',
        '#EXT-X-RENDITION-REPORT:URI="../audio/live.m3u8",LAST-MSN=7,LAST-PART=0',
    ]
    legacy = LiveOptions(target_duration=2, part_target=0.2, window=3, low_latency=False)
    assert "RENDITION-REPORT" not in render_live(segs, legacy, reports)


def test_hint_points_at_the_next_segment_when_the_last_is_complete() -> None:
    text = render_live(runs((0, True), (0, True)), OPTIONS)
    assert text.endswith('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s2.0.m4s"\n')


def test_window_slides_and_parts_only_near_the_live_edge() -> None:
    segs = runs(*[(0, True)] * 8, (0, False))
    text = render_live(segs, OPTIONS)
    assert "#EXT-X-MEDIA-SEQUENCE:5" in text
    listed = re.findall(r"^s(\d+)\.m4s$", text, re.M)
    assert listed == ["5", "6", "7"]
    with_parts = sorted({int(m) for m in re.findall(r'URI="s(\d+)\.\d+\.m4s"', text)})
    assert with_parts == [6, 7, 8]  # the last three (of window + current)


def test_a_reconnect_is_a_discontinuity_with_its_own_init_segment() -> None:
    text = render_live(runs((0, True), (0, True), (1, True), (1, False)), OPTIONS)
    assert text.index('URI="init0.mp4"') < text.index("#EXT-X-DISCONTINUITY\n")
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index('URI="init1.mp4"')
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:0" in text


def test_discontinuities_that_slid_out_are_counted() -> None:
    segs = runs((0, True), (1, True), (1, True), (2, True), (2, True), (2, True), (2, False))
    text = render_live(segs, OPTIONS)
    # window starts at s3 (first of run 2): both earlier discontinuities are gone
    assert "#EXT-X-MEDIA-SEQUENCE:3" in text
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:2" in text
    assert "#EXT-X-DISCONTINUITY\n" not in text


def test_legacy_playlist_has_no_parts() -> None:
    options = LiveOptions(target_duration=2, part_target=0.334, window=3, low_latency=False)
    text = render_live(runs((0, True), (0, False)), options)
    assert "#EXT-X-VERSION:7" in text
    assert "PART" not in text and "s1.m4s" not in text


def test_vod_lists_every_segment_from_the_start_and_ends() -> None:
    text = render_vod(runs(*[(0, True)] * 9, (1, True), (1, False)))
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.endswith("#EXT-X-ENDLIST\n")
    assert re.findall(r"^s(\d+)\.m4s$", text, re.M) == [str(i) for i in range(10)]
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-11T11:11:11.000Z" in text


def test_multivariant() -> None:
    text = render_multivariant(
        [
            Variant("live.m3u8", 3_000_000, "avc1.42e01f,mp4a.40.2", (1280, 720)),
            Variant("audio/live.m3u8", 110_000, "mp4a.40.2", None),
        ]
    )
    assert text.splitlines()[-4:] == [
        '#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=1280x720',
        "live.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=110000,CODECS="mp4a.40.2"',  # audio only: no resolution
        "audio/live.m3u8",
    ]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 8)), min_size=1, max_size=30),
    st.integers(3, 8),
)
def test_any_live_playlist_is_consistent(spec: list[tuple[int, int]], window: int) -> None:
    """Media sequence + listed segments add up; runs change only at discontinuities;
    rounded durations never exceed the target."""
    segs: list[Segment] = []
    run = 0
    for msn, (bump, parts) in enumerate(spec):
        run += 1 if bump == 0 and segs else 0
        seg = segment(msn, run, parts=parts, complete=msn < len(spec) - 1)
        seg.gap_before = bool(segs) and segs[-1].run != run
        segs.append(seg)
    text = render_live(segs, LiveOptions(2, 0.334, window))
    media_sequence = int(re.search(r"MEDIA-SEQUENCE:(\d+)", text)[1])  # type: ignore[index]
    listed = [int(m) for m in re.findall(r"^s(\d+)\.m4s$", text, re.M)]
    assert listed == list(range(media_sequence, media_sequence + len(listed)))
    assert len(listed) == min(window, len(segs) - 1)
    shown = [s for s in segs if s.msn >= media_sequence]
    changes = sum(1 for a, b in itertools.pairwise(shown) if a.run != b.run)
    assert text.count("#EXT-X-DISCONTINUITY\n") == changes
    gone = sum(1 for s in segs if s.gap_before and s.msn <= media_sequence)
    assert f"DISCONTINUITY-SEQUENCE:{gone}\n" in text
    for extinf in re.findall(r"#EXTINF:([\d.]+),", text):
        assert round(float(extinf)) <= 2 + 1
