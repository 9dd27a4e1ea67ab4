"""A show's state changes and what follows each one, written once.

Every way a show changes state comes through :class:`ShowLifecycle`: the API's
transitions, a publisher's first frames (live), the end of the stream (WHIP
``DELETE``, a dropout's grace running out, an external media server) and the
replay publishing itself once its recording is closed. Each change is the
transition, its webhook event in the same transaction, the commit, the webhook
dispatcher nudged, then ``show.state`` on the show's channel (after the commit,
so no viewer hears of a change that did not happen). A show's end then runs
what hangs off it (``on_ended``: domains above this one, commerce closing the
show's deals and taking its pins down).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pasar.db.engine import Database
from pasar.shows import events, service
from pasar.shows.models import Show
from pasar.shows.states import ShowState

log = logging.getLogger(__name__)

# (show id, event type, data): the real-time engine's publish on the show's channel
Publish = Callable[[str, str, dict[str, Any]], Awaitable[object]]
ShowHook = Callable[[str], Awaitable[None]]


class ShowLifecycle:
    def __init__(
        self,
        db: Database,
        publish: Publish,
        nudge_webhooks: Callable[[], None],
        on_ended: Sequence[ShowHook] = (),
    ) -> None:
        self.db = db
        self.publish = publish
        self.nudge_webhooks = nudge_webhooks
        # Run once a show's end is committed, whichever way it ended.
        self.on_ended = list(on_ended)

    async def move(
        self,
        session: AsyncSession,
        show: Show,
        target: ShowState,
        playback_url: str | None = None,
    ) -> None:
        """Move ``show`` (loaded in ``session``, which this commits) to ``target``.

        An illegal move raises :class:`~pasar.shows.errors.ShowError` before
        anything is written. ``playback_url`` goes into the webhook event."""
        await service.transition(session, show, target)
        await events.emit(session, show, playback_url)
        await session.commit()
        self.nudge_webhooks()
        await self.publish(show.id, "show.state", {"state": show.state})
        if target is ShowState.ENDED:
            await self.ended(show.id)

    async def go_live(self, show_id: str) -> None:
        """A publisher's first frames: a scheduled show goes live (any other
        is left as it is)."""
        await self._move_from(show_id, ShowState.SCHEDULED, ShowState.LIVE)

    async def end(self, show_id: str) -> None:
        """The stream ended: a live show ends. What hangs off a show's end runs
        even when it had ended already (each hook is safe to run again, and a
        second run finishes what a failed first one left)."""
        if not await self._move_from(show_id, ShowState.LIVE, ShowState.ENDED):
            await self.ended(show_id)

    async def publish_replay(self, show_id: str, playback_url: str) -> bool:
        """The recording is closed: an ended show becomes its replay. False
        when the show is not ended (deleted, or moved on already)."""
        return await self._move_from(show_id, ShowState.ENDED, ShowState.REPLAY, playback_url)

    async def ended(self, show_id: str) -> None:
        """Run what hangs off the show's end (its deals close, its pins leave
        the screen). A failing hook is logged: the show's end must not be
        undone by it, and the commerce loop finishes the job later."""
        for hook in self.on_ended:
            try:
                await hook(show_id)
            except Exception:
                log.exception("a show-ended hook failed", extra={"show_id": show_id})

    async def _move_from(
        self,
        show_id: str,
        current: ShowState,
        target: ShowState,
        playback_url: str | None = None,
    ) -> bool:
        """In a session of its own, move the show only if it is ``current``."""
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is None or show.state != current:
                return False
            await self.move(session, show, target, playback_url)
        return True
