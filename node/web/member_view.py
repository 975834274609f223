"""A signed-in member's discussion page: the shared cached rendering, plus what is theirs.

Every member sees the same cached rendering of a page (``rendered_page(..., member_view=True)``):
reply links lead to the reply page, and each comment's actions end in a marker
``<!--m<comment id>.<author's actor id>-->``; the cache keeps it cut at those markers
(``split``, once per rendering).  Per request, the pieces are joined with that member's
buttons in between (``decorate``): *like* / *liked* and *boost* / *boosted* on other
people's comments, *edit* and *delete* on their own.  The only per-member reads are
one statement (``node.db.member_state.thread_state``: what they liked and boosted in this
thread, whether they follow it), kept per thread version (``StateCache``), so a member's page
costs little more than a reader's (bench/member_page.py).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from html import escape
from typing import Any, Awaitable, Callable

from markupsafe import Markup

from node.db.member_state import ThreadState

MARKER = re.compile(r"<!--m(\d+)\.(\d+)-->")


def split(html: str) -> tuple[str | tuple[str, str], ...]:
    """The member rendering cut at its markers, once per cached page: text, (comment id, author id), text, …

    ``decorate`` then only joins the pieces with the member's buttons, instead of searching the page again.
    """
    pieces: list[str | tuple[str, str]] = []
    start = 0
    for match in MARKER.finditer(html):
        pieces += [html[start:match.start()], (match.group(1), match.group(2))]
        start = match.end()
    pieces.append(html[start:])
    return tuple(pieces)


FORM_ID = "member-actions"  # the page's one form that every like and boost button posts (``form`` attribute)


def decorate(parts: tuple[str | tuple[str, str], ...], *, actor_id: int, state: ThreadState) -> Markup:
    """The member view of a cached discussion rendering (``split``), with ``actor_id``'s own buttons in it.

    The buttons belong to one form of the page (``FORM_ID``, holding the CSRF token once, see
    ``action_form``) through their ``form`` attribute, each posting to its own ``formaction``:
    plain HTML, no script, and no copy of the token per comment.
    """
    mine = str(actor_id)
    liked = {str(i) for i in state.liked}
    boosted = {str(i) for i in state.boosted}

    def fill(comment_id: str, author: str) -> str:
        if author == mine:
            return (f'<a class="edit" href="/comments/{comment_id}/edit">edit</a>'
                    f'<a class="delete" href="/comments/{comment_id}/delete">delete</a>')
        like = (f'<button class="link-button" form="{FORM_ID}" formaction="/comments/{comment_id}/unlike" '
                'aria-pressed="true">liked</button>' if comment_id in liked else
                f'<button class="link-button" form="{FORM_ID}" formaction="/comments/{comment_id}/like">like</button>')
        boost = (f'<button class="link-button" form="{FORM_ID}" formaction="/comments/{comment_id}/unboost" '
                 'aria-pressed="true">boosted</button>' if comment_id in boosted else
                 f'<button class="link-button" form="{FORM_ID}" formaction="/comments/{comment_id}/boost">boost</button>')
        return like + boost

    return Markup("".join(part if isinstance(part, str) else fill(*part) for part in parts))


def action_form(csrf: str) -> Markup:
    """The form the like and boost buttons of a member's page belong to: the CSRF token, once."""
    return Markup(f'<form id="{FORM_ID}" method="post" action="/" hidden>'
                  f'<input type="hidden" name="csrf" value="{escape(csrf, quote=True)}"></form>')


class StateCache:
    """Members' marks on threads (``ThreadState``), per process, keyed so that a stale answer is never served.

    The key holds the member, the thread, the thread's version and the member's follows stamp
    (``CurrentMember.follows``, read with the session): a like or boost of theirs changes a
    comment's count and so the thread's version, a follow or unfollow changes the stamp.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._states: OrderedDict[tuple, ThreadState] = OrderedDict()

    async def get(self, key: tuple[Any, ...], read: Callable[[], Awaitable[ThreadState]]) -> ThreadState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = await read()
            while len(self._states) > self.size:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return state
