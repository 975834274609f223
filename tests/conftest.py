"""Shared fixtures: settings in a temporary folder and a real node on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.support import make_settings, running_node


@pytest.fixture
def settings(tmp_path):
    """Settings for a node in a temporary folder (SQLite), on a free loopback port."""
    return make_settings(tmp_path)


@pytest.fixture
async def node(settings):
    """A node serving real HTTP on 127.0.0.1 (migrated, with its site actors)."""
    async with running_node(settings) as running:
        yield running


@pytest.fixture
async def http():
    """An aiohttp client session for talking to nodes and fakes."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        yield session
