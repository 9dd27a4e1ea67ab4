"""Callbacks from an external media server (``PASAR_MEDIA_SERVER``): MediaMTX's
HTTP authentication and ready/not-ready hooks, nginx-rtmp's ``on_publish``,
``on_publish_done`` and ``on_update``. The logic is in pasar.media.external.

They are for the media server, not for API clients, so they are left out of
the OpenAPI document; docs/operations.md shows how to configure each server.
A 2xx answer allows, any 4xx refuses; each first needs the hook secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from pasar.media import external
from pasar.media.errors import MediaError
from pasar.services import Services
from pasar.web.deps import get_services

router = APIRouter(prefix="/hooks", include_in_schema=False)
ServicesDep = Annotated[Services, Depends(get_services)]
SecretQuery = Annotated[str | None, Query(alias="secret", max_length=200)]


async def _body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > external.MAX_HOOK_BODY_BYTES:
            raise MediaError("too_large", "too_large", "the callback body is too large")
    return bytes(body)


def _authorise(
    services: Services, server: external.MediaServer, request: Request, secret: str | None
) -> None:
    presented = request.headers.get(external.HOOK_SECRET_HEADER) or secret
    external.check_secret(services.settings, server, presented)


# -- MediaMTX -----------------------------------------------------------------------


@router.post("/mediamtx/auth")
async def mediamtx_auth(
    request: Request, services: ServicesDep, secret: SecretQuery = None
) -> Response:
    """``authHTTPAddress``: publish with the show's key to ``live/<show_id>``;
    read and playback while the show is live (or its replay is up)."""
    _authorise(services, "mediamtx", request, secret)
    req = external.parse_mediamtx_auth(await _body(request))
    await services.external.mediamtx_auth(req)
    return Response(status_code=204)


PathQuery = Annotated[str, Query(min_length=1, max_length=200)]


@router.post("/mediamtx/ready")
async def mediamtx_ready(
    request: Request, services: ServicesDep, path: PathQuery, secret: SecretQuery = None
) -> Response:
    """``runOnReady``: the path has its publisher."""
    _authorise(services, "mediamtx", request, secret)
    await services.external.mediamtx_ready(path)
    return Response(status_code=204)


@router.post("/mediamtx/not_ready")
async def mediamtx_not_ready(
    request: Request, services: ServicesDep, path: PathQuery, secret: SecretQuery = None
) -> Response:
    """``runOnNotReady``: the publisher left; the show is reconnecting."""
    _authorise(services, "mediamtx", request, secret)
    await services.external.mediamtx_not_ready(path)
    return Response(status_code=204)


# -- nginx-rtmp ---------------------------------------------------------------------


async def _nginx_call(
    request: Request, services: Services, secret: str | None
) -> external.NginxCall:
    _authorise(services, "nginx-rtmp", request, secret)
    body = await _body(request)
    return external.parse_nginx_call(body, request.headers.get("content-type", ""))


@router.post("/nginx-rtmp/on_publish")
async def nginx_on_publish(
    request: Request, services: ServicesDep, secret: SecretQuery = None
) -> Response:
    """The stream name is the stream key: a redirect renames the stream to the
    show id, so neither the HLS path nor the RTMP stream carries the key."""
    call = await _nginx_call(request, services, secret)
    show_id = await services.external.nginx_publish(call)
    return Response(status_code=302, headers={"Location": show_id})


@router.post("/nginx-rtmp/on_publish_done")
async def nginx_on_publish_done(
    request: Request, services: ServicesDep, secret: SecretQuery = None
) -> Response:
    call = await _nginx_call(request, services, secret)
    await services.external.nginx_publish_done(call)
    return Response(status_code=204)


@router.post("/nginx-rtmp/on_update")
async def nginx_on_update(
    request: Request, services: ServicesDep, secret: SecretQuery = None
) -> Response:
    """A refusal drops the publisher: a show ended in the studio stops its stream."""
    call = await _nginx_call(request, services, secret)
    await services.external.nginx_update(call)
    return Response(status_code=204)
