"""/api/v1/webhooks: endpoints, their secrets, test events and the delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pasar.clock import utcnow
from pasar.web.deps import PageParams, SettingsWrite, page_params
from pasar.web.errors import responses
from pasar.web.idempotency import REPLAY_HEADER, IdempotencyDep
from pasar.web.serialize import from_row
from pasar.webhooks import service as webhooks
from pasar.webhooks.models import WebhookEndpoint
from pasar.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecretOut,
    SecretOut,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=responses(401, 403))
# Owners hold settings:write (hosts and moderators do not), and so may see secrets.
ENDPOINT = "/endpoints/{endpoint_id}"


class EndpointPage(BaseModel):
    data: list[EndpointOut]
    next_cursor: str | None


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


def _endpoint(e: WebhookEndpoint) -> dict[str, Any]:
    return from_row(
        EndpointOut,
        e,
        previous_secret_expires_at=webhooks.previous_secret_expires_at(e, utcnow()),
    ).model_dump(mode="json")


def _delivery(view: webhooks.DeliveryView) -> dict[str, Any]:
    return from_row(
        DeliveryOut,
        view.delivery,
        attempt_count=view.delivery.attempts,
        payload=view.payload(),
        attempts=[from_row(AttemptOut, a) for a in view.attempts],
    ).model_dump(mode="json")


@router.get("/endpoints", response_model=EndpointPage, responses=responses(400, 422))
async def list_endpoints(
    ctx: SettingsWrite, page: Annotated[PageParams, Depends(page_params)]
) -> dict[str, Any]:
    result = await webhooks.list_endpoints(
        ctx.db, ctx.vendor_id, cursor=page.cursor, limit=page.limit
    )
    return {"data": [_endpoint(e) for e in result.items], "next_cursor": result.next_cursor}


@router.post(
    "/endpoints",
    status_code=201,
    response_model=EndpointWithSecretOut,
    responses=responses(400, 409, 422),
)
async def create_endpoint(
    body: EndpointIn, ctx: SettingsWrite, idem: IdempotencyDep
) -> JSONResponse:
    """The secret is in this answer; owners can see it again at `…/secret`.

    An idempotent replay does not repeat it (the remembered answer never holds it)."""
    if replay := await idem.replay(ctx):
        return replay
    endpoint, secret = await webhooks.create_endpoint(
        ctx.db,
        ctx.services.box,
        ctx.vendor_id,
        body,
        allow_private=ctx.services.settings.webhook_allow_private_networks,
    )
    out = _endpoint(endpoint)
    response = await idem.commit(ctx, 201, {**out, "secret": "(see GET …/secret)"})
    if response.headers.get(REPLAY_HEADER):
        return response
    return JSONResponse({**out, "secret": secret}, status_code=201)


@router.get(ENDPOINT, response_model=EndpointOut, responses=responses(404))
async def get_endpoint(endpoint_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    return _endpoint(await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id))


@router.patch(ENDPOINT, response_model=EndpointOut, responses=responses(400, 404, 422))
async def update_endpoint(
    endpoint_id: str, body: EndpointPatch, ctx: SettingsWrite
) -> dict[str, Any]:
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    allow = ctx.services.settings.webhook_allow_private_networks
    await webhooks.update_endpoint(ctx.db, endpoint, body, allow_private=allow)
    out = _endpoint(endpoint)
    await ctx.db.commit()
    return out


@router.delete(ENDPOINT, status_code=204, responses=responses(404))
async def delete_endpoint(endpoint_id: str, ctx: SettingsWrite) -> Response:
    """The endpoint and its delivery log; nothing more is sent to it."""
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    await webhooks.delete_endpoint(ctx.db, endpoint)
    await ctx.db.commit()
    return Response(status_code=204)


@router.get(f"{ENDPOINT}/secret", response_model=SecretOut, responses=responses(404))
async def reveal_secret(endpoint_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    return SecretOut(
        secret=webhooks.reveal_secret(ctx.services.box, endpoint),
        previous_secret_expires_at=webhooks.previous_secret_expires_at(endpoint, utcnow()),
    ).model_dump(mode="json")


@router.post(f"{ENDPOINT}/rotate-secret", response_model=SecretOut, responses=responses(404))
async def rotate_secret(endpoint_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    """A new secret. For 24 hours messages are signed with the previous one as well
    (two `v1,` signatures), so receivers can switch over without missing one."""
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    secret = await webhooks.rotate_secret(ctx.db, ctx.services.box, endpoint)
    out = SecretOut(
        secret=secret,
        previous_secret_expires_at=webhooks.previous_secret_expires_at(endpoint, utcnow()),
    ).model_dump(mode="json")
    await ctx.db.commit()
    return out


@router.post(
    f"{ENDPOINT}/test", status_code=202, response_model=DeliveryOut, responses=responses(404, 409)
)
async def send_test(endpoint_id: str, ctx: SettingsWrite, idem: IdempotencyDep) -> JSONResponse:
    """Queue a `webhook.test` event to this endpoint; follow it in the delivery log."""
    if replay := await idem.replay(ctx):
        return replay
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    delivery = await webhooks.send_test(ctx.db, endpoint)
    view = await webhooks.get_delivery(ctx.db, ctx.vendor_id, delivery.id)
    response = await idem.commit(ctx, 202, _delivery(view))
    ctx.services.webhooks.nudge()
    return response


@router.get(
    f"{ENDPOINT}/deliveries", response_model=DeliveryPage, responses=responses(400, 404, 422)
)
async def list_deliveries(
    endpoint_id: str,
    ctx: SettingsWrite,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["pending", "sending", "succeeded", "failed"] | None = None,
) -> dict[str, Any]:
    """The delivery log, oldest first: each delivery with its payload and attempts."""
    endpoint = await webhooks.get_endpoint(ctx.db, ctx.vendor_id, endpoint_id)
    result = await webhooks.list_deliveries(
        ctx.db, endpoint, status=status, cursor=page.cursor, limit=page.limit
    )
    return {"data": [_delivery(v) for v in result.items], "next_cursor": result.next_cursor}


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut, responses=responses(404))
async def get_delivery(delivery_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    return _delivery(await webhooks.get_delivery(ctx.db, ctx.vendor_id, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses=responses(404, 409),
)
async def redeliver(delivery_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    """Send the delivery once more, now, even one that failed for good; the attempt
    appears in the log with `trigger: manual`."""
    view = await webhooks.get_delivery(ctx.db, ctx.vendor_id, delivery_id)
    await webhooks.redeliver(ctx.db, view)
    out = _delivery(view)
    await ctx.db.commit()
    ctx.services.webhooks.nudge()
    return out
