"""Side effects of received activities: one table, one handler per (activity type, object type).

Each handler has the same signature, ``async def on_x(ctx: HandlerContext) -> Outcome``,
runs inside the transaction ``ctx.session`` and returns the outcome to record
(``node.federation.outcomes``).  Keys missing from ``DISPATCH`` are ignored.
Handlers register themselves with ``@handles(...)`` in the modules imported below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Activity
from node.federation.outcomes import Outcome
from node.federation.vocab import get_id

if TYPE_CHECKING:
    from node.app import Node


@dataclass
class HandlerContext:
    """What a handler gets: the node, the open transaction, the stored activity and a fetcher.

    ``fetcher`` is a ``node.federation.resolve.Resolved``: it answers only from documents
    fetched before this transaction began (a missing one rolls the transaction back, is
    fetched outside it, and the handler runs again), so a handler never waits on the
    network while it holds the database.
    """

    node: "Node"
    session: AsyncSession
    row: Activity
    fetcher: Any

    @property
    def activity(self) -> dict[str, Any]:
        return self.row.raw

    @property
    def actor_id(self) -> str:
        return self.row.actor_ap_id


Handler = Callable[[HandlerContext], Awaitable[Outcome]]
DISPATCH: dict[tuple[str, str | None], Handler] = {}


def handles(activity_type: str, object_type: str | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for ``activity_type`` whose object has ``object_type`` (None: any)."""
    def register(handler: Handler) -> Handler:
        key = (activity_type, object_type)
        if key in DISPATCH:
            raise RuntimeError(f"two handlers for {key}")
        DISPATCH[key] = handler
        return handler
    return register


def object_type(activity: dict[str, Any]) -> str | None:
    """The type of the activity's object when it is embedded, else None."""
    inner = activity.get("object")
    if isinstance(inner, dict) and isinstance(inner.get("type"), str):
        return inner["type"]
    return None


def handler_for(activity: dict[str, Any]) -> Handler | None:
    """The handler for this activity: the exact (type, object type) entry, else (type, None)."""
    kind = activity.get("type")
    return DISPATCH.get((kind, object_type(activity))) or DISPATCH.get((kind, None))


def object_id(activity: dict[str, Any]) -> str | None:
    """The id of the activity's object, embedded or referenced."""
    return get_id(activity.get("object"))


def load_all() -> None:
    """Import every handler module so that their ``@handles`` registrations run."""
    from node.federation.handlers import follows, reactions, reports, threads  # noqa: F401
