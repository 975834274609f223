"""The moderators' web pages over real HTTP: the queue, reports, blocks and the mod log.

A real node with the shipped moderation defaults receives signed, Mastodon-shaped
replies from a fake server, whose ``fan`` follows the site Group; a moderator signs
in, reads each page and submits its plain forms (with the CSRF token the page
carries), and the decision reaches the fediverse as from ``fednode mod``.
"""

from __future__ import annotations

import csv
import io
import re

import aiohttp
import pytest

from node.db import moderation as db
from node.federation.vocab import AS_NS
from node.members.roles import Role
from tests.fakes.remote import fake_remote
from tests.members_fed_support import received as delivered
from tests.members_support import login, make_member
from tests.moderation_support import held_reply, post, set_up_forum
from tests.support import POLICY_DEFAULTS, make_settings, running_node, wait_for
from tests.threads_support import comment as stored, create, note, page

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def signed_in(node, name: str, role: Role) -> aiohttp.ClientSession:
    """A browser-like client session signed in as a new member with ``role``."""
    await make_member(node, name, role=role)
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1
    await login(client, node.base, name)
    return client


async def form_page(client, url: str) -> tuple[str, str]:
    """A page's HTML and the CSRF token its forms carry."""
    async with client.get(url) as response:
        assert response.status == 200, url
        html = await response.text()
    match = CSRF.search(html)
    assert match, f"no form on {url}"
    return html, match.group(1)


async def submit(client, url: str, token: str, **fields) -> aiohttp.ClientResponse:
    """POST a form as a browser does, without following the 303."""
    async with client.post(url, data={"csrf": token, **fields}, allow_redirects=False) as response:
        await response.read()
        return response


@pytest.fixture
async def forum(tmp_path):
    """A node holding first comments (WordPress's default), an article, a Group follower, and a moderator."""
    async with running_node(make_settings(tmp_path, **POLICY_DEFAULTS)) as node:
        async with fake_remote() as remote:
            actors, article = await set_up_forum(node, remote)
            client = await signed_in(node, "mia", Role.MODERATOR)
            try:
                yield node, remote, actors, article, client
            finally:
                await client.close()


async def test_the_queue_lists_a_held_comment_with_the_rule_that_held_it(forum, http):
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "First words here")
    comment = await stored(node, reply["object"]["id"])
    html, _ = await form_page(client, node.url("/admin/queue"))
    assert "First words here" in html and f'id="q-{comment.id}"' in html
    assert "Held by rule <strong>first-comments</strong>" in html
    assert f'action="/admin/comments/{comment.id}/approve"' in html and "Topic" in html


async def test_approving_from_the_queue_shows_the_comment_and_the_group_announces_it(forum, http):
    """Approve: 303 back to the queue saying so, the comment on the article page, the Announce at the follower,
    the moderator's name in the mod log."""
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "Hello there")
    comment = await stored(node, reply["object"]["id"])
    _, token = await form_page(client, node.url("/admin/queue"))
    response = await submit(client, node.url(f"/admin/comments/{comment.id}/approve"), token,
                            back="/admin/queue?state=held")
    assert response.status == 303 and response.headers["Location"] == "/admin/queue?state=held&done=approve"
    announce = (await wait_for(lambda: delivered(remote, "Announce")))[0]
    assert announce["actor"] == node.url("/actors/forum") and announce["object"]["id"] == reply["id"]
    assert "Hello there" in await page(node, http)
    async with client.get(node.url(response.headers["Location"])) as shown:
        assert "Approved: the comment is shown" in await shown.text()
    async with node.node.sessions() as session:
        entry = (await db.list_log(session, limit=1))[0]
    assert (entry.moderator, entry.action, entry.target) == ("mia", "approve", reply["object"]["id"])


async def test_rejecting_from_the_queue_sends_the_authors_server_a_reject(forum, http):
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["bob"], article, "buy pills")
    comment = await stored(node, reply["object"]["id"])
    _, token = await form_page(client, node.url("/admin/queue"))
    response = await submit(client, node.url(f"/admin/comments/{comment.id}/reject"), token, reason="spam")
    assert response.status == 303
    reject = (await wait_for(lambda: delivered(remote, "Reject")))[0]
    assert reject["object"] == reply["object"]["id"]
    assert (await stored(node, reply["object"]["id"])).moderation == "rejected"
    assert delivered(remote, "Announce") == []


