"""Site settings saved in the database: they override the configuration, and the fediverse hears of them.

The site Group is followed by an account on a fake server that verifies every
signature as a strict server would; changing the site's name, summary or picture
sends that follower one ``Update`` of the Group, at once (not at the next start),
and saving the same values again sends nothing.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from node.db import site_settings as db
from node.federation.vocab import ACTIVITY_JSON, PUBLIC
from node.services import site_settings
from tests.fakes.remote import fake_remote
from tests.members_fed_support import follow_group, received
from tests.support import free_port, make_settings, running_node, wait_for


def png(width: int = 600, height: int = 300, color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def followed(tmp_path, http):
    """A running node whose Group is followed by alice, on a server that checks our signatures."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path)) as node:
            await follow_group(http, node, remote, alice)
            yield node, remote


async def group_document(http, node) -> dict:
    async with http.get(node.url("/actors/forum"), headers={"Accept": ACTIVITY_JSON}) as response:
        return await response.json(content_type=None)


async def test_renaming_the_site_sends_its_followers_a_signed_update_at_once(followed, http):
    """Saving a new name and summary queues the Group's Update right away; the follower verifies it."""
    node, remote = followed
    saved = await site_settings.save(node.node, {"site_name": "Riverside", "site_summary": "Talk about the river."},
                                     by="ada")
    assert saved.changed == ("site_name", "site_summary") and saved.deliveries == 1
    [update] = await wait_for(lambda: received(remote, "Update"))
    assert update["actor"] == node.url("/actors/forum") and update["object"]["id"] == node.url("/actors/forum")
    assert (update["object"]["name"], update["object"]["summary"]) == ("Riverside", "<p>Talk about the river.</p>")
    assert PUBLIC in update["to"] and node.url("/actors/forum/followers") in update["cc"]
    assert node.url("/actors/forum#main-key") in remote.verified_signers
    assert (await group_document(http, node))["name"] == "Riverside"
    async with http.get(node.url("/")) as response:
        assert "<title>Riverside</title>" in await response.text()


async def test_saving_unchanged_settings_sends_nothing(followed, http):
    """The document's hash is unchanged, so no second Update goes out."""
    node, remote = followed
    await site_settings.save(node.node, {"site_name": "Riverside"}, by="ada")
    await wait_for(lambda: received(remote, "Update"))
    again = await site_settings.save(node.node, {"site_name": "Riverside", "site_rules": "Be kind."}, by="ada")
    assert again.changed == ("site_rules",) and again.deliveries == 0
    assert len(received(remote, "Update")) == 1


async def test_the_site_picture_becomes_the_groups_icon_and_is_served_for_good(followed, http):
    """An uploaded picture is cropped square, re-encoded (as members' avatars are), served for good and sent
    as the Group's icon."""
    node, remote = followed
    saved = await site_settings.set_avatar(node.node, png(), by="ada")
    assert saved.changed == ("site_avatar",) and saved.deliveries == 1
    [update] = await wait_for(lambda: received(remote, "Update"))
    icon = update["object"]["icon"]
    assert icon["type"] == "Image" and icon["mediaType"] == "image/webp"
    assert icon["url"].startswith(node.url("/media/avatars/")) and icon["url"].endswith(".webp")
    async with http.get(icon["url"]) as response:
        assert response.status == 200 and response.content_type == "image/webp"
        assert "immutable" in response.headers["Cache-Control"]
        served = Image.open(io.BytesIO(await response.read()))
    assert served.size == (400, 400)
    assert (await group_document(http, node))["icon"]["url"] == icon["url"]


async def test_removing_the_picture_drops_the_icon_and_tells_followers(followed, http):
    node, remote = followed
    await site_settings.set_avatar(node.node, png(), by="ada")
    await wait_for(lambda: received(remote, "Update"))
    await site_settings.remove_avatar(node.node, by="ada")
    updates = await wait_for(lambda: received(remote, "Update")[1:])
    assert "icon" not in updates[0]["object"]
    assert "icon" not in await group_document(http, node)


async def test_saved_settings_survive_a_restart_without_a_second_update(tmp_path, http):
    """The database's values override the configuration at start-up too: the Group is not renamed back."""
    port = free_port()
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        async with running_node(make_settings(tmp_path, port)) as node:
            await follow_group(http, node, remote, alice)
            await site_settings.save(node.node, {"site_name": "Riverside"}, by="ada")
            await wait_for(lambda: received(remote, "Update"))
        async with running_node(make_settings(tmp_path, port, site_name="From the file")) as node:
            assert (await group_document(http, node))["name"] == "Riverside"
            assert len(received(remote, "Update")) == 1


async def test_resetting_a_setting_brings_back_the_configuration_value(followed, http):
    node, remote = followed
    await site_settings.save(node.node, {"site_name": "Riverside"}, by="ada")
    await wait_for(lambda: received(remote, "Update"))
    saved = await site_settings.reset(node.node, ("site_name",), by="ada")
    assert saved.changed == ("site_name",)
    updates = await wait_for(lambda: received(remote, "Update")[1:])
    assert updates[0]["object"]["name"] == node.settings.site_name
    async with node.node.sessions() as session:
        assert "site_name" not in await db.load(session)


@pytest.mark.parametrize("values, field", [
    ({"site_name": "   "}, "site_name"),
    ({"site_name": "x" * 101}, "site_name"),
    ({"site_summary": "bell\x07"}, "site_summary"),
    ({"site_rules": "r" * 5001}, "site_rules"),
])
def test_values_that_cannot_be_saved_name_their_field(values, field):
    with pytest.raises(site_settings.SiteSettingsError) as caught:
        site_settings.validate(values)
    assert caught.value.field == field


async def test_every_change_is_in_the_mod_log(followed):
    from node.db import moderation as db_moderation

    node, _ = followed
    await site_settings.save(node.node, {"site_name": "Riverside", "site_rules": "Be kind."}, by="ada")
    async with node.node.sessions() as session:
        entries = await db_moderation.list_log(session, limit=10)
    assert {(e.moderator, e.action, e.target) for e in entries} == {("ada", "site", "site_name"),
                                                                     ("ada", "site", "site_rules")}


async def test_the_forums_page_shows_its_picture_and_rules(followed, http):
    node, _ = followed
    await site_settings.save(node.node, {"site_rules": "- Be kind\n- <b>No</b> spam"}, by="ada")
    await site_settings.set_avatar(node.node, png(), by="ada")
    async with http.get(node.url("/@forum")) as response:
        html = await response.text()
    assert "<li>Be kind</li><li>&lt;b&gt;No&lt;/b&gt; spam</li>" in html
    assert f'src="{node.node.site.current.avatar_url}"' in html


async def test_every_page_and_feed_uses_the_name_an_admin_saved(followed, http):
    """Not only the reading pages: the Atom feed and the signed-in member's pages say the new name too."""
    import aiohttp

    from tests.members_support import login, make_member

    node, _ = followed
    await site_settings.save(node.node, {"site_name": "Riverside", "site_summary": "Talk about the river."},
                             by="ada")
    async with http.get(node.url("/feeds/articles.atom")) as response:
        feed = await response.text()
    assert "<title>Riverside</title>" in feed and "Talk about the river." in feed
    await make_member(node, "pat")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await login(client, node.base, "pat")
        for path in ("/notifications", "/account/tokens"):
            async with client.get(node.url(path)) as response:
                assert response.status == 200 and "Riverside" in await response.text(), path
