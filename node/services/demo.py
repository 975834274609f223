"""A sample article with a threaded discussion, so a newcomer sees what the node is for."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from node.config import Settings
from node.content import Draft, render_markdown
from node.db import queries
from node.db.models import Actor, Object
from node.db.types import utcnow
from node.services.publish import publish_article
from node.services.setup import add_author
from node.urls import Urls

DEMO_SLUG = "welcome-to-the-forum"

ARTICLE = Draft(
    title="Welcome to the forum",
    slug=DEMO_SLUG,
    tags=["fednode", "fediverse"],
    language="en",
    body="""This site publishes its articles to the fediverse. Anyone with an account on
Mastodon, Misskey, Lemmy, GoToSocial or another Fednode can follow **this forum** and
answer from where they already are.

Every reply, and every reply to a reply, is kept here, under the article, in the order
the conversation happened. Nobody has to sign up on this site to take part.

## How to join in

1. Follow the forum from your own server.
2. Open this article there and press *reply*.
3. Your answer appears below, nested under whatever you answered.
""",
)

# (author, parent index or None for the article, text, minutes after the article)
THREAD = [
    ("ada", None, "So I can answer from my own server and it still shows up here? That is the part I like.", 10),
    ("bruno", 0, "Yes. The node keeps the whole thread, even replies to replies that were never sent to it.", 25),
    ("chen", 1, "How does it find the ones that were never sent to it?", 40),
    ("ada", 2, "It reads the replies collection of each comment it holds and fetches what is missing.", 55),
    ("dara", 0, "And if the site shuts its comments, affiliated forums can carry the thread on.", 70),
    ("chen", None, "Nice to see a comment section that is not locked to one website.", 90),
    ("bruno", 5, "Agreed. It is the same conversation wherever you read it.", 120),
]


async def seed_demo(session: AsyncSession, settings: Settings) -> tuple[str, bool]:
    """Publish the sample article and its discussion unless they exist; return (url, created)."""
    urls = Urls(settings.base)
    existing = await queries.get_article_by_slug(session, DEMO_SLUG)
    if existing is not None:
        return existing.ap_id, False
    editor = await queries.get_local_actor(session, settings.default_author)
    published = await publish_article(session, settings, ARTICLE, editor)
    article = published.article
    article.published = utcnow() - timedelta(hours=3)
    people: dict[str, Actor] = {}
    for username in sorted({row[0] for row in THREAD}):
        people[username], _ = await add_author(session, settings, username)
    comments: list[Object] = []
    for username, parent_index, text, minutes in THREAD:
        parent = article if parent_index is None else comments[parent_index]
        comment = Object(
            ap_id=f"urn:uuid:{uuid.uuid4()}", ap_type="Note", kind="comment", is_local=True,
            actor_id=people[username].id, content=render_markdown(text), source=text,
            in_reply_to=parent.ap_id, parent_id=parent.id, root_id=article.id, context=article.context,
            published=article.published + timedelta(minutes=minutes), visibility="public",
        )
        session.add(comment)
        await session.flush()
        # The id depends on the row number, known only after the insert.
        comment.ap_id = comment.url = urls.comment(comment.id)
        parent.replies_count += 1
        comments.append(comment)
    await session.flush()
    return article.ap_id, True
