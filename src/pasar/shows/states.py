"""The show state machine: scheduled → live → ended → replay.

Only ``scheduled → live``, ``live → ended`` and ``ended → replay`` exist;
cancelling a scheduled show is a delete, not a state, and nothing goes back.
"""

from __future__ import annotations

from enum import StrEnum


class ShowState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    REPLAY = "replay"


ALLOWED: dict[ShowState, frozenset[ShowState]] = {
    ShowState.SCHEDULED: frozenset({ShowState.LIVE}),
    ShowState.LIVE: frozenset({ShowState.ENDED}),
    ShowState.ENDED: frozenset({ShowState.REPLAY}),
    ShowState.REPLAY: frozenset(),
}


def can_move(current: ShowState, target: ShowState) -> bool:
    return target in ALLOWED[current]
