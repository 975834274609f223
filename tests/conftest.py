"""Shared fixtures: settings in a temporary folder and a real node on 127.0.0.1.

Every test is also held to the rule that bad input is a 4xx, never a 5xx: a
test fails when a node it ran answered a 5xx or logged an unhandled error
(aiohttp's "Error handling request" for its connections, our "unhandled error on ...").  The few
tests that provoke a 5xx on purpose (503 for a busy database or too many
connections) say so with ``@pytest.mark.allow_server_errors``.

And every test is held to the rule that no fetch starts while its task holds an
open write transaction (``tests/txguard.py``).
"""

from __future__ import annotations

import logging

import pytest

from tests import support, txguard
from tests.support import make_settings, running_node

# Loggers whose ERROR records mean a request to a node ended in an unhandled exception:
# aiohttp's own, for the node's connections (node.web.server.HTTP_LOG), and the error
# middleware's.  Fake servers log under aiohttp's names and are not held to this.
SERVER_ERROR_LOGGERS = ("fednode.http", "fednode.web")


class _ServerErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SERVER_ERROR_LOGGERS):
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_server_errors(request):
    """Fail the test if a node answered 5xx or logged an unhandled error (opt out: allow_server_errors)."""
    handler = _ServerErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    support.SERVER_ERRORS.clear()
    try:
        yield
    finally:
        root.removeHandler(handler)
    if request.node.get_closest_marker("allow_server_errors"):
        return
    problems = list(support.SERVER_ERRORS)
    problems += [f"{r.name}: {r.getMessage()[:300]}" + (f" ({r.exc_info[0].__name__})" if r.exc_info else "")
                 for r in handler.records]
    support.SERVER_ERRORS.clear()
    if problems:
        pytest.fail("the node answered 5xx or logged an unhandled error:\n  " + "\n  ".join(problems[:20]),
                    pytrace=False)


@pytest.fixture(autouse=True)
def no_fetch_inside_a_write_transaction(monkeypatch):
    """Fail the test if any fetch (GET or POST) started while its task held an uncommitted write."""
    from node.federation.fetch import Fetcher

    for name in ("get_activitypub", "get_json", "get", "post", "post_plain"):
        monkeypatch.setattr(Fetcher, name, txguard.guarded(getattr(Fetcher, name)))
    txguard.violations.clear()
    yield
    found = list(txguard.violations)
    txguard.violations.clear()
    if found:
        pytest.fail("a fetch ran inside a write transaction:\n  " + "\n  ".join(found[:20]), pytrace=False)


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


_NODE_KEYS: list = []  # RSA keys generated once for the whole run, handed to nodes in order


@pytest.fixture(scope="session")
def rsa_key_pool():
    """The session's pool of node keys (grows to the most one test has needed)."""
    return _NODE_KEYS


@pytest.fixture(autouse=True)
def shared_node_keys(monkeypatch, rsa_key_pool):
    """Nodes started in this process get their key pairs from a pool generated once per run instead of
    generating each (about 0.18 s a key): within one test every key is still a different one, so no two
    actors of a test can sign for each other.  Servers run as subprocesses generate their own."""
    import itertools
    from types import SimpleNamespace

    from node import keys

    real = keys.rsa.generate_private_key
    handed = itertools.count()

    def pooled(public_exponent: int, key_size: int, *args, **kwargs):
        index = next(handed)
        while len(rsa_key_pool) <= index:
            rsa_key_pool.append(real(public_exponent=public_exponent, key_size=key_size))
        return rsa_key_pool[index]

    monkeypatch.setattr(keys, "rsa", SimpleNamespace(generate_private_key=pooled))
