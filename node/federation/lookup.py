"""Finding a remote actor from what a person types: ``@user@host``, ``user@host`` or a URL."""

from __future__ import annotations

from urllib.parse import quote

from node.errors import FetchError, InvalidDocument, NodeError
from node.federation.fetch import Fetcher
from node.federation.vocab import ACTIVITY_JSON, AS_NS, JRD_JSON, as_list


class LookupError_(NodeError):
    """The handle or URL does not lead to an actor; the reason says where it stopped."""


def split_handle(text: str) -> tuple[str, str] | None:
    """``(user, host)`` for ``@user@host`` or ``user@host``; None for anything else (a URL)."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        return None
    user, sep, host = text.lstrip("@").partition("@")
    if not sep or not user or not host or "@" in host or "/" in host:
        raise LookupError_(f"{text!r} is neither @user@host nor an http(s) URL")
    return user, host.lower()


async def webfinger_document(fetcher: Fetcher, user: str, host: str, *, allow_http: bool) -> dict:
    """The JRD for ``acct:user@host``: https first, then http only when allowed.

    Raises the last FetchError or InvalidDocument when no scheme answered.
    """
    resource = quote(f"acct:{user}@{host}", safe=":@")
    schemes = ("https", "http") if allow_http else ("https",)
    failure: FetchError | InvalidDocument = FetchError("no answer")
    for scheme in schemes:
        try:
            fetched = await fetcher.get_json(f"{scheme}://{host}/.well-known/webfinger?resource={resource}",
                                             accept=f"{JRD_JSON}, application/json")
        except (FetchError, InvalidDocument) as exc:
            failure = exc
            continue
        return fetched.data if isinstance(fetched.data, dict) else {}
    raise failure


async def webfinger_actor_url(fetcher: Fetcher, user: str, host: str, *, allow_http: bool) -> str:
    """The actor URL that ``acct:user@host`` links as ``self``."""
    try:
        data = await webfinger_document(fetcher, user, host, allow_http=allow_http)
    except (FetchError, InvalidDocument) as exc:
        raise LookupError_(f"WebFinger for {user}@{host} failed: {exc.reason}") from None
    for link in as_list(data.get("links")):
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        kind = str(link.get("type", ""))
        if (kind == ACTIVITY_JSON or ("application/ld+json" in kind and AS_NS in kind)) and isinstance(link.get("href"), str):
            return link["href"]
    raise LookupError_(f"acct:{user}@{host} has no ActivityPub actor link")


async def find_actor_document(fetcher: Fetcher, text: str, *, allow_http: bool) -> dict:
    """The actor document a handle or URL names (fetched from its own origin)."""
    handle = split_handle(text)
    url = text.strip() if handle is None else await webfinger_actor_url(fetcher, *handle, allow_http=allow_http)
    try:
        return await fetcher.get_activitypub(url)
    except (FetchError, InvalidDocument) as exc:
        raise LookupError_(f"could not fetch the actor at {url}: {exc.reason}") from None
