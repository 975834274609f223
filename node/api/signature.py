"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``, sent as ``X-Fednode-Signature: t=…,v1=…``.

The scheme is Stripe's (https://docs.stripe.com/webhooks#verify-manually): the timestamp is
signed with the body, so a captured request cannot be replayed later than the receiver's
tolerance, and ``v1=`` names the scheme so another can be added beside it.  Pure functions:
the node signs with ``sign``; ``verify`` is what a receiver runs (docs/api.md shows it in a few
lines of Python), and the tests use it against real deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Fednode-Signature"
TOLERANCE_SECONDS = 300  # Stripe's default: a signature older (or newer) than this is refused


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> str:
    """The ``X-Fednode-Signature`` header value for ``body`` sent now."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` within ``tolerance`` seconds of now."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit() or len(stamps[0]) > 12:
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
