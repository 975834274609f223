"""node.services.tags: the articles carrying a hashtag, a page at a time, read in chunks.

Called directly on a real database: the tag page's HTTP side is in tests/test_index_pages.py and
tests/test_reader_pages.py.  The chunk size is made small here so that a page spans several
chunks, ends on a chunk's edge, or starts past the last tagged article.
"""

from __future__ import annotations

import pytest

from node.content import Draft
from node.db import queries
from node.services import tags
from node.services.publish import publish_article


@pytest.fixture
async def ten_articles(node):
    """Articles a0 (oldest) to a9; a0, a3, a6 and a9 carry #Cats, a1 carries #dogs."""
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        for i in range(10):
            labels = ["Cats"] if i % 3 == 0 else (["dogs"] if i == 1 else [])
            await publish_article(session, node.settings, Draft(f"Article {i}", f"a{i}", "text", tags=labels), author)
    return node


@pytest.mark.parametrize("chunk, skip, limit, slugs, has_older", [
    (2, 0, 2, ["a9", "a6"], True),               # the first page, read over several chunks
    (2, 2, 2, ["a3", "a0"], False),              # the last page: nothing older
    (3, 0, 4, ["a9", "a6", "a3", "a0"], False),  # every tagged article, chunks ending on the edge
    (3, 0, 3, ["a9", "a6", "a3"], True),         # one left over for the next page
    (500, 4, 2, [], False),                      # a page past the last tagged article
], ids=["first-page", "last-page", "all-on-one-page", "one-left-over", "past-the-end"])
async def test_a_page_of_tagged_articles(ten_articles, monkeypatch, chunk, skip, limit, slugs, has_older):
    """Newest first, ``limit`` after ``skip``, and whether older ones follow, whatever the chunk size."""
    # Given ten articles, four tagged #Cats, read in chunks of ``chunk``
    monkeypatch.setattr(tags, "TAG_SCAN_CHUNK", chunk)
    # When a page of #cats is asked for
    async with ten_articles.node.sessions() as session:
        page = await tags.tagged_articles(session, "cats", skip=skip, limit=limit)
    # Then it holds these articles, in this order
    assert ([a.slug for a in page.articles], page.has_older) == (slugs, has_older)


@pytest.mark.parametrize("asked, slugs", [("CATS", ["a9", "a6", "a3", "a0"]), ("Dogs", ["a1"]), ("birds", [])],
                         ids=["upper-case", "mixed-case", "unknown"])
async def test_tags_compare_without_case(ten_articles, asked, slugs):
    """A tag is found however it is written, as the lower-case Hashtag hrefs we publish lead here."""
    # Given the articles, tagged "Cats" and "dogs"
    # When a tag is asked for in another case
    async with ten_articles.node.sessions() as session:
        page = await tags.tagged_articles(session, asked, skip=0, limit=10)
    # Then the same articles are found
    assert [a.slug for a in page.articles] == slugs
