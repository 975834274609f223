"""The typed keys of what the session middleware stores on a request, for every handler that reads them.

aiohttp's request storage takes ``web.RequestKey`` keys (aiohttp >= 3.14; a plain string key
raises ``NotAppKeyWarning``, which the test suite turns into an error): a key carries the type of
its value, and one constant per key means a misspelt key is an ImportError, not a silent None.
They live here rather than in ``node.web.session`` because ``node.web.render`` reads the member
and ``node.web.session`` imports ``node.web.render``.
"""

from __future__ import annotations

from aiohttp import web

from node.members.current import CurrentMember
from node.members.sessions import OpenSession

# Who is signed in: a ``CurrentMember``, or None for a reader (set on every request by node.web.session).
MEMBER: web.RequestKey[CurrentMember | None] = web.RequestKey("member", CurrentMember)
# The OpenSession of a signed-in request: its id and CSRF token (absent for a reader).
SESSION = web.RequestKey("session", OpenSession)
