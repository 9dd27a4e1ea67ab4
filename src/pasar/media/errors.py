from pasar.errors import DomainError


class MediaError(DomainError):
    """Anything wrong with publishing (WHIP), playback or recordings."""
