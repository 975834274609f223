"""The one exception hierarchy of Fednode.

Every error the node raises on purpose is a ``NodeError``; each carries a short
human-readable reason that is safe to send back to a remote server.
"""


class NodeError(Exception):
    """Base of every deliberate Fednode error."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason or self.__class__.__name__


class ConfigError(NodeError):
    """A setting is missing or invalid; the reason names the setting."""


class InvalidDocument(NodeError):
    """A JSON document is malformed, too deep, too wide or of the wrong shape."""


class SignatureError(NodeError):
    """An HTTP signature is missing, malformed, too weak, stale or does not verify."""


class KeyMismatch(SignatureError):
    """The signature verified, but its key does not belong to the activity's actor."""


class FetchError(NodeError):
    """A remote document could not be fetched (or was refused by our guard)."""


class HostUnreachable(FetchError):
    """The remote server did not answer: timeout, refused or reset connection, DNS failure.

    Unlike a 404 or a bad document, this says something about the host itself,
    so it (and a 5xx) is what counts toward pausing a host.
    """


class BlockedAddress(FetchError):
    """The URL resolves to an address we never connect to (loopback, private, ...)."""


class BlockedDomain(BlockedAddress):
    """The URL's host is one the operator blocked (setting ``blocked_domains``)."""


class ResponseTooLarge(FetchError):
    """The body (after decompression) is over the configured cap."""


class BadStatus(FetchError):
    """The remote answered with a status other than 200."""

    def __init__(self, reason: str = "", status: int = 0) -> None:
        super().__init__(reason)
        self.status = status


class NotFound(BadStatus):
    """The remote answered 404."""


class Gone(BadStatus):
    """The remote answered 410 (a deleted object or actor)."""


class BadContentType(FetchError):
    """The remote answered with a content type that is not ActivityStreams."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class OriginMismatch(NodeError):
    """An id, key or object is claimed from a host that does not own it."""


class Blocked(NodeError):
    """The request comes from (or the URL points to) a domain the operator blocked."""
