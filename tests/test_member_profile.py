"""A member's own account from the web: profile and avatar, data export, account deletion (node/web/member_account.py).

Members sign in through the real /login form; the profile form is sent as a browser sends it
(multipart/form-data, the CSRF field first).  Other servers are a fake server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from html.parser import HTMLParser

import aiohttp
import pytest
from PIL import Image

from node.db import queries
from tests.fakes.remote import fake_remote
from tests.members_fed_support import follow_member, received
from tests.members_support import PASSWORD, login, make_member, member_client, page_token
from tests.support import make_settings, running_node, wait_for

class Elements(HTMLParser):
    """Every element of a page with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'><svg onload=alert(3)>'


def jpeg(size=(900, 600), colour=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose header (CRC fixed) claims ``width`` × ``height``."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF)
    return bytes(data)


def profile_form(token: str | None, *, name: str = "Alice", bio: str = "", avatar: bytes | None = None,
                 filename: str = "me.jpg", content_type: str = "image/jpeg") -> aiohttp.FormData:
    """The profile form as a browser sends it: the CSRF field first, then the fields, then the file."""
    form = aiohttp.FormData()
    if token is not None:
        form.add_field("csrf", token)
    form.add_field("display_name", name)
    form.add_field("bio", bio)
    form.add_field("avatar", avatar or b"", filename=filename if avatar else "", content_type=content_type)
    return form


async def send_profile(http, node, form) -> tuple[int, str, str]:
    async with http.post(node.url("/account/profile"), data=form, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


@pytest.fixture
async def alice(node):
    """The node and alice's signed-in browser."""
    await make_member(node, "alice")
    async with member_client() as http:
        await login(http, node.base, "alice")
        yield node, http


async def actor_of(node, username: str = "alice"):
    async with node.node.sessions() as session:
        return await queries.get_local_actor(session, username)


# --- the profile ----------------------------------------------------------------------------------

async def test_a_member_sets_her_name_bio_and_picture(alice):
    """Saving the form answers 303 to it (saying "Saved"); the profile page shows the name, the bio and the picture."""
    node, http = alice
    token = await page_token(http, node.base, "/account/profile")
    status, location, _ = await send_profile(http, node, profile_form(token, name="Alice Liddell",
                                                                      bio="Curious.\n\nVery curious.", avatar=jpeg()))
    assert (status, location) == (303, "/account/profile?saved=1")
    async with http.get(node.url("/@alice")) as response:
        page = await response.text()
    assert "Alice Liddell" in page and "<p>Curious.</p><p>Very curious.</p>" in page
    src = page.split('class="avatar large u-photo" src="', 1)[1].split('"', 1)[0]
    async with http.get(src) as response:
        assert response.status == 200 and response.content_type == "image/webp"
        with Image.open(io.BytesIO(await response.read())) as picture:
            assert picture.size == (400, 400)


async def test_the_picture_and_name_reach_followers_in_an_update(alice, http):
    """A remote follower of alice gets an Update of her actor carrying the new name and the avatar as ``icon``."""
    node, browser = alice
    async with fake_remote() as remote:
        fan = remote.add_actor("fan")
        await follow_member(http, node, fan, "alice")
        token = await page_token(browser, node.base, "/account/profile")
        await send_profile(browser, node, profile_form(token, name="Alice L.", avatar=jpeg()))
        node.node.wake_delivery()
        updates = await wait_for(lambda: received(remote, "Update"), what="the Update at the follower's server")
    document = updates[-1]["object"]
    assert document["id"] == node.url("/actors/alice") and document["name"] == "Alice L."
    assert document["icon"]["type"] == "Image" and document["icon"]["url"].startswith(node.url("/media/avatars/"))
    async with http.get(node.url("/actors/alice"), headers={"Accept": "application/activity+json"}) as response:
        assert (await response.json(content_type=None))["icon"] == document["icon"]


async def test_display_name_and_bio_cannot_carry_markup(alice, http):
    """Script, event handlers and tags typed into the name and bio show as text on every page, never as markup."""
    node, browser = alice
    token = await page_token(browser, node.base, "/account/profile")
    status, _, _ = await send_profile(browser, node, profile_form(token, name="Eve" + XSS[:60], bio=XSS))
    assert status == 303
    actor = await actor_of(node)
    assert "<script" not in (actor.summary or "") and "&lt;script&gt;" in actor.summary
    for path in ("/@alice", "/account/profile", "/"):
        async with browser.get(node.url(path)) as response:
            page = await response.text()
        elements = Elements()
        elements.feed(page)
        assert not {"script", "svg"} & {tag for tag, _ in elements.found}, path
        assert not [(tag, name) for tag, attrs in elements.found for name, _ in attrs if name.startswith("on")], path
        assert not [attrs for tag, attrs in elements.found if tag == "img" and ("src", "x") in attrs], path


async def test_a_comment_cannot_carry_script_or_javascript_links(alice, http):
    """Markdown with raw HTML, a javascript: link and an event handler is shown sanitised (content.py's rules)."""
    node, browser = alice
    from node.content import Draft
    from node.services.publish import publish_article

    async with node.node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, "editor")
        article = (await publish_article(session, node.settings, Draft("T", "t", "Text"), editor)).article
        root_id = article.id
    token = await page_token(browser, node.base, "/articles/t")
    text = XSS + "\n\n[click](javascript:alert(4)) <a href=\"javascript:alert(5)\" onclick=\"x()\">y</a>"
    async with browser.post(node.url(f"/threads/{root_id}/comment"), data={"csrf": token, "content": text},
                            allow_redirects=False) as response:
        assert response.status == 303
    async with http.get(node.url("/articles/t")) as response:
        page = await response.text()
    discussion = page.split('id="discussion"', 1)[1]
    elements = Elements()
    elements.feed(discussion)
    assert not {"script", "img", "svg"} & {tag for tag, _ in elements.found}
    assert not [(tag, name) for tag, attrs in elements.found for name, value in attrs
                if name.startswith("on") or "javascript:" in (value or "").lower()]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in discussion


# --- upload limits --------------------------------------------------------------------------------

@pytest.fixture
async def small_limits(tmp_path):
    """A node taking avatars of at most 64 KiB and 1,000,000 pixels, and alice's signed-in browser."""
    async with running_node(make_settings(tmp_path, avatar_max_bytes=64 * 1024, avatar_max_pixels=1_000_000)) as node:
        await make_member(node, "alice")
        async with member_client() as http:
            await login(http, node.base, "alice")
            yield node, http


async def test_an_upload_past_the_size_limit_is_refused_with_413(small_limits):
    """A 200 KiB file is refused with 413 and the limit named; nothing is stored."""
    node, http = small_limits
    token = await page_token(http, node.base, "/account/profile")
    status, _, page = await send_profile(http, node, profile_form(token, avatar=b"\xff\xd8" + b"\0" * 200 * 1024))
    assert status == 413 and "larger than" in page
    assert 'src="/media/avatars/' not in page and "/media/avatars/" not in page


async def test_a_file_that_is_not_a_picture_is_refused_with_415(small_limits):
    """An HTML file sent as image/png is refused with 415 and a reason."""
    node, http = small_limits
    token = await page_token(http, node.base, "/account/profile")
    status, _, page = await send_profile(http, node, profile_form(
        token, avatar=b"<html><script>alert(1)</script></html>", filename="x.png", content_type="image/png"))
    assert status == 415 and "not a picture" in page


async def test_a_png_claiming_huge_dimensions_is_refused_with_413(small_limits):
    """A 100-byte PNG claiming 50,000 × 50,000 pixels is refused with 413 (nothing decoded)."""
    node, http = small_limits
    token = await page_token(http, node.base, "/account/profile")
    status, _, page = await send_profile(http, node, profile_form(token, avatar=png_claiming(50_000, 50_000),
                                                                 filename="bomb.png", content_type="image/png"))
    assert status == 413 and "1,000,000 accepted" in page


async def test_the_profile_form_without_its_csrf_token_is_refused(alice):
    """The form sent without the token (a forged cross-site upload) gets 403 and changes nothing."""
    node, http = alice
    status, _, _ = await send_profile(http, node, profile_form(None, name="Forged", avatar=jpeg()))
    assert status == 403
    assert (await actor_of(node)).name != "Forged"


# --- export and deletion --------------------------------------------------------------------------

async def test_the_export_holds_the_profile_the_comments_and_their_activities(alice):
    """After commenting, the export (a JSON download) has her profile, the comment's Markdown and its Create."""
    node, http = alice
    from node.content import Draft
    from node.services.publish import publish_article

    async with node.node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, "editor")
        root_id = (await publish_article(session, node.settings, Draft("T", "t", "Text"), editor)).article.id
    token = await page_token(http, node.base, "/articles/t")
    async with http.post(node.url(f"/threads/{root_id}/comment"), data={"csrf": token, "content": "My **words**"},
                         allow_redirects=False) as response:
        assert response.status == 303
    async with http.get(node.url("/account/export")) as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        data = json.loads(await response.text())
    assert data["profile"]["username"] == "alice" and data["profile"]["id"] == node.url("/actors/alice")
    [comment] = data["comments"]
    assert comment["markdown"] == "My **words**" and "<strong>words</strong>" in comment["html"]
    assert [a["type"] for a in data["activities"]] == ["Create"]
    assert data["activities"][0]["object"]["id"] == comment["id"]


