"""A show's webhook events, enqueued in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pasar import webhooks
from pasar.shows.models import Show
from pasar.shows.states import ShowState

EVENTS: dict[ShowState, str] = {
    ShowState.SCHEDULED: "show.scheduled",
    ShowState.LIVE: "show.live",
    ShowState.ENDED: "show.ended",
    ShowState.REPLAY: "replay.ready",
}


def data(show: Show, playback_url: str | None = None) -> dict[str, Any]:
    """The show's public fields (and where to watch it, when the caller knows)."""
    out: dict[str, Any] = {
        "id": show.id,
        "title": show.title,
        "state": show.state,
        "scheduled_at": show.scheduled_at,
        "started_at": show.started_at,
        "ended_at": show.ended_at,
    }
    if playback_url:
        out["playback_url"] = playback_url
    return out


async def emit(db: AsyncSession, show: Show, playback_url: str | None = None) -> None:
    """The event for the state the show is in now (call it right after the change)."""
    event = EVENTS[ShowState(show.state)]
    await webhooks.enqueue(db, show.vendor_id, event, data(show, playback_url))
