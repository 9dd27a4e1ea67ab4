"""Two shoppers chat on a show; a third drops, resumes with ?since= and misses nothing.

Every connection first sends an ``auth`` frame: empty for a new guest, or with the
guest token from an earlier snapshot to stay the same guest (tokens never go in URLs).

    .venv/bin/python examples/chat_and_resume.py ws://127.0.0.1:8000/ws/shows/<show_id>

(`pasar demo` prints the demo show's id.)
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import websockets


async def drain(ws: Any, quiet: float) -> list[dict[str, Any]]:
    """Every event until the socket is quiet for ``quiet`` seconds."""
    events: list[dict[str, Any]] = []
    try:
        while True:
            events += json.loads(await asyncio.wait_for(ws.recv(), quiet))
    except (TimeoutError, websockets.ConnectionClosed):
        return events


async def say(ws: Any, text: str) -> None:
    await ws.send(json.dumps({"type": "chat.send", "text": text}))


async def join(url: str, guest: str | None = None) -> Any:
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "auth", "guest": guest}))
    return ws


async def main(url: str) -> None:
    alice, bob, carol = [await join(url) for _ in range(3)]
    snapshots = [json.loads(await c.recv())[0] for c in (alice, bob, carol)]
    print("connected as", [s["data"]["me"]["name"] for s in snapshots])
    await say(alice, "Halo! Ada ukuran L?")
    await say(bob, "Ada kak, stok 10")
    seen = [e for e in await drain(carol, 1.5) if e["type"] == "chat.message"]
    last = seen[-1]
    print("carol saw", [(e["offset"], e["data"]["text"]) for e in seen])
    await carol.close()
    for i in range(5):  # chat 1 message/s per shopper: stay under the limit
        await say(bob if i % 2 == 0 else alice, f"pesan {i}")
        await asyncio.sleep(1.1)
    token = snapshots[2]["data"]["me"]["guest_token"]
    carol = await join(f"{url}?since={last['epoch']}:{last['offset']}", guest=token)
    missed = [e for e in await drain(carol, 1.5) if e.get("offset")]
    print("carol resumed with", [(e["offset"], e["data"].get("text")) for e in missed])
    expected = list(range(last["offset"] + 1, last["offset"] + 1 + len(missed)))
    print("nothing missed:", [e["offset"] for e in missed] == expected and len(missed) == 5)
    for ws in (alice, bob, carol):
        await ws.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
