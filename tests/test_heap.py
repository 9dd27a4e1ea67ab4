"""The heap steward freezes a settled crowd's objects and lets go when it leaves."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pasar.heap import HeapSteward


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Viewer:
    def __init__(self) -> None:
        self.peer: Viewer | None = None


def _walked(obj: object) -> bool:
    """Whether a full collection would walk ``obj`` (frozen objects are not listed)."""
    return any(o is obj for o in gc.get_objects())


def test_a_crowd_is_frozen_once_it_grows_and_let_go_when_it_halves() -> None:
    steward = HeapSteward(min_viewers=1000, growth=1.25)
    early = Viewer()
    steward.settle(500)
    assert _walked(early), "a small audience: full passes are short anyway"

    steward.settle(1000)
    assert steward.freezes == 1 and not _walked(early)
    late = Viewer()
    steward.settle(1200)  # grew by less than a quarter: nothing new
    assert steward.freezes == 1 and _walked(late)
    steward.settle(1250)
    assert steward.freezes == 2 and not _walked(late)

    steward.settle(600)  # the audience halved: everything is walked again
    assert _walked(early) and _walked(late) and gc.get_freeze_count() == 0
    steward.settle(1000)
    assert steward.freezes == 3
    steward.release()  # the hub closes
    assert _walked(early) and gc.get_freeze_count() == 0


def test_a_frozen_cycle_waits_for_the_unfreeze_then_is_reclaimed() -> None:
    steward = HeapSteward(min_viewers=1, growth=1.25)
    a, b = Viewer(), Viewer()
    a.peer, b.peer = b, a
    gone = weakref.ref(a)
    steward.settle(10)
    del a, b
    gc.collect()
    assert gone() is not None, "frozen: a full pass does not walk it"
    steward.settle(4)
    gc.collect()
    assert gone() is None
