"""Anything wrong with webhook endpoints, secrets or deliveries."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
WebhookCode = Literal[
    "not_found", "invalid_url", "url_not_allowed",
    "endpoint_disabled", "attempt_in_flight",
]
# fmt: on


class WebhookError(DomainError[WebhookCode]):
    """Anything wrong with webhook endpoints, secrets or deliveries."""
