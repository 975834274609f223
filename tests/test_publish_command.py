"""``fednode publish`` as authors use it: same titles, re-publishing, Hugo-style front matter."""

from __future__ import annotations

import pytest

from node.content import Draft
from node.db import queries
from node.services.publish import publish_article
from tests.support import make_settings, running_node
from tests.cli_support import BASE_URL, article_document, fednode, initialized, rows, site, write  # noqa: F401 (fixtures)

FIRST = "---\ntitle: Weekly notes\n---\nThe first week.\n"
SECOND = "---\ntitle: Weekly notes\n---\nThe second week.\n"


def test_a_second_post_with_the_same_title_does_not_overwrite_the_first(site):
    """Two posts titled alike, neither naming a slug: the second is refused, the first is kept as it was."""
    # Given a published post whose slug came from its title
    write(site, "week1.md", FIRST)
    first = fednode(site, "publish", "week1.md")
    # When another post with the same title is published
    write(site, "week2.md", SECOND)
    second = fednode(site, "publish", "week2.md")
    # Then it is refused with what to do, and the first article is untouched
    assert first.returncode == 0, first.stderr
    assert second.returncode == 2
    assert "week2.md: the title gives the slug 'weekly-notes', which is already the article 'Weekly notes'" in second.stderr
    assert "--update" in second.stderr and "'slug: weekly-notes-2'" in second.stderr
    assert rows(site, "SELECT slug, source, updated FROM objects") == [("weekly-notes", "The first week.", None)]


def test_a_second_post_with_its_own_slug_is_a_new_article(site):
    """Giving the second post another slug publishes it beside the first."""
    # Given a published post
    write(site, "week1.md", FIRST)
    fednode(site, "publish", "week1.md")
    # When the second names its own slug
    write(site, "week2.md", SECOND.replace("title:", "slug: weekly-notes-2\ntitle:"))
    result = fednode(site, "publish", "week2.md")
    # Then both exist
    assert result.stdout.strip() == f"published: {BASE_URL}/articles/weekly-notes-2"
    assert rows(site, "SELECT slug FROM objects ORDER BY id") == [("weekly-notes",), ("weekly-notes-2",)]


def test_update_flag_edits_the_article_whose_slug_the_title_gives(site):
    """publish --update is how an author edits a post that has no slug line."""
    # Given a published post without a slug line
    post = write(site, "week1.md", FIRST)
    fednode(site, "publish", "week1.md")
    # When it is edited and published with --update
    post.write_text(FIRST.replace("first week", "first week, corrected"), encoding="utf-8")
    result = fednode(site, "publish", "week1.md", "--update")
    # Then the one article has the new text
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"updated: {BASE_URL}/articles/weekly-notes"
    assert rows(site, "SELECT source FROM objects") == [("The first week, corrected.",)]


def test_update_flag_on_a_slug_without_an_article_is_refused(site):
    """--update with nothing to update is a mistake (a mistyped slug), not a new article."""
    write(site, "week1.md", FIRST)
    result = fednode(site, "publish", "week1.md", "--update")
    assert result.returncode == 2
    assert "no article with slug 'weekly-notes' to update" in result.stderr
    assert rows(site, "SELECT count(*) FROM objects") == [(0,)]


async def test_republishing_an_unchanged_file_does_not_mark_it_edited(site, monkeypatch):
    """The same file published twice: "unchanged", no Update sent, not "(edited)"."""
    # Given a published post
    write(site, "post.md", "---\ntitle: Hello\nslug: hello\ntags: [a]\n---\nSame text.\n")
    fednode(site, "publish", "post.md")
    # When it is published again without a change
    again = fednode(site, "publish", "post.md")
    listed = fednode(site, "articles")
    # Then nothing changed: no Update activity, no edit time, no "(edited)"
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"unchanged: {BASE_URL}/articles/hello"
    assert rows(site, "SELECT ap_type FROM activities WHERE is_local ORDER BY id") == [("Create",)]
    assert "(edited)" not in listed.stdout
    document = await article_document(site, monkeypatch, "hello")
    assert document["updated"] == document["published"]