async def test_removing_a_shown_comment_with_a_reason_then_restoring_it(forum, http):
    """Remove (from the "Shown" tab): placeholder on the page, the Group's Delete carries the reason; restore."""
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "rude words")
    comment = await stored(node, reply["object"]["id"])
    _, token = await form_page(client, node.url("/admin/queue"))
    await submit(client, node.url(f"/admin/comments/{comment.id}/approve"), token)
    await wait_for(lambda: delivered(remote, "Announce"))
    html, token = await form_page(client, node.url("/admin/queue?state=published"))
    assert f'action="/admin/comments/{comment.id}/remove"' in html
    response = await submit(client, node.url(f"/admin/comments/{comment.id}/remove"), token, reason="insults",
                            back="/admin/queue?state=published")
    assert response.status == 303
    delete = (await wait_for(lambda: delivered(remote, "Delete")))[0]
    assert (delete["object"], delete["summary"]) == (reply["object"]["id"], "insults")
    assert "[removed by moderators]" in await page(node, http)
    await submit(client, node.url(f"/admin/comments/{comment.id}/restore"), token)
    assert "rude words" in await page(node, http)


async def test_a_decision_that_does_not_apply_is_refused_with_its_reason(forum, http):
    """Approving a comment that is already shown is a 409 saying why; an unknown comment is a 404."""
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "twice")
    comment = await stored(node, reply["object"]["id"])
    _, token = await form_page(client, node.url("/admin/queue"))
    await submit(client, node.url(f"/admin/comments/{comment.id}/approve"), token)
    async with client.post(node.url(f"/admin/comments/{comment.id}/approve"), data={"csrf": token}) as response:
        assert response.status == 409 and "not held" in await response.text()
    response = await submit(client, node.url("/admin/comments/999999/approve"), token)
    assert response.status == 404
    async with client.get(node.url("/admin/queue?state=nonsense")) as response:
        assert response.status == 400


async def test_a_form_without_the_csrf_token_changes_nothing(forum, http):
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "waiting")
    comment = await stored(node, reply["object"]["id"])
    async with client.post(node.url(f"/admin/comments/{comment.id}/approve"), data={"csrf": "forged"},
                           allow_redirects=False) as response:
        assert response.status == 403
    assert (await stored(node, reply["object"]["id"])).moderation == "held"


async def test_comment_html_in_the_queue_is_sanitised(forum, http):
    node, remote, actors, article, client = forum
    await held_reply(node, http, actors["alice"], article,
                     'hi <img src=x onerror="alert(1)"><script>alert(2)</script>')
    html, _ = await form_page(client, node.url("/admin/queue"))
    assert "onerror" not in html and "<script>alert(2)" not in html


async def mastodon_flag(node, http, remote, actors, reply) -> None:
    instance = remote.add_actor("actor", kind="Application", key_index=3)
    flag = {"@context": AS_NS, "id": f"{remote.base}/0f7c1b3e-3a2e-4a55-9a57-7f4c0c3d1e2a", "type": "Flag",
            "actor": instance.id, "content": "Spam with links", "object": [actors["bob"].id, reply["object"]["id"]]}
    status, _ = await post(node, http, instance, flag)
    assert status == 202


async def test_a_report_is_listed_and_resolved_with_removal_and_ban(forum, http):
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["bob"], article, "spam spam")
    await mastodon_flag(node, http, remote, actors, reply)
    async with node.node.sessions() as session:
        (report,) = await db.list_reports(session)
    html, token = await form_page(client, node.url("/admin/reports"))
    assert "Spam with links" in html and "spam spam" in html
    response = await submit(client, node.url(f"/admin/reports/{report.id}/resolve"), token,
                            resolution="spammer", remove="on", ban="on")
    assert response.status == 303 and "done=resolve" in response.headers["Location"]
    assert (await stored(node, reply["object"]["id"])).moderation == "removed"
    async with node.node.sessions() as session:
        assert await db.is_banned(session, actors["bob"].id)
        assert await db.list_reports(session) == []
    async with client.get(node.url("/admin/reports?state=resolved")) as response:
        assert "spammer; removed comment" in await response.text()


