"""What the fan-out benchmark checks: that nothing was lost. After the window the
server answers every chat message (ack or refusal) once it has published it, and
every probe must then reach the last offset any probe saw."""

from __future__ import annotations

import asyncio

from _fanout.clients import Probe, Sender


async def drain(probes: list[Probe], senders: list[Sender], chats: int, seconds: float) -> bool:
    """Wait up to ``seconds`` until every chat message was answered and every probe
    still connected has the last offset; whether that happened (settled)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    settled = False
    while not settled and loop.time() < until:
        await asyncio.sleep(0.1)
        top = max((p.last or 0 for p in probes), default=0)
        settled = sum(s.answered for s in senders) >= chats and all(
            p.gone or p.last == top for p in probes
        )
    return settled


def offsets(probes: list[Probe]) -> dict[str, int]:
    """``lost``: offsets missing on the probes, ``gaps`` (skipped) plus ``tail`` (never
    received by the end of the drain, probes the server dropped included)."""
    top = max((p.last or 0 for p in probes), default=0)
    gaps = sum(p.lost for p in probes)
    tail = sum(top - (p.last or 0) for p in probes)
    return {
        "lost": gaps + tail,
        "gaps": gaps,
        "tail": tail,
        "dupes": sum(p.dupes for p in probes),
        "last_offset": top,
    }
