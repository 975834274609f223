"""The guards handlers call: require_member sends readers to sign in, require_role refuses the wrong role."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from node.members.current import CurrentMember
from node.members.roles import Role
from node.web.guards import require_member, require_role
from node.web.request_keys import MEMBER


def request(path: str = "/admin/queue?page=2", *, member: CurrentMember | None = None, method: str = "GET",
            accept: str = "text/html") -> web.Request:
    made = make_mocked_request(method, path, headers={"Accept": accept})
    made[MEMBER] = member
    return made


def member(role: Role) -> CurrentMember:
    return CurrentMember(member_id=1, actor_id=2, actor_ap_id="https://forum.example/actors/ann", username="ann",
                         display_name=None, role=role)


def test_a_reader_is_sent_to_sign_in_and_back():
    with pytest.raises(web.HTTPSeeOther) as caught:
        require_member(request())
    assert caught.value.location == "/login?next=%2Fadmin%2Fqueue%3Fpage%3D2"


def test_an_api_client_gets_401_json():
    with pytest.raises(web.HTTPUnauthorized) as caught:
        require_member(request("/api/v1/comments", method="POST", accept="application/json"))
    assert caught.value.content_type == "application/json"


def test_a_signed_in_member_passes():
    ann = member(Role.MEMBER)
    assert require_member(request(member=ann)) is ann


@pytest.mark.parametrize("role, needed, allowed", [
    (Role.MEMBER, Role.MODERATOR, False),
    (Role.MODERATOR, Role.MODERATOR, True),
    (Role.ADMIN, Role.MODERATOR, True),
    (Role.MODERATOR, Role.ADMIN, False),
])
def test_roles_include_the_ones_below(role, needed, allowed):
    """admin ⊇ moderator ⊇ member; anyone else gets 403."""
    if allowed:
        assert require_role(request(member=member(role)), needed).role is role
    else:
        with pytest.raises(web.HTTPForbidden):
            require_role(request(member=member(role)), needed)
