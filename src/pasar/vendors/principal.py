"""Who is calling: an API key or a signed-in staff member, always of one vendor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pasar.vendors.errors import VendorError


@dataclass(frozen=True, slots=True)
class Principal:
    vendor_id: str
    kind: Literal["api_key", "staff"]
    scopes: frozenset[str]
    # The API key id, or the staff user id.
    actor_id: str
    role: str | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise VendorError(
                "forbidden",
                "missing_scope",
                f"this credential lacks the '{scope}' scope",
                {"required_scope": scope},
            )
