"""Redis clients for Pasar's own Redis (stock, throttles): one way to make them."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def pooled(
    url: str, *, connections: int, wait: float, command_timeout: float, connect_timeout: float
) -> Redis:
    """A client on a pool of ``connections``. A burst waits up to ``wait`` seconds for
    a connection instead of failing with "Too many connections"; a dead connection
    fails a command after ``command_timeout`` instead of hanging it."""
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=connections,
        timeout=wait,
        socket_timeout=command_timeout,
        socket_connect_timeout=connect_timeout,
    )
    return Redis.from_pool(pool)
