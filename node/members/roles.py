"""What a member may do (``Role``) and where their account stands (``MemberStatus``)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A member's role: admins run the site, moderators work the queue, members take part."""

    ADMIN = "admin"
    MODERATOR = "moderator"
    MEMBER = "member"

    @property
    def can_moderate(self) -> bool:
        """Moderators and admins see the moderation pages."""
        return self in (Role.ADMIN, Role.MODERATOR)

    @property
    def can_administer(self) -> bool:
        """Only admins change members' roles and the site's settings."""
        return self is Role.ADMIN

    def includes(self, other: "Role") -> bool:
        """Whether this role has every right of ``other`` (admin ⊇ moderator ⊇ member)."""
        return RANK[self] >= RANK[other]


RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class MemberStatus(StrEnum):
    """An account's standing. Only ``ACTIVE`` members can sign in."""

    PENDING = "pending"      # applied in approval mode; an admin approves or rejects
    ACTIVE = "active"
    SUSPENDED = "suspended"  # by an admin; their sessions end
    REJECTED = "rejected"    # an application refused; the name stays taken
