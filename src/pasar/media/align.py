"""The audio-only rendition's segments, in step with the source's.

RFC 8216bis: segments of a show's renditions that have the same Media
Sequence Number (MSN) hold the same stretch of the show, and Low-Latency HLS
players switch rendition by MSN (``EXT-X-RENDITION-REPORT``). The audio-only
rendition has no keyframes of its own, so it takes its segment boundaries, and
their numbers, from the source's segments as the source's packager makes them,
rather than guessing them again from keyframe signals and durations (which
drifted one MSN apart whenever the two guesses disagreed).

The source's parts reach the event loop later than the sound of the same moment
whenever its video lags the audio (a busy publisher encodes pictures late, and
a part is only finished once the frame after it arrives), so the audio's parts
wait here until the source has got past them, and then go into whichever
segment the source had at that moment. The wait is bounded (``patience``,
seconds of sound held): sound goes on when the source's video stops.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

# what to do with a held item once its place is known: the MSN of the source's
# segment at the item's middle (None: no source segment that early, or not a part)
Release = Callable[[int | None], None]


class Aligner:
    def __init__(self, patience: float) -> None:
        self.patience = patience
        # the source's recent segment starts: (wall clock, msn)
        self._starts: deque[tuple[float, int]] = deque(maxlen=32)
        self._until = -math.inf  # how far (wall clock) the source's parts go
        self._held: deque[tuple[float | None, Release]] = deque()
        self._held_until = -math.inf  # where the last held part ends

    def source_part(self, msn: int, segment_start: float, part_end: float) -> None:
        """The source packaged a part of its segment ``msn`` (which starts at
        ``segment_start``) that ends at ``part_end`` (wall clock)."""
        if not self._starts or self._starts[-1][1] != msn:
            self._starts.append((segment_start, msn))
        self._until = max(self._until, part_end)
        self._release(force=False)

    def hold(self, release: Release, start: float | None = None, end: float | None = None) -> None:
        """Queue a part spanning ``start``..``end`` (wall clock), or, without
        times, something that keeps its place in the order (a new run)."""
        middle = None
        if start is not None and end is not None:
            middle = (start + end) / 2
            self._held_until = max(self._held_until, end)
        self._held.append((middle, release))
        self._release(force=False)

    def flush(self) -> None:
        """Release everything held (the rendition is finishing)."""
        self._release(force=True)

    @property
    def held(self) -> int:
        return len(self._held)

    def msn_at(self, moment: float) -> int | None:
        """The source's segment that ``moment`` is in, as far as known."""
        for start, msn in reversed(self._starts):
            if start <= moment:
                return msn
        return None

    def _release(self, force: bool) -> None:
        while self._held:
            middle, release = self._held[0]
            if middle is not None and not (
                force
                # the source is past it: no segment of the source can start
                # before it any more
                or middle < self._until
                # the source is not coming (no video): the sound goes on
                or self._held_until - middle > self.patience
            ):
                return
            self._held.popleft()
            release(None if middle is None else self.msn_at(middle))
