"""``CurrentMember``: who is signed in on this request (``request[node.web.request_keys.MEMBER]``), or None for a reader."""

from __future__ import annotations

from dataclasses import dataclass

from node.members.roles import MemberStatus, Role


@dataclass(frozen=True)
class CurrentMember:
    """The signed-in member as handlers and templates see it; set by ``node.web.session``.

    A plain snapshot read with the session: handlers that change the member read its row again.
    """

    member_id: int
    actor_id: int        # actors.id of the member's local Person actor
    actor_ap_id: str
    username: str
    display_name: str | None
    role: Role
    status: MemberStatus = MemberStatus.ACTIVE
    unread: int = 0      # unread notifications (the header shows the count)
    follows: str = ""    # a stamp of the threads they follow, which changes with every follow and unfollow

    @property
    def name(self) -> str:
        """What pages call the member: the display name, else the username."""
        return self.display_name or self.username
