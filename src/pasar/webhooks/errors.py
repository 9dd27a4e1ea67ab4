from pasar.errors import DomainError


class WebhookError(DomainError):
    """Anything wrong with webhook endpoints, secrets or deliveries."""
