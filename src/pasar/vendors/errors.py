from pasar.errors import DomainError


class VendorError(DomainError):
    """Anything wrong with vendors, staff, sessions or API keys."""
