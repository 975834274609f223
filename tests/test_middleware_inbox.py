"""An inbox POST passes the middlewares a server needs, not those of browsers.

Another server delivering an activity gets its request id, the security headers and the
JSON error answers like every request, but no session lookup, no cookie (not even the
deletion of a stale one) and no wait for the site settings; a page still gets all three.
"""

from __future__ import annotations

from node.members import sessions
from node.web import session as session_module
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.support import make_settings, running_node


async def test_an_inbox_post_gets_a_request_id_and_no_cookie_or_session_lookup(tmp_path, http, monkeypatch):
    lookups, reads = [], []
    find_session = sessions.find_session

    async def counted_find_session(node, token):
        lookups.append(token)
        return await find_session(node, token)

    monkeypatch.setattr(session_module.sessions, "find_session", counted_find_session)
    async with fake_remote() as remote, running_node(make_settings(tmp_path)) as node:
        site = node.node.site
        fresh = site.fresh

        async def counted_fresh():
            reads.append(1)
            return await fresh()

        monkeypatch.setattr(site, "fresh", counted_fresh)
        alice = remote.add_actor("alice")
        stale = {"Cookie": "fednode_session=not-a-session-token-of-this-node; fednode_csrf=x"}
        for path in ("/inbox", "/actors/forum/inbox", "/actor/inbox"):
            async with http.post(node.url(path), data=b"{}", headers={
                    **stale, "Content-Type": "application/activity+json", "X-Request-Id": "inbox-req-1"}) as response:
                assert response.status == 401  # unsigned: refused by the inbox itself
                assert response.headers["X-Request-Id"] == "inbox-req-1"
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert "Set-Cookie" not in response.headers
            status, body = await signed_post(http, node.url(path), reply_to(node.url("/articles/x"), alice), alice,
                                             headers=stale)
            assert status == 202, body
        async with http.post(node.url("/actors/nobody/inbox"), data=b"{}", headers={
                **stale, "Content-Type": "application/activity+json"}) as response:
            assert response.status == 404 and (await response.json())["error"]  # the JSON error answer
            assert len(response.headers["X-Request-Id"]) == 32 and "Set-Cookie" not in response.headers
        assert lookups == [] and reads == []

        # A page with the same stale cookie: the session is looked up, the cookie deleted, the settings read.
        async with http.get(node.url("/"), headers=stale) as response:
            assert response.status == 200
            assert "fednode_session=" in response.headers.get("Set-Cookie", "")
            assert response.headers["X-Request-Id"]
        assert lookups == ["not-a-session-token-of-this-node"] and reads == [1]