async def test_a_report_can_be_dismissed(forum, http):
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["bob"], article, "fine")
    await mastodon_flag(node, http, remote, actors, reply)
    async with node.node.sessions() as session:
        (report,) = await db.list_reports(session)
    _, token = await form_page(client, node.url("/admin/reports"))
    response = await submit(client, node.url(f"/admin/reports/{report.id}/dismiss"), token)
    assert response.status == 303
    async with node.node.sessions() as session:
        assert (await db.get_report(session, report.id)).resolution == "dismissed"
    response = await submit(client, node.url(f"/admin/reports/{report.id}/dismiss"), token)
    assert response.status == 409


async def test_a_domain_suspension_from_the_blocks_page_hides_its_comments_and_refuses_it(forum, http):
    """Suspend hides the domain's shown comments and refuses its next reply; lifting it shows them again,
    and a comment that was waiting in the queue is still waiting (lifting never skips the queue)."""
    node, remote, actors, article, client = forum
    reply = await held_reply(node, http, actors["alice"], article, "from the bad place")
    waiting = await held_reply(node, http, actors["bob"], article, "still waiting")
    _, token = await form_page(client, node.url("/admin/queue"))
    await submit(client, node.url(f"/admin/comments/{(await stored(node, reply['object']['id'])).id}/approve"), token)
    response = await submit(client, node.url("/admin/blocks"), token, domain="127.0.0.1", severity="suspend",
                            reason="spam farm")
    assert response.status == 303
    assert (await stored(node, reply["object"]["id"])).moderation == "suspended"
    html, token = await form_page(client, node.url("/admin/blocks"))
    assert "127.0.0.1" in html and "spam farm" in html
    status, _ = await post(node, http, actors["bob"], create(actors["bob"], note(actors["bob"], article)))
    assert status == 403  # the inbox gate sees the block at once
    assert (await stored(node, waiting["object"]["id"])).moderation == "held"
    await submit(client, node.url("/admin/blocks/remove"), token, domain="127.0.0.1")
    assert (await stored(node, reply["object"]["id"])).moderation == "published"
    assert (await stored(node, waiting["object"]["id"])).moderation == "held"


async def test_a_bad_block_is_refused_with_its_reason(forum, http):
    node, remote, actors, article, client = forum
    _, token = await form_page(client, node.url("/admin/blocks"))
    async with client.post(node.url("/admin/blocks"), data={"csrf": token, "domain": "not a domain",
                                                            "severity": "suspend"}) as response:
        assert response.status == 400 and "is not a domain name" in await response.text()
    async with client.post(node.url("/admin/blocks"), data={"csrf": token, "domain": "ok.example",
                                                            "severity": "obliterate"}) as response:
        assert response.status == 400 and "is not silence or suspend" in await response.text()


async def test_banning_an_account_by_handle_and_lifting_it(forum, http):
    node, remote, actors, article, client = forum
    await held_reply(node, http, actors["bob"], article, "known now")
    _, token = await form_page(client, node.url("/admin/blocks"))
    response = await submit(client, node.url("/admin/bans"), token, actor="@bob@" + actors["bob"].id.split("/")[2],
                            days="2", reason="cooling off")
    assert response.status == 303
    html, token = await form_page(client, node.url("/admin/blocks"))
    assert actors["bob"].id in html and "cooling off" in html
    status, _ = await post(node, http, actors["bob"], create(actors["bob"], note(actors["bob"], article)))
    assert status == 403
    await submit(client, node.url("/admin/bans/remove"), token, actor=actors["bob"].id)
    async with node.node.sessions() as session:
        assert not await db.is_banned(session, actors["bob"].id)
    async with client.post(node.url("/admin/bans"), data={"csrf": token, "actor": "@nobody@nowhere.example"}) as r:
        assert r.status == 400 and "no known actor" in await r.text()
    async with client.post(node.url("/admin/bans"), data={"csrf": token, "actor": actors["bob"].id,
                                                          "days": "-3"}) as r:
        assert r.status == 400


BLOCKLIST = """#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
spam.example,suspend,true,true,Spam,false
loud.example,silence,false,false,,false
"""


