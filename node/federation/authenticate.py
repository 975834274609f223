"""Who sent this request: verify an HTTP signature against its owner's key.

Shared by the inbox (POST) and by authorized fetch (signed GETs of our documents).
Every failure is a typed error whose reason can go back to the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Collection, Mapping, Sequence

from multidict import CIMultiDict

from node.errors import Blocked, FetchError, InvalidDocument, SignatureError
from node.federation import httpsig
from node.federation.actors import KeyResolver, ResolvedKey
from node.federation.netguard import host_of, is_blocked


@dataclass(frozen=True)
class Authenticated:
    """A request whose signature verified with the key of ``owner``."""

    signature: httpsig.VerifiedSignature
    key: ResolvedKey

    @property
    def owner(self) -> str:
        return self.key.owner


def signature_input(method: str, target_uri: str, headers: Any, body: bytes, now: datetime | None = None) -> httpsig.SignatureInput:
    """Parse and pre-check the request's signature (no key needed); SignatureError when absent or bad."""
    if ("Signature" not in headers and "signature" not in headers
            and "Signature-Input" not in headers and "signature-input" not in headers):
        raise SignatureError("request is not signed")
    return httpsig.parse_request_signature(method, target_uri, headers, body, now=now or datetime.now(timezone.utc))


async def verify(
    sig: httpsig.SignatureInput, resolver: KeyResolver, blocked_domains: Collection[str],
) -> Authenticated:
    """Find the key of a parsed signature and check it; refetch the key once on failure (rotation).

    Raises Blocked (403), SignatureError/KeyMismatch (401).
    """
    try:
        key_host = host_of(sig.key_id)
    except InvalidDocument:
        raise SignatureError("keyId is not a valid URL") from None
    if is_blocked(key_host, blocked_domains):
        raise Blocked(f"{key_host} is blocked here")
    try:
        key = await resolver.resolve(sig.key_id)
    except FetchError as exc:
        raise SignatureError(f"could not fetch the signing key: {exc.reason}") from None
    try:
        verified = httpsig.verify_signature(sig, key.public_key)
    except SignatureError:
        if not key.from_cache:
            raise
        try:
            key = await resolver.resolve(sig.key_id, refresh=True)
        except FetchError as exc:
            raise SignatureError(f"signature does not verify and the key could not be refetched: {exc.reason}") from None
        verified = httpsig.verify_signature(sig, key.public_key)
    return Authenticated(verified, key)


def target_uri(scheme: str, host: str, raw_path: str) -> str:
    """The URL the sender addressed: our public scheme, the host, the raw path and query."""
    return f"{scheme}://{host}{raw_path}"


def addressed_to_us(
    scheme: str, our_hosts: Sequence[str], arrived_host: str, raw_path: str, headers: Mapping[str, str],
) -> tuple[str, CIMultiDict[str]]:
    """The target URI and headers to verify a signature against: as addressed to one of ``our_hosts``.

    A signature covers the host (cavage's ``host`` header, RFC 9421's ``@authority``),
    and it must be one of ours: the ``Host`` that arrived is used only when it names
    one of ``our_hosts``, else the first of them is.  So a request signed for another
    server (captured on its way there and replayed here with that server's ``Host``)
    does not verify.
    """
    arrived = (arrived_host or "").lower()
    host = arrived if arrived in our_hosts else our_hosts[0]
    checked = CIMultiDict(headers)
    checked["Host"] = host
    return target_uri(scheme, host, raw_path), checked

