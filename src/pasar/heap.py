"""Keep the garbage collector's full passes short while thousands of viewers watch.

CPython's full collection walks every tracked object. Each viewer's socket is
some 35 of them (the protocol, its parser, buffers, the session), so at 10,000
viewers a full pass took 600 ms, with the loop stopped: every viewer's chat
arrived that much later, several times while a crowd joined (measured with a
``gc.callbacks`` probe, docs/benchmarks.md).

Objects that will live as long as their viewer gain nothing from being walked
again and again. So when a crowd has joined (viewers grew by a tenth since
the last time, and at least ``min_viewers``), ``settle`` collects the young
generations (cheap: recent cycles are freed first) and *freezes* what is left
(``gc.freeze``): full passes then walk only what came after. Reference
counting still frees frozen objects; only a reference cycle among them waits,
for the ``unfreeze`` that follows when the audience has halved (the show is
ending), after which one full pass reclaims it with far fewer objects around.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger()


class HeapSteward:
    def __init__(self, min_viewers: int = 200, growth: float = 1.1) -> None:
        self.min_viewers = min_viewers
        self.growth = growth
        self.frozen_at = 0  # viewers when it last froze (0: nothing frozen by us)
        self.freezes = 0

    def settle(self, viewers: int) -> None:
        """Called now and then with this node's viewer count."""
        if self.frozen_at and viewers * 2 < self.frozen_at:
            log.info("heap unfrozen", viewers=viewers, frozen_at=self.frozen_at)
            self.release()
            return
        if viewers >= self.min_viewers and viewers >= self.frozen_at * self.growth:
            gc.collect(1)
            gc.freeze()
            self.freezes += 1
            log.info("heap frozen", viewers=viewers, frozen_objects=gc.get_freeze_count())
            self.frozen_at = viewers

    def release(self) -> None:
        """The node stops serving viewers: nothing stays frozen on our account."""
        if self.frozen_at:
            gc.unfreeze()
            self.frozen_at = 0
