"""The key a client's address is counted and banned by.

One function for every per-address rule (sign-in throttle, claim and guest limits,
socket slots, chat limits, bans): an IPv6 subscriber usually gets a whole /64 and can
pick any address in it, so counting single IPv6 addresses would let one host dodge
each limit by changing address; an IPv4-mapped IPv6 address is the IPv4 one.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


# Cached: every claim and chat message asks, parsing an address costs more than the
# claim's own checks (docs/benchmarks.md, flash sale), and clients repeat.
@lru_cache(maxsize=8192)
def client_key(host: str | None) -> str:
    """``203.0.113.7`` → itself; ``2001:db8:1:2::9`` → ``2001:db8:1:2::/64``."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # a test client's name or a unix socket: bounded, as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
