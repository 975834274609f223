"""A signed-in member's discussion page: the shared cached rendering, plus what is theirs.

Every member sees the same cached rendering of a page (``rendered_page(..., member_view=True)``):
reply links lead to the reply page, and each comment's actions end in a marker
``<!--m<comment id>.<author's actor id>-->``.  Here, per request, one pass over the page
replaces each marker with that member's buttons: *like* / *unlike* and *boost* / *unboost*
on other people's comments, *edit* and *delete* on their own.  The only per-member reads are
one statement (``node.db.member_state.thread_state``: what they liked and boosted in this
thread, whether they follow it, their unread notifications), so a member's page costs
little more than a reader's (bench/member_page.py).
"""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

from node.db.member_state import ThreadState

MARKER = re.compile(r"<!--m(\d+)\.(\d+)-->")


def decorate(html: str, *, actor_id: int, state: ThreadState, csrf: str) -> Markup:
    """The member view of a cached discussion rendering, with ``actor_id``'s own buttons in it.

    Like and boost share one form (the boost button posts elsewhere with ``formaction``), so a
    page of 150 comments carries 150 copies of the token, not 300.
    """
    token = escape(csrf, quote=True)
    mine = str(actor_id)
    liked = {str(i) for i in state.liked}
    boosted = {str(i) for i in state.boosted}

    def fill(match: re.Match) -> str:
        comment_id, author = match.group(1), match.group(2)
        if author == mine:
            return (f'<a class="edit" href="/comments/{comment_id}/edit">edit</a>'
                    f'<a class="delete" href="/comments/{comment_id}/delete">delete</a>')
        like = (f'<button class="link-button" formaction="/comments/{comment_id}/unlike" aria-pressed="true">liked</button>'
                if comment_id in liked else '<button class="link-button">like</button>')
        boost = (f'<button class="link-button" formaction="/comments/{comment_id}/unboost" aria-pressed="true">boosted</button>'
                 if comment_id in boosted else
                 f'<button class="link-button" formaction="/comments/{comment_id}/boost">boost</button>')
        return (f'<form class="inline-form" method="post" action="/comments/{comment_id}/like">'
                f'<input type="hidden" name="csrf" value="{token}">{like}{boost}</form>')

    return Markup(MARKER.sub(fill, html))
