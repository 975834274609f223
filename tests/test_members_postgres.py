"""Members on PostgreSQL: the per-request session read (written-out SQL) and the member pages work there too."""

from __future__ import annotations

import pytest

from tests.members_support import login, make_member, member_client
from tests.support import make_settings, postgres_database, running_node
from tests.members_support import signed_in_name

pytestmark = pytest.mark.postgres


async def test_a_member_signs_in_and_reads_their_pages_on_postgresql(tmp_path):
    """Sign-in, the header's name and unread count, notifications and the account page, on PostgreSQL."""
    async with postgres_database() as url:
        async with running_node(make_settings(tmp_path, database_url=url)) as node:
            await make_member(node, "alice")
            async with member_client() as http:
                await login(http, node.url("/"), "alice")
                name = await signed_in_name(http, node)
                statuses = []
                for path in ("/notifications", "/account"):
                    async with http.get(node.url(path)) as response:
                        statuses.append(response.status)
    assert name == "alice"
    assert statuses == [200, 200]
