"""Publishing local articles: a new slug creates an article, a known slug edits it, delete removes it.

Each change records its activity (Create, Update, Delete) and queues it for the
followers of the author and of the site in the same transaction. A slug made from
the title edits an existing article only when asked to (``update``): two posts
with the same title must not overwrite each other. Publishing what is already
there changes nothing (no Update, no "edited" mark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from node.config import Settings
from node.content import ContentError, Draft, render_markdown
from node.db import queries
from node.db.models import Activity, Actor, Object
from node.db.states import ActivityState
from node.db.types import utcnow
from node.federation import outbox
from node.federation.convert import article_to_ap, create_to_ap, iso
from node.federation.outbox import new_activity_id
from node.urls import Urls


@dataclass(frozen=True)
class Published:
    """What publishing did: the article row, whether it was new, and the activity recorded."""

    article: Object
    created: bool
    activity: Activity | None  # None when nothing changed
    deliveries: int = 0  # how many inboxes it was queued for

    @property
    def changed(self) -> bool:
        return self.activity is not None


def _edit_time(now: datetime, previous: datetime) -> datetime:
    """When an edit happened, as documents show it: strictly after ``previous`` at whole seconds.

    Documents carry ``updated`` to the second and Mastodon applies an edit only when
    ``updated`` is strictly newer than what it holds, so an edit made within the same
    second as the previous version is dated one second later.
    """
    earliest = previous.replace(microsecond=0) + timedelta(seconds=1)
    return max(now, earliest)


def _same_as(article: Object, draft: Draft, html: str) -> bool:
    """Whether publishing ``draft`` would change nothing a reader or a follower sees."""
    if draft.replies is not None and article.reply_policy != (None if draft.replies == "open" else draft.replies):
        return False
    if draft.replies_close_after_days is not None and article.replies_close_at != (
            article.published + timedelta(days=draft.replies_close_after_days)):
        return False
    return (article.name, article.source, article.content, list(article.tags or []), article.language,
            article.summary) == (draft.title, draft.body, html, list(draft.tags), draft.language, draft.description)


async def publish_article(session: AsyncSession, settings: Settings, draft: Draft, author: Actor, *,
                          update: bool = False) -> Published:
    """Create or edit the article ``draft.slug`` by ``author`` and record Create/Update.

    An existing article is edited only when the draft names its slug itself or ``update`` is
    set; a slug made from the title that is taken is refused with what to do. ``update`` on a
    slug that has no article is refused too (a mistyped slug must not create a new article).
    """
    urls = Urls(settings.base)
    site = await queries.get_local_actor(session, settings.site_username)
    if site is None:
        raise ContentError("the site is not set up yet: run `fednode init`")
    if draft.draft:
        raise ContentError("this post is a draft ('draft: true'); remove that line to publish it")
    now = utcnow()
    html = render_markdown(draft.body)
    article = await queries.get_article_by_slug(session, draft.slug)
    if article is not None and article.deleted_at is not None:
        # Remote servers keep tombstones: a re-created URL would be refused or confused.
        raise ContentError(f"slug {draft.slug!r} belonged to a deleted article; choose another slug")
    created = article is None
    if created:
        if update:
            raise ContentError(f"no article with slug {draft.slug!r} to update; see `fednode articles`")
        url = urls.article(draft.slug)
        article = Object(
            ap_id=url, ap_type="Article", kind="article", is_local=True, actor_id=author.id,
            slug=draft.slug, url=url, published=draft.date or now, context=urls.context(url), visibility="public",
        )
        session.add(article)
    elif not (draft.slug_given or update):
        raise ContentError(
            f"the title gives the slug {draft.slug!r}, which is already the article {article.name!r} "
            f"({article.published:%Y-%m-%d}). To edit that article, publish with --update (or put "
            f"'slug: {draft.slug}' in the front matter); for a new article, add another slug, e.g. "
            f"'slug: {draft.slug}-2'"
        )
    elif article.actor_id != author.id:
        raise ContentError(f"slug {draft.slug!r} is an article by someone else; pick another slug")
    elif _same_as(article, draft, html):
        return Published(article=article, created=False, activity=None)
    else:
        # A later `date` does not move `published`: remote servers keep the first one they saw.
        article.updated = _edit_time(now, article.updated or article.published)
    article.name = draft.title
    article.source = draft.body
    article.content = html
    article.tags = draft.tags
    article.language = draft.language
    # Reply controls change only when the front matter names them (`fednode mod replies` may have set them).
    if draft.replies is not None:
        article.reply_policy = None if draft.replies == "open" else draft.replies
    if draft.replies_close_after_days is not None:
        article.replies_close_at = article.published + timedelta(days=draft.replies_close_after_days)
    article.summary = draft.description
    await session.flush()
    document = article_to_ap(article, author, site, urls)
    activity = Activity(
        ap_id=new_activity_id(urls), ap_type="Create" if created else "Update", is_local=True,
        actor_ap_id=author.ap_id, object_ap_id=article.ap_id, status=ActivityState.SENT, raw={}, created_at=now,
    )
    if created:
        activity.raw = create_to_ap(activity, document)
    else:
        activity.raw = {**create_to_ap(activity, document), "type": "Update"}
    session.add(activity)
    await session.flush()
    queued = await outbox.deliver_to_followers(session, activity.raw, signer=author.username, followed=[author, site])
    return Published(article=article, created=created, activity=activity, deliveries=queued)


async def delete_article(session: AsyncSession, settings: Settings, slug: str) -> Published:
    """Delete a local article: its URL answers 410 from now on, and followers get a Delete."""
    urls = Urls(settings.base)
    article = await queries.get_article_by_slug(session, slug)
    if article is None or not article.is_local:
        raise ContentError(f"no article with slug {slug!r}; see `fednode articles`")
    if article.deleted_at is not None:
        raise ContentError(f"article {slug!r} is already deleted")
    site = await queries.get_local_actor(session, settings.site_username)
    author = article.actor
    now = utcnow()
    article.deleted_at = now
    document = article_to_ap(article, author, site, urls)
    activity = Activity(
        ap_id=new_activity_id(urls), ap_type="Delete", is_local=True, actor_ap_id=author.ap_id,
        object_ap_id=article.ap_id, status=ActivityState.SENT, created_at=now,
        raw={
            "@context": document["@context"], "id": None, "type": "Delete", "actor": author.ap_id,
            "object": {"id": article.ap_id, "type": "Tombstone", "formerType": "Article", "deleted": iso(now)},
            "to": document["to"], "cc": document["cc"],
        },
    )
    activity.raw["id"] = activity.ap_id
    session.add(activity)
    await session.flush()
    queued = await outbox.deliver_to_followers(session, activity.raw, signer=author.username, followed=[author, site])
    return Published(article=article, created=False, activity=activity, deliveries=queued)
