"""Who is asking: the client's address, through the reverse proxies we trust (``trusted_proxies``).

``X-Forwarded-For`` is only believed when the connection comes from a trusted proxy, and is read
from the right: each trusted proxy appends the address it saw, so the first address from the
right that is not a trusted proxy is the client (what nginx's ``real_ip_recursive on`` does).
IPv6 clients are counted by their /64, the block one subscriber usually gets.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from node.app import NODE

MAX_HOPS = 20


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # reported by check-config
    return tuple(networks)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().split("%")[0]
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(request: web.Request) -> str:
    """The client's address as a rate-limit key: an IPv4 address, an IPv6 /64, or "unknown"."""
    trusted = _networks(tuple(request.app[NODE].settings.trusted_proxies))
    peer = _parse(request.remote or "")
    if peer is None:
        return "unknown"
    address = peer
    if any(peer in network for network in trusted):
        hops = [hop for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")]
        for hop in reversed(hops[-MAX_HOPS:]):
            parsed = _parse(hop)
            if parsed is None:
                break
            address = parsed
            if not any(parsed in network for network in trusted):
                break
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
