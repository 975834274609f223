"""Where everything lives: the one place that turns local things into URLs.

Route patterns in ``web/routes.py`` and the ids in ActivityStreams documents
both come from here, so an id always dereferences to the document it names.
"""

from __future__ import annotations

from dataclasses import dataclass

INSTANCE_ACTOR_USERNAME = "instance.actor"
AVATAR_DIGEST = 16  # hex digits of an avatar's SHA-256 in its URL


@dataclass(frozen=True)
class Urls:
    """URL builders for a node served at ``base`` (no trailing slash)."""

    base: str

    def actor(self, username: str) -> str:
        if username == INSTANCE_ACTOR_USERNAME:
            return f"{self.base}/actor"
        return f"{self.base}/actors/{username}"

    def key_id(self, username: str) -> str:
        return self.actor(username) + "#main-key"

    def inbox(self, username: str) -> str:
        return self.actor(username) + "/inbox"

    def outbox(self, username: str) -> str:
        return self.actor(username) + "/outbox"

    def followers(self, username: str) -> str:
        return self.actor(username) + "/followers"

    def following(self, username: str) -> str:
        return self.actor(username) + "/following"

    def profile(self, username: str) -> str:
        return f"{self.base}/@{username}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def article(self, slug: str) -> str:
        return f"{self.base}/articles/{slug}"

    def thread(self, object_id: int) -> str:
        """Our page for a remote article and the discussion we hold under it."""
        return f"{self.base}/threads/{object_id}"

    def discussion(self, document_id: int) -> str:
        """A discussed web page: our link thread's id, and the page people read its discussion on."""
        return f"{self.base}/discussions/{document_id}"

    def comment(self, comment_id: int) -> str:
        return f"{self.base}/comments/{comment_id}"

    def avatar(self, actor_id: int, digest: str) -> str:
        """A member's avatar; the digest changes with the picture, so the URL can be cached for good."""
        return f"{self.base}/media/avatars/{actor_id}/{digest[:AVATAR_DIGEST]}.webp"

    def replies(self, object_url: str) -> str:
        return object_url + "/replies"

    def context(self, article_url: str) -> str:
        return article_url + "/context"

    def activity(self, activity_key: str) -> str:
        return f"{self.base}/activities/{activity_key}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{name.lower()}"

    @property
    def authorize_interaction(self) -> str:
        return f"{self.base}/authorize_interaction?uri={{uri}}"