async def test_the_export_is_only_for_the_member_herself(node, http):
    """A reader asking for /account/export is sent to sign in."""
    async with http.get(node.url("/account/export"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_deleting_the_account_needs_the_password(alice):
    """The wrong password deletes nothing (403); the account still signs in."""
    node, http = alice
    token = await page_token(http, node.base, "/account/delete")
    async with http.post(node.url("/account/delete"), data={"csrf": token, "password": "not it"},
                         allow_redirects=False) as response:
        assert response.status == 403 and "nothing was deleted" in await response.text()
    async with member_client() as again:
        await login(again, node.base, "alice", PASSWORD)


async def test_deleting_the_account_signs_out_and_the_name_signs_in_no_more(alice):
    """With her password, alice's account is deleted: 303 home, her browser signed out, her profile gone (410)."""
    node, http = alice
    token = await page_token(http, node.base, "/account/delete")
    async with http.post(node.url("/account/delete"), data={"csrf": token, "password": PASSWORD},
                         allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/?account=deleted"
    async with http.get(node.url("/notifications"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].startswith("/login")
    async with http.get(node.url("/@alice")) as response:
        assert response.status == 410
    async with member_client() as again:
        token = await page_token(again, node.base, "/login")
        async with again.post(node.url("/login"), data={"csrf": token, "login": "alice", "password": PASSWORD},
                              allow_redirects=False) as response:
            assert response.status != 303
