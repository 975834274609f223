"""Test helpers: real nodes (and fake servers) on 127.0.0.1, settings for a temporary folder, PostgreSQL databases, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from node.app import NODE, Node, create_app
from node.config import SETTINGS_BY_NAME, Settings, load
from node.web.server import GuardedRunner

TEST_LINGER = 0.5     # seconds a test server reads an unread request body before closing
TEST_SHUTDOWN = 2.0   # seconds a test server waits for requests still running when it stops

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Every hold rule of node.moderation.policy turned off (blocks, bans and locks still apply).
POLICY_OFF = {
    "moderation_first_comments": "off", "moderation_hold_new_instances": False, "moderation_max_mentions": 0,
    "moderation_hold_links": False, "moderation_new_account_days": 0, "moderation_actor_rate": 0,
    "moderation_instance_rate": 0,
}
# The shipped defaults of the same settings.
POLICY_DEFAULTS = {name: SETTINGS_BY_NAME[name].default for name in POLICY_OFF}


def make_settings(folder: Path, port: int | None = None, **overrides) -> Settings:
    """Settings for a node living in ``folder``, reachable at http://127.0.0.1:<port>.

    Tests run on loopback over plain http, so they turn on allow_http and
    allow_private_network explicitly (never the defaults).  They sign in the
    node's own process (``signing_processes=0``): starting signing processes for
    every node would cost seconds per test file.  Tests of signing and delivery
    that must exercise the pool pass ``signing_processes`` themselves.

    The moderation policy's holds are off (``POLICY_OFF``), so a reply shows at
    once as the threading and federation tests expect; the moderation tests
    pass the rules they exercise (``POLICY_DEFAULTS`` restores the shipped ones).
    """
    port = port or free_port()
    values = {
        "base_url": f"http://127.0.0.1:{port}",
        "listen_port": port,
        "database_url": f"sqlite+aiosqlite:///{folder / 'fednode.db'}",
        "keys_dir": str(folder / "keys"),
        "allow_http": True,
        "allow_private_network": True,
        "signing_processes": 0,
        **POLICY_OFF,
    }
    values.update(overrides)
    return load(config_file=None, environ={}, overrides=values, read_default_file=False)


@dataclass
class RunningNode:
    """A node serving real HTTP on 127.0.0.1."""

    settings: Settings
    app: web.Application
    runner: web.AppRunner
    # Every request the node answered, as "METHOD /path?query", for tests that prove what was asked.
    requests: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.settings.base

    @property
    def node(self) -> Node:
        return self.app[NODE]

    def url(self, path: str) -> str:
        return self.base + path


# Every 5xx a test node answers, as "status METHOD path"; tests/conftest.py fails the
# test that caused one unless it is marked ``allow_server_errors``.
SERVER_ERRORS: list[str] = []


async def _record_server_error(request: web.Request, response: web.StreamResponse) -> None:
    if response.status >= 500:
        SERVER_ERRORS.append(f"{response.status} {request.method} {request.path[:200]}")


@contextlib.asynccontextmanager
async def running_node(settings: Settings) -> AsyncIterator[RunningNode]:
    """Start a node for ``settings`` on its port; stop it on exit."""
    app = create_app(settings)
    app.on_response_prepare.append(_record_server_error)
    answered: list[str] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        answered.append(f"{request.method} {request.path_qs}")

    app.on_response_prepare.append(record)
    # As `fednode serve` runs it (its connection limits), but a test server lingers on unread
    # bodies and waits for open requests at shutdown for a moment, not aiohttp's 10 s and 60 s.
    runner = GuardedRunner(app, settings, lingering_time=TEST_LINGER, shutdown_timeout=TEST_SHUTDOWN)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.listen_port)
    await site.start()
    try:
        yield RunningNode(settings=settings, app=app, runner=runner, requests=answered)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serving(app: web.Application, port: int, host: str = "127.0.0.1") -> AsyncIterator[None]:
    """Serve a fake server's ``app`` on ``host``:``port`` until the block ends, lingering and shutting
    down as briefly as a test node does."""
    runner = web.AppRunner(app, access_log=None, lingering_time=TEST_LINGER, shutdown_timeout=TEST_SHUTDOWN)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (asyncpg URL), dropped afterwards; skips when absent."""
    import asyncpg
    import pytest

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc.__class__.__name__})")
    name = f"fednode_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def is_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def wait_for(predicate, timeout: float = 10.0, *, what: str | Callable[[], Any] = "a condition",
                   interval: float = 0.05):
    """Poll ``predicate`` (plain or async) until it returns something truthy, and return that.

    Deliveries, the inbox processor and the worker run on their own; after ``timeout`` seconds the
    test fails with an AssertionError naming ``what`` it waited for.  ``what`` may be a function
    (plain or async), called only then, for a description that includes what was seen instead
    (a process's log, the counts).  ``predicate`` is asked every ``interval`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            if callable(what):
                what = what()
                if inspect.isawaitable(what):
                    what = await what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)
