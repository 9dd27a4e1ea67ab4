from pasar.errors import DomainError


class RealtimeError(DomainError):
    """Anything wrong with chat, moderation, polls or the show socket."""