def test_front_matter_date_backdates_the_article(site):
    """`date: 2019-03-14` (a Hugo post's date) becomes the article's published date."""
    # Given a post with a date in the past
    write(site, "old.md", "---\ntitle: From the archive\ndate: 2019-03-14T09:30:00+01:00\n---\nOld text.\n")
    # When it is published and the articles are listed
    result = fednode(site, "publish", "old.md")
    listed = fednode(site, "articles")
    # Then it is dated then (in UTC), not now
    assert result.returncode == 0, result.stderr
    assert rows(site, "SELECT published FROM objects")[0][0].startswith("2019-03-14 08:30:00")
    assert listed.stdout.startswith("2019-03-14  from-the-archive")


def test_front_matter_date_in_the_future_is_refused(site):
    """A date after now would be a post from the future; the author is told to keep it as a draft."""
    write(site, "later.md", "---\ntitle: Later\ndate: 2999-01-01\n---\nText.\n")
    result = fednode(site, "publish", "later.md")
    assert result.returncode == 2
    assert "later.md: date 2999-01-01 00:00 UTC is in the future" in result.stderr
    assert rows(site, "SELECT count(*) FROM objects") == [(0,)]


def test_draft_is_not_published_or_delivered(site):
    """`draft: true`: nothing stored, no activity queued, and the command says it is a draft."""
    # Given a draft
    write(site, "draft.md", "---\ntitle: Not yet\ndraft: true\n---\nWork in progress.\n")
    # When it is published
    result = fednode(site, "publish", "draft.md")
    # Then nothing reached the database
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "draft, not published: draft.md (remove 'draft: true' to publish it)"
    assert rows(site, "SELECT count(*) FROM objects") == [(0,)]
    assert rows(site, "SELECT count(*) FROM activities") == [(0,)]
    assert rows(site, "SELECT count(*) FROM deliveries") == [(0,)]


def test_a_hugo_post_with_date_description_and_draft_false_is_published(site):
    """The front matter of an existing Hugo post is accepted as it is."""
    # Given a Hugo post
    write(site, "hugo.md", '---\ntitle: "Moving to the fediverse"\ndate: 2023-06-01\n'
                           'description: "Why our comments now live on the fediverse."\ndraft: false\n'
                           'tags: [meta]\n---\nBody.\n')
    # When it is published
    result = fednode(site, "publish", "hugo.md")
    # Then it is, with its date and its description as the summary
    assert result.returncode == 0, result.stderr
    assert rows(site, "SELECT slug, summary, substr(published, 1, 10) FROM objects") == [
        ("moving-to-the-fediverse", "Why our comments now live on the fediverse.", "2023-06-01")]


async def test_description_is_the_pages_meta_description(tmp_path):
    """The article page carries the description in <meta name="description">, escaped."""
    settings = make_settings(tmp_path)
    async with running_node(settings) as running:
        async with running.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, settings.default_author)
            await publish_article(session, settings, Draft("Title", "title", "Body.", description='Fish & "chips"'), author)
        import aiohttp

        async with aiohttp.ClientSession() as client:
            async with client.get(running.url("/articles/title")) as response:
                page = await response.text()
    assert '<meta name="description" content="Fish &amp; &#34;chips&#34;">' in page


@pytest.mark.parametrize("text, message", [
    ("---\ntitle: X\ndate: soon\n---\nB\n", "date 'soon' must be a date such as 2024-05-01"),
    ("---\ntitle: X\ndraft: maybe\n---\nB\n", "draft 'maybe' must be true or false"),
    ("---\ntitle: X\ndescription: [a, b]\n---\nB\n", "description must be text"),
])
def test_bad_date_draft_or_description_is_explained(site, text, message):
    """Each new front matter field says what is wrong with it."""
    write(site, "bad.md", text)
    result = fednode(site, "publish", "bad.md")
    assert result.returncode == 2
    assert f"bad.md: {message}" in result.stderr
