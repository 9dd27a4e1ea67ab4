"""When the media plane asks the publisher for the next keyframe: a segment
after the start of the source's segment being made, whatever other keyframes
arrive in between (pure timing, no media)."""

from __future__ import annotations

from pasar.media.plane import segment_started

SEGMENT = 2.0


def test_before_anything_is_packaged_the_keyframes_say_where_segments_start() -> None:
    assert segment_started(None, [], SEGMENT) is None
    # the second is too close to the first to start a segment (the packager
    # needs half a segment); the third starts one
    assert segment_started(None, [100.0, 100.3, 102.0], SEGMENT) == 102.0


def test_a_keyframe_that_starts_no_segment_does_not_put_the_next_one_off() -> None:
    """Seen under load: a request sent again while the first keyframe was on its
    way brought a second keyframe 1 s into the segment; timing the next request
    from it made that segment 2.9 s long (target 2)."""
    keys = [100.0, 101.93, 102.9]
    # the packager has seen the keyframe at 101.93 start a segment
    assert segment_started(101.93, keys, SEGMENT) == 101.93
    # ... or has not yet (its parts lag the keyframes): the keyframe will start one
    assert segment_started(100.0, keys, SEGMENT) == 101.93


def test_the_packagers_segment_counts_even_when_no_keyframe_started_it() -> None:
    """A new run (the publisher changed resolution) starts a segment at a
    keyframe only 0.6 s into the last one."""
    assert segment_started(102.6, [100.0, 102.0, 102.6], SEGMENT) == 102.6


def test_near_the_packagers_threshold_the_request_errs_early() -> None:
    """A keyframe at about half a segment may or may not start one; counting it
    as not (a keyframe too many, ignored) is safe, counting it as one is not."""
    assert segment_started(100.0, [100.0, 101.01], SEGMENT) == 100.0
