"""Helpers for tests of replying from one's own server: a WebFinger answer with a subscribe template, the form.

The reader's server is a fake answering WebFinger (RFC 7033) as Mastodon does, with the OStatus
``subscribe`` link whose template the node sends the reader to; ``submit`` fills and posts the
node's /interact form with the CSRF token the form carries.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tests.members_support import form_token

JRD = "application/jrd+json"
SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"


def jrd(remote, user: str = "alice", template: str | None = "{base}/authorize_interaction?uri={{uri}}") -> dict:
    """A Mastodon-shaped WebFinger answer for ``user`` on ``remote``, with a subscribe template unless None."""
    links = [
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f"{remote.base}/@{user}"},
        {"rel": "self", "type": "application/activity+json", "href": f"{remote.base}/users/{user}"},
    ]
    if template is not None:
        links.append({"rel": SUBSCRIBE, "template": template.format(base=remote.base)})
    host = remote.base.removeprefix("http://")
    return {"subject": f"acct:{user}@{host}", "links": links}


async def submit(http, node, handle: str, uri: str, headers: dict | None = None, *, form_of: str | None = None):
    """Open the form, POST it with its CSRF token; return (status, Location, Set-Cookie morsel or None, body).

    The token comes from the form of ``uri``, or of ``form_of`` when ``uri`` is one the node has no form for.
    """
    token = await form_token(http, node.url("/interact?" + urlencode({"uri": form_of or uri})))
    async with http.post(node.url("/interact"), data={"handle": handle, "uri": uri, "csrf": token}, allow_redirects=False,
                         headers=headers or {}) as response:
        cookie = SimpleCookie(response.headers.get("Set-Cookie", "")).get("fednode_handle")
        return response.status, response.headers.get("Location"), cookie, await response.text()
