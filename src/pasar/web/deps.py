"""Request dependencies: the services, a database session, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from pasar.ids import id_shaped
from pasar.services import Services
from pasar.shows.errors import ShowError
from pasar.shows.models import Show
from pasar.vendors import service as vendors
from pasar.vendors.errors import VendorError
from pasar.vendors.principal import Principal
from pasar.vendors.scopes import Scope

SESSION_COOKIE = "pasar_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Puts the API key in the OpenAPI document on exactly the operations that take
# one (so /healthz and /auth/login show as public). authenticate() reads the
# header itself: a studio session cookie is the other way in.
API_KEY_SCHEME = HTTPBearer(
    scheme_name="apiKey", description="A vendor API key (pk_…).", auto_error=False
)
ApiKeyDoc = Annotated[HTTPAuthorizationCredentials | None, Security(API_KEY_SCHEME)]


# Dependencies are ``async def`` even when they never await: FastAPI runs a plain
# ``def`` dependency in a worker thread, a thread hop on every request.
async def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


async def get_db(
    services: Annotated[Services, Depends(get_services)],
) -> AsyncIterator[AsyncSession]:
    async with services.db.session() as session:
        yield session


async def find_show(services: Services, show_id: str) -> Show:
    """The show a public URL names, whichever vendor's (its id is what shoppers are
    given), or not found. The session closes before the caller opens its own."""
    if not id_shaped(show_id):
        raise ShowError.not_found("show")
    async with services.db.session() as db:
        show = await db.get(Show, show_id)
    if show is None:
        raise ShowError.not_found("show")
    return show


@dataclass
class Ctx:
    """What a route needs: a session, the caller, and the app's services."""

    db: AsyncSession
    principal: Principal
    services: Services

    @property
    def vendor_id(self) -> str:
        return self.principal.vendor_id


async def authenticate(request: Request, db: AsyncSession, services: Services) -> Principal:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise VendorError(
                "unauthorized", "invalid_credentials", "use 'Authorization: Bearer <API key>'"
            )
        return await vendors.authenticate_api_key(db, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal, session = await vendors.authenticate_session(
            db, cookie, services.session_ttl, services.session_max_age
        )
        if request.method not in SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
                raise VendorError(
                    "forbidden", "csrf_failed", f"missing or wrong {CSRF_HEADER} header"
                )
        request.state.staff_session_id = session.id
        return principal
    raise VendorError(
        "unauthorized", "unauthenticated", "an API key or a studio session is required"
    )


def requires(scope: Scope | None) -> Callable[..., Awaitable[Ctx]]:
    """The caller, holding ``scope`` (None: any signed-in caller)."""

    async def dependency(
        request: Request,
        db: Annotated[AsyncSession, Depends(get_db)],
        services: Annotated[Services, Depends(get_services)],
        _: ApiKeyDoc,
    ) -> Ctx:
        principal = await authenticate(request, db, services)
        if scope is not None:
            principal.require(scope)
        return Ctx(db=db, principal=principal, services=services)

    return dependency


# The caller, holding the scope the route needs.
AnalyticsRead = Annotated[Ctx, Depends(requires(Scope.ANALYTICS_READ))]
CatalogRead = Annotated[Ctx, Depends(requires(Scope.CATALOG_READ))]
CatalogWrite = Annotated[Ctx, Depends(requires(Scope.CATALOG_WRITE))]
OrdersWrite = Annotated[Ctx, Depends(requires(Scope.ORDERS_WRITE))]
SettingsWrite = Annotated[Ctx, Depends(requires(Scope.SETTINGS_WRITE))]
ShowsRead = Annotated[Ctx, Depends(requires(Scope.SHOWS_READ))]
ShowsWrite = Annotated[Ctx, Depends(requires(Scope.SHOWS_WRITE))]
any_principal = requires(None)


@dataclass(frozen=True)
class PageParams:
    cursor: str | None
    limit: int


async def page_params(
    cursor: Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)
