"""Signing our own requests with a local actor's key, in whichever scheme a host wants."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from node import keys
from node.config import Settings
from node.federation import httpsig
from node.urls import INSTANCE_ACTOR_USERNAME, Urls

CAVAGE = "cavage"
RFC9421 = "rfc9421"


@dataclass(frozen=True)
class ActorSigner:
    """Signs requests as one local actor: ``keyId`` is the actor's id + ``#main-key``.

    Draft-cavage is what every fediverse server understands, so it is the first
    choice; RFC 9421 is the fallback for hosts that refuse it (PROTOCOL.md §1.1).
    """

    private_key: RSAPrivateKey
    key_id: str

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes | None, scheme: str = CAVAGE) -> dict[str, str]:
        """The headers to add to this request so the receiver can verify it."""
        if scheme == RFC9421:
            return httpsig.sign_rfc9421(method, url, headers, body, self.private_key, self.key_id)
        return httpsig.sign_cavage(method, url, headers, body, self.private_key, self.key_id)


def signer_for(settings: Settings, username: str) -> ActorSigner:
    """The signer of local actor ``username`` (its key from ``keys_dir``)."""
    return ActorSigner(keys.load_private_key(settings.keys_dir, username), Urls(settings.base).key_id(username))


def instance_signer(settings: Settings) -> ActorSigner:
    """The instance actor's signer: every fetch we make is signed by it (authorized fetch)."""
    return signer_for(settings, INSTANCE_ACTOR_USERNAME)
