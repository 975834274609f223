"""Fixtures that run real fediverse peers on 127.0.0.1 (see tests/interop/fedify.py and
tests/interop/bovine.py)."""

from __future__ import annotations

import contextlib

import pytest

from tests.interop import bovine
from tests.interop.fedify import FedifyPeer, peer_unavailable_reason, running_fedify_peer


@pytest.fixture
async def start_fedify_peer():
    """Factory: ``peer = await start_fedify_peer(first_knock="draft-cavage",
    require_signed_fetch=True, auto_accept=True, log_level="warning")``.

    Each call starts one more Fedify peer process; all are stopped at teardown. Skips the
    test when interop/fedify-peer/node_modules is missing (``npm ci --prefix
    interop/fedify-peer``)."""
    reason = peer_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    async with contextlib.AsyncExitStack() as stack:

        async def start(**options) -> FedifyPeer:
            return await stack.enter_async_context(running_fedify_peer(**options))

        yield start


@pytest.fixture
async def fedify_peer(start_fedify_peer) -> FedifyPeer:
    """One Fedify peer with the defaults (RFC 9421 first knock, unsigned fetch allowed,
    follows auto-accepted)."""
    return await start_fedify_peer()


@pytest.fixture(scope="module")
def bovine_server():
    """One bovine-herd 0.5.19 server (actor ``moo``) shared by a test module, stopped after it.

    Skips when interop/bovine/.venv is missing (run ``interop/setup``)."""
    reason = bovine.peer_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with bovine.running_bovine_server() as server:
        yield server


@pytest.fixture
async def bovine_peer(bovine_server) -> bovine.BovinePeer:
    """A BovineClient session on the module's bovine server (its actor, client-to-server)."""
    async with bovine.bovine_session(bovine_server) as peer:
        yield peer
