"""Which URLs an endpoint may have, and which addresses a delivery may connect to.

Without ``PASAR_WEBHOOK_ALLOW_PRIVATE_NETWORKS`` a vendor must not be able to make
Pasar's servers call into the operator's own network (SSRF): the cloud metadata
service at 169.254.169.254, a database on 10.x, the admin port on localhost. So an
endpoint's host must be, and resolve only to, publicly routable addresses. The URL
is checked when it is saved, and the addresses again at every connection
(``GuardedBackend``), since DNS can change after the check.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import typing
from urllib.parse import urlsplit

import httpcore
import httpx

from pasar.webhooks.errors import WebhookCode, WebhookError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which
    could reach IPv4 hosts behind a public-looking IPv6 form."""
    out = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        out.extend(ip.teredo)
    if any(ip in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast, and so is any IPv4 address embedded in it."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _V4_COMPATIBLE:
            return False
        return all(is_public(v4) for v4 in embedded_ipv4(ip))
    return True


def _invalid(message: str, code: WebhookCode = "invalid_url") -> WebhookError:
    return WebhookError("invalid", code, message)


def parse_url(url: str) -> tuple[str, str]:
    """Check the URL's form; return it (stripped) and its host. No DNS here."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _invalid("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
        host = parts.hostname
    except ValueError as exc:
        raise _invalid(f"the URL is not valid: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid("the URL must start with https:// or http://")
    if parts.username is not None or parts.password is not None:
        raise _invalid("the URL must not contain a user name or password")
    if not host:
        raise _invalid("the URL has no host")
    if port == 0:
        raise _invalid("the URL's port must be 1 to 65535")
    try:
        httpx.URL(url)  # what the sender will parse: refuse here what it would refuse later
    except (httpx.InvalidURL, ValueError) as exc:
        raise _invalid(f"the URL is not valid: {exc}") from exc
    return url, host


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


async def resolve(host: str, port: int = 443) -> list[IPAddress]:
    """Every address the host resolves to (the system resolver, in a thread)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _refused(host: str, ip: IPAddress) -> str:
    return (
        f"{host} is or resolves to {ip}, which is not a public address (loopback, private, "
        "link-local, multicast or reserved); PASAR_WEBHOOK_ALLOW_PRIVATE_NETWORKS allows it"
    )


async def check_url(url: str, *, allow_private: bool) -> str:
    """The URL to store, or a WebhookError saying why it cannot be an endpoint.

    A name that does not resolve (yet) is accepted: its addresses are checked again
    at every delivery, which then fails until it resolves to a public address."""
    url, host = parse_url(url)
    if allow_private:
        return url
    if host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        raise _invalid(_refused(host, ipaddress.ip_address("127.0.0.1")), "url_not_allowed")
    literal = _literal(host)
    try:
        addresses = [literal] if literal is not None else await resolve(host)
    except (OSError, TimeoutError, UnicodeError):
        return url
    for ip in addresses:
        if not is_public(ip):
            raise _invalid(_refused(host, ip), "url_not_allowed")
    return url


class RefusedAddress(httpcore.ConnectError):
    """The host resolved to an address deliveries must not reach."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself, refuses non-public addresses, then connects to an
    address it checked (never re-resolving), so a DNS answer that changes between the
    check and the connection cannot slip through."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = _literal(host)
        try:
            addresses = [literal] if literal is not None else await resolve(host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        for ip in addresses:
            if not is_public(ip):
                raise RefusedAddress("refused: " + _refused(host, ip))
        last: Exception | None = None
        for ip in dict.fromkeys(addresses):  # in the resolver's order, each once
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """How deliveries verify TLS: certifi's CA bundle, as httpx does by default, but
    read once per process (httpx reads it again for every transport, ~20 ms)."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with every TCP connection made through ``GuardedBackend``."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(verify=tls_context(), trust_env=False, limits=limits)
        # httpx takes no network backend, so its pool is rebuilt with ours (the same
        # arguments httpx passes, minus proxies, which webhooks never use).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )
