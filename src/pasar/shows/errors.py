from pasar.errors import DomainError


class ShowError(DomainError):
    """Anything wrong with shows, line-ups, state changes or stream keys."""
