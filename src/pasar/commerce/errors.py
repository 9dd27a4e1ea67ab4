from pasar.errors import DomainError


class CommerceError(DomainError):
    """Anything wrong with pins, deals, claims, reservations, carts or coupons."""
