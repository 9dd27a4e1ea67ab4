"""Anything wrong with publishing (WHIP), playback or recordings."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
MediaCode = Literal[
    "not_found",
    "bad_request", "bad_sdp", "unsupported_codec", "no_video", "wrong_path", "too_large",
    "unauthorized", "forbidden", "publisher_active", "show_over", "not_playing",
    "no_recording", "external_media_server",
]
# fmt: on


class MediaError(DomainError[MediaCode]):
    """Anything wrong with publishing (WHIP), playback or recordings."""
