"""The front page and hashtag pages list every article, newest first, a page at a time."""

from __future__ import annotations

import re

import pytest

from node.content import Draft
from node.db import queries
from node.services.publish import publish_article
from node.web.pages import INDEX_PAGE


async def publish_many(node, count: int, *, tagged_every: int = 0) -> None:
    """``count`` articles, ``a0`` oldest; every ``tagged_every``-th one carries #cats."""
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        for i in range(count):
            tags = ["Cats"] if tagged_every and i % tagged_every == 0 else []
            await publish_article(session, node.settings, Draft(f"Article {i}", f"a{i}", "text", tags=tags), author)


async def titles(http, url: str) -> tuple[list[str], str]:
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        html = await response.text()
    return re.findall(r">Article (\d+)</a></h2>", html), html


async def test_front_page_shows_the_newest_page_and_links_to_older(node, http):
    """With more articles than fit, page 1 holds the newest and links to page 2, which holds the rest."""
    await publish_many(node, INDEX_PAGE + 5)
    first, first_html = await titles(http, node.url("/"))
    second, second_html = await titles(http, node.url("/?page=2"))
    assert first == [str(i) for i in range(INDEX_PAGE + 4, 4, -1)]
    assert second == ["4", "3", "2", "1", "0"]
    assert 'href="?page=2" rel="next"' in first_html and 'rel="prev"' not in first_html
    assert 'href="?page=1" rel="prev"' in second_html and 'rel="next"' not in second_html


async def test_hashtag_page_is_paged_over_its_own_articles(node, http):
    """A tag page counts only tagged articles: 32 tagged among 64 make a full page and a page of 2."""
    await publish_many(node, 64, tagged_every=2)
    first, first_html = await titles(http, node.url("/tags/cats"))
    second, _ = await titles(http, node.url("/tags/cats?page=2"))
    assert first == [str(i) for i in range(62, 2, -2)]
    assert second == ["2", "0"]
    assert 'href="?page=2" rel="next"' in first_html


@pytest.mark.parametrize("page", ["0", "-1", "x", "100001"])
async def test_a_page_number_out_of_range_is_refused(node, http, page):
    """Page numbers are 1 to 100,000."""
    async with http.get(node.url(f"/?page={page}"), headers={"Accept": "text/html"}) as response:
        assert response.status == 400