async def test_a_blocklist_is_previewed_then_applied_then_exported(forum, http):
    node, remote, actors, article, client = forum
    _, token = await form_page(client, node.url("/admin/blocks"))
    upload = aiohttp.FormData()
    upload.add_field("csrf", token)
    upload.add_field("file", BLOCKLIST.encode(), filename="domain_blocks.csv", content_type="text/csv")
    async with client.post(node.url("/admin/blocks/import"), data=upload) as response:
        assert response.status == 200
        preview = await response.text()
    assert "+ suspend  spam.example" in preview and "2 to add" in preview
    async with node.node.sessions() as session:
        assert await db.list_domain_blocks(session) == []  # a preview changes nothing
    carried = re.search(r'name="csv" value="([^"]*)"', preview).group(1)
    import html as html_module
    response = await submit(client, node.url("/admin/blocks/import"), token, apply="1",
                            source="import:domain_blocks.csv", csv=html_module.unescape(carried))
    assert response.status == 303
    async with node.node.sessions() as session:
        blocks = {b.domain: (b.severity, b.source) for b in await db.list_domain_blocks(session)}
    assert blocks == {"spam.example": ("suspend", "import:domain_blocks.csv"),
                      "loud.example": ("silence", "import:domain_blocks.csv")}
    async with client.get(node.url("/admin/blocks/export.csv")) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][0] == "#domain" and ["spam.example", "suspend", "true", "true", "Spam", "false"] in rows


async def test_a_malformed_blocklist_names_its_line_and_imports_nothing(forum, http):
    node, remote, actors, article, client = forum
    _, token = await form_page(client, node.url("/admin/blocks"))
    upload = aiohttp.FormData()
    upload.add_field("csrf", token)
    upload.add_field("file", (BLOCKLIST + "bad domain!,suspend\n").encode(), filename="list.csv")
    async with client.post(node.url("/admin/blocks/import"), data=upload) as response:
        assert response.status == 400 and "line 4" in await response.text()
    async with node.node.sessions() as session:
        assert await db.list_domain_blocks(session) == []


async def test_the_mod_log_shows_decisions_and_filters_them(forum, http):
    node, remote, actors, article, client = forum
    first = await held_reply(node, http, actors["alice"], article, "one")
    await held_reply(node, http, actors["bob"], article, "two")
    comment = await stored(node, first["object"]["id"])
    _, token = await form_page(client, node.url("/admin/queue"))
    await submit(client, node.url(f"/admin/comments/{comment.id}/approve"), token)
    async with client.get(node.url("/admin/log")) as response:
        html = await response.text()
    assert response.status == 200 and "mia" in html and "approve" in html and "rule first-comments" in html
    async with client.get(node.url("/admin/log"), params={"moderator": "mia"}) as response:
        html = await response.text()
    assert "approve" in html and "rule first-comments" not in html


async def test_a_plain_member_gets_403_and_a_reader_the_login_page(forum, http):
    node, remote, actors, article, client = forum
    member = await signed_in(node, "pat", Role.MEMBER)
    try:
        async with member.get(node.url("/admin/queue"), allow_redirects=False) as response:
            assert response.status == 403
    finally:
        await member.close()
    async with http.get(node.url("/admin/queue"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].startswith("/login?next=")


async def test_the_dashboard_counts_what_waits(forum, http):
    node, remote, actors, article, client = forum
    await held_reply(node, http, actors["alice"], article, "one")
    await held_reply(node, http, actors["bob"], article, "two")
    async with client.get(node.url("/admin")) as response:
        html = await response.text()
    assert "<strong>2</strong> comments waiting for a decision" in html
    assert "<strong>0</strong> open reports" in html and "<strong>0</strong> applications to join" in html


async def test_reporting_a_held_comment_to_its_server_sends_a_verified_flag(forum, http):
    """"Report to <server>" under a remote comment: Mastodon's Flag, signed by the instance actor."""
    node, remote, actors, article, client = forum
    remote.verify_posts = True
    reply = await held_reply(node, http, actors["bob"], article, "spam links")
    comment = await stored(node, reply["object"]["id"])
    html, token = await form_page(client, node.url("/admin/queue"))
    assert f'action="/admin/comments/{comment.id}/report"' in html
    response = await submit(client, node.url(f"/admin/comments/{comment.id}/report"), token, reason="spam links")
    assert response.status == 303 and "done=report" in response.headers["Location"]
    flag = (await wait_for(lambda: delivered(remote, "Flag")))[0]
    assert (flag["actor"], flag["object"], flag["content"]) == (
        node.url("/actor"), [actors["bob"].id, reply["object"]["id"]], "spam links")
    assert any(signer.startswith(node.url("/actor")) for signer in remote.verified_signers)
    async with client.get(node.url("/admin/reports?state=all")) as page_:
        assert "sent" in await page_.text()
