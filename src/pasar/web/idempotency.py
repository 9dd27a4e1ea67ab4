"""``Idempotency-Key`` on POSTs that create things.

The remembered answer is written in the same transaction as the thing created,
so either both exist or neither. Two concurrent requests with one key race on
the primary key: the loser's work rolls back and it answers with the winner's
response. The same key with a different request body answers 409.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.db.idempotency import IdempotencyRecord
from pasar.errors import DomainError
from pasar.web.deps import Ctx

REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyError(DomainError):
    pass


class Idempotency:
    def __init__(self, key: str | None, fingerprint: str, ttl: timedelta) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.ttl = ttl
        self._claim: IdempotencyRecord | None = None

    async def replay(self, ctx: Ctx) -> JSONResponse | None:
        """The remembered answer, or None after claiming the key for this request.

        The claim is a row inserted (not yet committed) before the route does any
        work: a concurrent request with the same key blocks on it and, once this one
        commits, fails on the primary key and answers with this request's response
        instead of doing the work a second time (which could also trip over unique
        handles or SKUs the first request just created)."""
        if self.key is None:
            return None
        remembered = await self._remembered(ctx)
        if remembered is not None:
            return remembered
        claim = IdempotencyRecord(
            vendor_id=ctx.vendor_id,
            key=self.key,
            fingerprint=self.fingerprint,
            status_code=0,
            body={},
            created_at=utcnow(),
        )
        ctx.db.add(claim)
        try:
            await ctx.db.flush()
        except IntegrityError:
            await ctx.db.rollback()  # a concurrent request with this key committed first
            winner = await self._remembered(ctx)
            if winner is None:
                raise
            return winner
        self._claim = claim
        return None

    async def _remembered(self, ctx: Ctx) -> JSONResponse | None:
        assert self.key is not None
        record = await ctx.db.get(IdempotencyRecord, (ctx.vendor_id, self.key))
        if record is None:
            return None
        if record.created_at < utcnow() - self.ttl:
            await ctx.db.delete(record)
            await ctx.db.flush()
            return None
        if record.fingerprint != self.fingerprint:
            raise IdempotencyError(
                "conflict",
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
        return JSONResponse(
            record.body, status_code=record.status_code, headers={REPLAY_HEADER: "true"}
        )

    async def commit(self, ctx: Ctx, status_code: int, body: Any) -> JSONResponse:
        """Commit the route's work together with the remembered answer."""
        if self.key is None:
            await ctx.db.commit()
            return JSONResponse(body, status_code=status_code)
        if self._claim is not None:
            self._claim.status_code = status_code
            self._claim.body = body
            self._claim.created_at = utcnow()
            await ctx.db.commit()
            return JSONResponse(body, status_code=status_code)
        ctx.db.add(
            IdempotencyRecord(
                vendor_id=ctx.vendor_id,
                key=self.key,
                fingerprint=self.fingerprint,
                status_code=status_code,
                body=body,
                created_at=utcnow(),
            )
        )
        try:
            await ctx.db.commit()
        except IntegrityError:
            await ctx.db.rollback()
            winner = await self._remembered(ctx)
            if winner is None:
                raise
            return winner
        return JSONResponse(body, status_code=status_code)


async def idempotency(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Retrying with the same key returns the first answer and creates nothing.",
        ),
    ] = None,
) -> Idempotency:
    body = await request.body()
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    digest.update(body)
    ttl = timedelta(hours=request.app.state.services.settings.idempotency_ttl_hours)
    return Idempotency(idempotency_key, digest.hexdigest(), ttl)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


async def purge_expired(db: AsyncSession, ttl: timedelta) -> int:
    """Forget answers older than the TTL (run at start-up and periodically)."""
    result = await db.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - ttl)
    )
    await db.commit()
    return int(getattr(result, "rowcount", 0) or 0)
