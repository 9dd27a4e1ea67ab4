"""The one place Pasar reaches into aiortc/aioice internals.

aiortc decodes every received frame and offers no public hook for the
*encoded* frames; remuxing H.264 without decoding needs them. Its receiver
already reassembles each frame (Annex B for H.264) and hands it to a decoder
thread through a queue; we swap that queue for one that passes the frame to
Pasar first and to the decoder only when asked (VP8, which we must transcode).

aioice closes a connection whose peer stops answering ICE consent checks
(RFC 7675) after ~30 s; FFmpeg's WHIP muxer never answers them. Pasar detects
dead publishers by their media going quiet instead (``media.session``), so
consent expiry is switched off.

Both rely on private names of the pinned versions below; ``check()`` fails
loudly (and a test calls it) if an upgrade moved them.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from typing import Any

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver

SUPPORTED_AIORTC = "1.16.0"
_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"

# (mime type, encoded frame bytes, RTP timestamp mapped to start at 0)
FrameSink = Callable[[str, bytes, int], None]


class IncompatibleAiortc(RuntimeError):
    pass


class _TapQueue(queue.Queue[Any]):
    def __init__(self, sink: FrameSink, decode: Callable[[str], bool]) -> None:
        super().__init__()
        self._sink = sink
        self._decode = decode

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            codec, frame = item
            self._sink(codec.mimeType, frame.data, frame.timestamp)
            if not self._decode(codec.mimeType):
                return
        super().put(item, block, timeout)


def check() -> None:
    """Raise ``IncompatibleAiortc`` unless the internals used here exist."""
    if aiortc.__version__ != SUPPORTED_AIORTC:
        raise IncompatibleAiortc(
            f"aiortc {aiortc.__version__} is installed; Pasar's encoded-frame tap is "
            f"written for {SUPPORTED_AIORTC} (pasar.media.rtc_adapter)"
        )
    import aioice

    if not hasattr(aioice.Connection, "query_consent"):
        raise IncompatibleAiortc("aioice.Connection.query_consent is gone")
    if not hasattr(RTCRtpReceiver, "_send_rtcp_pli"):
        raise IncompatibleAiortc("RTCRtpReceiver._send_rtcp_pli is gone")


def tap_encoded_frames(
    receiver: RTCRtpReceiver, sink: FrameSink, decode: Callable[[str], bool]
) -> None:
    """Route ``receiver``'s encoded frames to ``sink``; call before it starts
    receiving (right after ``setRemoteDescription``)."""
    original = getattr(receiver, _QUEUE, None)
    if not isinstance(original, queue.Queue) or not hasattr(receiver, _THREAD):
        raise IncompatibleAiortc("RTCRtpReceiver's decoder queue is gone")
    if getattr(receiver, _THREAD) is not None:
        raise IncompatibleAiortc("the receiver is already decoding; tap it before it starts")
    setattr(receiver, _QUEUE, _TapQueue(sink, decode))


def keep_consent(pc: RTCPeerConnection) -> None:
    """Switch off ICE consent expiry on every transport of ``pc``."""

    async def never_expire() -> None:
        await asyncio.Event().wait()

    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        connection = getattr(ice.iceGatherer, "_connection", None)
        if connection is None or not hasattr(connection, "query_consent"):
            raise IncompatibleAiortc("aioice connection not reachable")
        connection.query_consent = never_expire


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Ask the sender for a keyframe on every SSRC it sends on (Chromium lists
    its RTX SSRC first, and a PLI for that one alone is ignored)."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
