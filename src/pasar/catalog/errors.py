from pasar.errors import DomainError


class CatalogError(DomainError):
    """Anything wrong with products, variants, images or imports."""
