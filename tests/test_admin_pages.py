"""The admin pages beyond moderation, over real HTTP: site settings, followers, the delivery ledger.

The site Group is followed by ``fan`` on a fake server that verifies every
signature; an admin (or a moderator) signs in and submits each page's forms.
"""

from __future__ import annotations

import io
import re

import aiohttp
import pytest
from PIL import Image

from node.content import Draft
from node.db import admin as admin_db
from node.db import queries
from node.members.roles import Role
from node.services.publish import publish_article
from tests.factories import follow_of
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import follow_group, received
from tests.members_support import login, make_member
from tests.support import make_settings, running_node, wait_for

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def site(tmp_path, http):
    """A node whose Group ``fan`` follows (on a server checking our signatures), and a signed-in admin."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        fan = remote.add_actor("fan")
        async with running_node(make_settings(tmp_path)) as node:
            await follow_group(http, node, remote, fan)
            await make_member(node, "ada", role=Role.ADMIN)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
                await login(client, node.base, "ada")
                yield node, remote, fan, client


async def token_of(client, url: str) -> str:
    async with client.get(url) as response:
        assert response.status == 200
        return CSRF.search(await response.text()).group(1)


def picture(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


async def test_renaming_the_site_on_the_settings_page_sends_followers_a_verified_update(site, http):
    node, remote, fan, client = site
    token = await token_of(client, node.url("/admin/site"))
    async with client.post(node.url("/admin/site"), allow_redirects=False, data={
            "csrf": token, "site_name": "Riverside", "site_summary": "Talk about the river.",
            "site_rules": "Be kind.\nNo spam.", "registration_mode": "approval"}) as response:
        assert response.status == 303 and response.headers["Location"] == "/admin/site?done=site-update"
    [update] = await wait_for(lambda: received(remote, "Update"))
    assert (update["object"]["name"], update["object"]["summary"]) == ("Riverside", "<p>Talk about the river.</p>")
    assert node.url("/actors/forum#main-key") in remote.verified_signers  # the signature verified at the fan's
    current = node.node.site.current
    assert (current.rules, current.registration_mode) == ("Be kind.\nNo spam.", "approval")
    assert current.rule_list == ["Be kind.", "No spam."]
    async with http.get(node.url("/")) as response:
        assert "Riverside" in await response.text()
    async with client.get(node.url("/admin/site?done=site-update")) as response:
        html = await response.text()
    assert "Followers of the site were sent an Update" in html and 'value="Riverside"' in html
    assert "Use the configuration file's value" in html


async def test_a_bad_value_comes_back_in_the_form_with_its_reason(site):
    node, remote, fan, client = site
    token = await token_of(client, node.url("/admin/site"))
    async with client.post(node.url("/admin/site"), data={"csrf": token, "site_name": "  ",
                                                          "site_summary": "kept as typed"}) as response:
        html = await response.text()
        assert response.status == 400
    assert "This cannot be empty." in html and "kept as typed" in html
    async with client.post(node.url("/admin/site"), data={"csrf": token, "site_name": "ok",
                                                          "registration_mode": "everyone"}) as response:
        assert response.status == 400 and "Registration is one of" in await response.text()
    assert received(remote, "Update") == []


async def test_uploading_the_site_picture_sends_the_group_with_its_icon(site, http):
    node, remote, fan, client = site
    token = await token_of(client, node.url("/admin/site"))
    form = aiohttp.FormData()
    form.add_field("csrf", token)
    form.add_field("picture", picture(), filename="logo.png", content_type="image/png")
    async with client.post(node.url("/admin/site/avatar"), data=form, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/admin/site?done=avatar"
    [update] = await wait_for(lambda: received(remote, "Update"))
    icon = update["object"]["icon"]
    async with http.get(icon["url"]) as response:
        assert response.status == 200 and response.content_type == icon["mediaType"] == "image/webp"
        assert Image.open(io.BytesIO(await response.read())).size == (400, 400)
    async with client.get(node.url("/admin/site")) as response:
        assert f'src="{icon["url"]}"' in await response.text()
    token = await token_of(client, node.url("/admin/site"))
    async with client.post(node.url("/admin/site/avatar/remove"), data={"csrf": token},
                           allow_redirects=False) as response:
        assert response.status == 303
    updates = await wait_for(lambda: received(remote, "Update")[1:])
    assert "icon" not in updates[0]["object"]


@pytest.mark.parametrize("data, status, reason", [
    (b"<svg onload=alert(1)>", 415, "not a picture"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 415, "not a picture"),
])
async def test_an_upload_that_is_not_a_picture_is_refused_with_the_reason(site, data, status, reason):
    node, remote, fan, client = site
    token = await token_of(client, node.url("/admin/site"))
    form = aiohttp.FormData()
    form.add_field("csrf", token)
    form.add_field("picture", data, filename="x.png", content_type="image/png")
    async with client.post(node.url("/admin/site/avatar"), data=form) as response:
        assert response.status == status and reason in await response.text()
    assert received(remote, "Update") == []


async def test_an_upload_larger_than_the_limit_is_refused(tmp_path, http):
    async with running_node(make_settings(tmp_path, avatar_max_bytes=2048)) as node:
        await make_member(node, "ada", role=Role.ADMIN)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            await login(client, node.base, "ada")
            token = await token_of(client, node.url("/admin/site"))
            form = aiohttp.FormData()
            form.add_field("csrf", token)
            form.add_field("picture", picture((1200, 1200)), filename="big.png", content_type="image/png")
            async with client.post(node.url("/admin/site/avatar"), data=form) as response:
                assert response.status == 413 and "the limit is" in await response.text()


async def test_removing_a_follower_sends_their_server_a_reject(site, http):
    node, remote, fan, client = site
    async with client.get(node.url("/admin/followers")) as response:
        html = await response.text()
    assert "@fan@" in html
    follow_id = re.search(r'action="/admin/followers/(\d+)/remove"', html).group(1)
    token = CSRF.search(html).group(1)
    async with client.post(node.url(f"/admin/followers/{follow_id}/remove"), data={"csrf": token},
                           allow_redirects=False) as response:
        assert response.status == 303 and "done=follower-removed" in response.headers["Location"]
    reject = (await wait_for(lambda: received(remote, "Reject")))[0]
    assert reject["actor"] == node.url("/actors/forum") and reject["object"]["actor"] == fan.id
    async with http.get(node.url("/actors/forum/followers"), headers={"Accept": "application/activity+json"}) as r:
        assert (await r.json(content_type=None))["totalItems"] == 0
    async with client.post(node.url(f"/admin/followers/{follow_id}/remove"), data={"csrf": token}) as response:
        assert response.status == 404


async def test_the_delivery_ledger_shows_each_inbox_and_retries_what_failed(site, http):
    """An article's Create reached one server and was refused by another: the ledger says which and why,
    and "send again" posts the refused one again at once."""
    node, remote, fan, client = site
    async with fake_remote() as other:
        other.inbox_status = 403  # refuses everything: given up at the first answer
        grumpy = other.add_actor("grumpy", key_index=1)
        status, _ = await signed_post(http, node.url("/inbox"), follow_of(grumpy, node.url("/actors/forum")), grumpy)
        assert status == 202
        await node.node.processor.drain()
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            published = await publish_article(session, node.settings, Draft("News", "news", "Hello."), author)
        node.node.wake_delivery()
        await wait_for(lambda: received(remote, "Create") and received(other, "Create"))
        ledger_url = node.url(f"/admin/deliveries/{published.article.id}")

        async def settled() -> bool:
            async with node.node.sessions() as session:
                summary = (await admin_db.ledger_summaries(session, [published.article.ap_id]))[published.article.ap_id]
            return summary.delivered == 1 and summary.failed == 1
        await wait_for(settled)
        async with client.get(node.url("/admin/deliveries")) as response:
            assert "News" in await response.text()
        async with client.get(ledger_url) as response:
            html = await response.text()
        assert f"{remote.base}/inbox" in html and f"{other.base}/inbox" in html
        assert "HTTP 403" in html and "given up" in html and ">Create" in html
        other.inbox_status = 202
        token = CSRF.search(html).group(1)
        async with client.post(ledger_url + "/retry", data={"csrf": token}, allow_redirects=False) as response:
            assert response.status == 303 and "done=retry" in response.headers["Location"]
        await wait_for(lambda: len(received(other, "Create")) == 2)


async def test_an_unknown_article_has_no_ledger(site):
    node, remote, fan, client = site
    async with client.get(node.url("/admin/deliveries/999999")) as response:
        assert response.status == 404


async def test_a_waiting_follower_is_approved_from_the_followers_page(tmp_path, http):
    """With ``manual_approval`` the Follow waits; Approve sends the follower's server the Accept."""
    async with fake_remote() as remote:
        fan = remote.add_actor("fan")
        async with running_node(make_settings(tmp_path, manual_approval=True)) as node:
            status, _ = await signed_post(http, node.url("/inbox"), follow_of(fan, node.url("/actors/forum")), fan)
            assert status == 202
            await node.node.processor.drain()
            await make_member(node, "mo", role=Role.MODERATOR)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
                await login(client, node.base, "mo")
                async with client.get(node.url("/admin/followers")) as response:
                    html = await response.text()
                assert "waiting" in html and received(remote, "Accept") == []
                follow_id = re.search(r'action="/admin/followers/(\d+)/approve"', html).group(1)
                async with client.post(node.url(f"/admin/followers/{follow_id}/approve"), allow_redirects=False,
                                       data={"csrf": CSRF.search(html).group(1)}) as response:
                    assert response.status == 303 and "done=follower-approved" in response.headers["Location"]
            accept = (await wait_for(lambda: received(remote, "Accept")))[0]
            assert accept["object"]["actor"] == fan.id


async def test_resetting_the_name_on_the_settings_page_brings_back_the_files(site, http):
    node, remote, fan, client = site
    token = await token_of(client, node.url("/admin/site"))
    async with client.post(node.url("/admin/site"), data={"csrf": token, "site_name": "Riverside"}) as response:
        assert response.status == 200
    async with client.post(node.url("/admin/site/reset"), data={"csrf": token, "key": "site_name"},
                           allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/admin/site?done=site-update"
    updates = await wait_for(lambda: received(remote, "Update")[1:])
    assert updates[0]["object"]["name"] == node.settings.site_name
    async with client.post(node.url("/admin/site/reset"), data={"csrf": token, "key": "password"}) as response:
        assert response.status == 400
