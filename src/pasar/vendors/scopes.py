"""Scopes an API key can carry, and what each staff role may do."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    SHOWS_READ = "shows:read"
    SHOWS_WRITE = "shows:write"
    ORDERS_WRITE = "orders:write"
    ANALYTICS_READ = "analytics:read"
    MODERATION = "moderation"
    SETTINGS_WRITE = "settings:write"


class Role(StrEnum):
    OWNER = "owner"
    HOST = "host"
    MODERATOR = "moderator"


ALL_SCOPES: frozenset[str] = frozenset(s.value for s in Scope)

# A write scope implies reading the same things.
IMPLIED: dict[str, frozenset[str]] = {
    Scope.CATALOG_WRITE: frozenset({Scope.CATALOG_READ}),
    Scope.SHOWS_WRITE: frozenset({Scope.SHOWS_READ}),
}

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.OWNER: ALL_SCOPES,
    Role.HOST: frozenset(
        {
            Scope.CATALOG_READ,
            Scope.CATALOG_WRITE,
            Scope.SHOWS_READ,
            Scope.SHOWS_WRITE,
            Scope.MODERATION,
            Scope.ANALYTICS_READ,
        }
    ),
    Role.MODERATOR: frozenset({Scope.CATALOG_READ, Scope.SHOWS_READ, Scope.MODERATION}),
}


def expand(scopes: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    out = set(scopes)
    for s in scopes:
        out |= IMPLIED.get(s, frozenset())
    return frozenset(out)
