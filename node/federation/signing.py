"""Signing our own requests with a local actor's key, in whichever scheme a host wants."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from node import keys
from node.config import Settings
from node.federation import httpsig
from node.federation.httpsig import BodyDigests
from node.federation.signpool import SignPool, SignPoolError, make_job
from node.urls import INSTANCE_ACTOR_USERNAME, Urls

CAVAGE = "cavage"
RFC9421 = "rfc9421"
log = logging.getLogger("fednode.signing")


@dataclass(frozen=True)
class ActorSigner:
    """Signs requests as one local actor: ``keyId`` is the actor's id + ``#main-key``.

    Draft-cavage is what every fediverse server understands, so it is the first
    choice; RFC 9421 is the fallback for hosts that refuse it (RFC 9421 §7 asks verifiers to
    accept what they can check; Mastodon verifies both since 4.5).
    With a ``pool`` (and the actor's ``username``), ``sign_async`` has a signing
    process do the RSA operation; ``sign`` always signs in this process.
    """

    private_key: RSAPrivateKey
    key_id: str
    username: str | None = None
    pool: SignPool | None = None

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes | None, scheme: str = CAVAGE,
             *, digests: BodyDigests | None = None) -> dict[str, str]:
        """The headers to add to this request so the receiver can verify it."""
        if scheme == RFC9421:
            return httpsig.sign_rfc9421(method, url, headers, body, self.private_key, self.key_id,
                                        content_digest=digests.content_digest if digests else None)
        return httpsig.sign_cavage(method, url, headers, body, self.private_key, self.key_id,
                                   digest=digests.digest if digests else None)

    async def sign_async(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                         scheme: str = CAVAGE, *, digests: BodyDigests | None = None) -> dict[str, str]:
        """Like ``sign``, in a signing process when there is a pool (in this one if it cannot)."""
        pool = self.pool
        if pool is not None and self.username is not None and pool.usable:
            if body is not None and digests is None:
                digests = BodyDigests(body)
            digest = None if digests is None else digests.content_digest if scheme == RFC9421 else digests.digest
            try:
                return await pool.sign(make_job(self.username, self.key_id, scheme, method, url, headers, digest))
            except SignPoolError as exc:
                log.debug("signing in this process instead: %s", exc)
        return self.sign(method, url, headers, body, scheme, digests=digests)


def signer_for(settings: Settings, username: str, pool: SignPool | None = None) -> ActorSigner:
    """The signer of local actor ``username`` (its key from ``keys_dir``), using ``pool`` if given."""
    return ActorSigner(keys.load_private_key(settings.keys_dir, username), Urls(settings.base).key_id(username),
                       username, pool)


def instance_signer(settings: Settings, pool: SignPool | None = None) -> ActorSigner:
    """The instance actor's signer: every fetch we make is signed by it (authorized fetch)."""
    return signer_for(settings, INSTANCE_ACTOR_USERNAME, pool)
