"""Drive a real bovine-herd 0.5.19 server (Python, Quart + tortoise-orm) from tests.

bovine-herd is an independent ActivityPub server. It runs from its own virtualenv,
``interop/bovine/.venv`` (installed by ``interop/setup`` from interop/bovine/requirements.txt),
so none of its dependencies enter Fednode's environment. It requires signed GETs: its actor
documents answer 401 to an unsigned fetch.

``BovineServer`` (synchronous, so one server can serve a whole test module) makes a temporary
folder with its own SQLite database, runs bovine's own CLI there::

    python -m bovine_store create
    python -m bovine_store register --domain http://127.0.0.1:PORT --handle moo
    python -m bovine_store key --new <bovine name>      # the Moo-Auth-1 secret

then starts ``interop/bovine/server.py`` (bovine-herd's app under Hypercorn, 127.0.0.1 only)
in its own process group, waits until it answers, and at ``stop()`` ends the group and
removes the folder. Its log (bovine's INFO log and Hypercorn's access log) is kept in that
folder and shown in failure messages.

``BovinePeer`` (async, one per test) runs ``interop/bovine/control.py``, which logs in as the
actor with ``bovine.BovineClient`` and sends what the test asks to the actor's outbox
(client-to-server): bovine itself then signs and delivers. Use the pytest fixtures
``bovine_server`` and ``bovine_peer`` of ``tests/interop/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from tests.interop.loopback import LoopbackAddress
from tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
BOVINE_DIR = REPO_ROOT / "interop" / "bovine"
VENV = BOVINE_DIR / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
SERVER_SCRIPT = BOVINE_DIR / "server.py"
CONTROL_SCRIPT = BOVINE_DIR / "control.py"
INSTALL_HINT = "interop/setup"
VERSION = "0.5.19"

READY_TIMEOUT = 30.0
CLI_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


class BovineError(Exception):
    """A step against bovine failed; the message says which, and what bovine logged."""


def peer_unavailable_reason() -> str | None:
    """Why bovine-herd cannot run here, or None when it can."""
    if not VENV_PYTHON.exists():
        return f"bovine-herd not installed ({VENV_PYTHON} missing); run `{INSTALL_HINT}`"
    if not (VENV / ".requirements.sha256").exists():
        return f"bovine-herd venv {VENV} is incomplete; run `{INSTALL_HINT}`"
    return None


def _child_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["BOVINE_DB_URL"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


class BovineServer(LoopbackAddress):
    """One bovine-herd server with one actor, on 127.0.0.1 and a free port."""

    def __init__(self, handle: str = "moo"):
        self.handle = handle
        self.folder = Path(tempfile.mkdtemp(prefix="fednode-bovine-"))
        self.port = 0
        self.db_url = f"sqlite://{self.folder / 'bovine.sqlite3'}"
        self.log_path = self.folder / "bovine.log"
        self.process: subprocess.Popen | None = None
        self.bovine_name = ""
        self.secret = ""
        self.actor: dict[str, Any] = {}

    # --- addresses -----------------------------------------------------------------------

    @property
    def actor_id(self) -> str:
        return self.actor["id"]

    @property
    def address(self) -> str:
        return f"@{self.handle}@{self.host}"

    # --- log -----------------------------------------------------------------------------

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log(self, since: int = 0, limit: int = 6000) -> str:
        """bovine's log from byte ``since`` on (its last ``limit`` characters)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(since)
                text = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "(no log yet)"
        return text if len(text) <= limit else "...\n" + text[-limit:]

    # --- life cycle ----------------------------------------------------------------------

    def _cli(self, *args: str) -> str:
        """``python -m bovine_store ARGS`` in the venv; its output, or BovineError."""
        command = [str(VENV_PYTHON), "-m", "bovine_store", *args]
        try:
            done = subprocess.run(
                command, cwd=self.folder, env=_child_env(self.db_url), capture_output=True,
                text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise BovineError(f"step: `{' '.join(command[1:])}` did not finish in {CLI_TIMEOUT}s") from exc
        if done.returncode != 0:
            raise BovineError(
                f"step: `{' '.join(command[1:])}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def _prepare(self) -> None:
        """bovine's own CLI: create the tables, register the actor, give it a Moo-Auth-1 key."""
        self._cli("create")
        out = self._cli("register", "--domain", self.base, "--handle", self.handle)
        match = re.search(r"bovine name (\S+)", out)
        if not match:
            raise BovineError(f"step: register printed no bovine name: {out!r}")
        self.bovine_name = match.group(1)
        out = self._cli("key", "--new", self.bovine_name)
        match = re.search(r"Your new secret: (\S+)", out)
        if not match:
            raise BovineError(f"step: key --new printed no secret: {out!r}")
        self.secret = match.group(1)
        self.actor = json.loads(self._cli("actor", "--name", self.bovine_name))

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/.well-known/nodeinfo", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> "BovineServer":
        for attempt in range(3):
            self.port = free_port()
            db = self.folder / "bovine.sqlite3"
            db.unlink(missing_ok=True)
            self._prepare()
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [str(VENV_PYTHON), str(SERVER_SCRIPT), "--port", str(self.port), "--db", self.db_url],
                    cwd=self.folder, env=_child_env(self.db_url), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            deadline = time.monotonic() + READY_TIMEOUT
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if self._answers():
                    return self
                time.sleep(0.1)
            exited = self.process.poll() is not None
            self.stop_process()
            log = self.log()
            if exited and "address already in use" in log.lower() and attempt < 2:
                continue  # lost the race for the port: try another
            why = f"exited with code {self.process.returncode}" if exited else f"did not answer within {READY_TIMEOUT}s"
            raise BovineError(f"step: start bovine-herd on {self.base}: {why}\n--- bovine log ---\n{log}")
        raise AssertionError("unreachable")

    def stop_process(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        try:
            self.stop_process()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running_bovine_server(handle: str = "moo"):
    """Start a BovineServer and stop it (and remove its folder) on exit."""
    reason = peer_unavailable_reason()
    if reason is not None:
        raise FileNotFoundError(reason)
    server = BovineServer(handle)
    try:
        yield server.start()
    finally:
        server.stop()


class BovinePeer:
    """A BovineClient session (interop/bovine/control.py) on a running BovineServer."""

    def __init__(self, server: BovineServer, process: asyncio.subprocess.Process):
        self.server = server
        self.process = process
        self.log_start = server.log_size()
        self._lock = asyncio.Lock()

    @property
    def actor_id(self) -> str:
        return self.server.actor_id

    @property
    def actor(self) -> dict[str, Any]:
        return self.server.actor

    @property
    def base(self) -> str:
        return self.server.base

    def log(self) -> str:
        """What bovine logged since this peer session began."""
        return self.server.log(self.log_start)

    # --- the control channel -------------------------------------------------------------

    async def call(self, op: str, **fields: Any) -> Any:
        """Run one control command; BovineError (with bovine's log) when it fails."""
        async with self._lock:
            if self.process.returncode is not None:
                raise BovineError(f"step: {op}: control.py has exited\n{await self.view()}")
            self.process.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
            await self.process.stdin.drain()
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), CALL_TIMEOUT)
            except asyncio.TimeoutError:
                raise BovineError(f"step: {op} {fields}: no answer in {CALL_TIMEOUT}s\n{await self.view()}") from None
        if not line:
            raise BovineError(f"step: {op} {fields}: control.py exited\n--- bovine log ---\n{self.log()}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BovineError(
                f"step: {op} {fields}: {answer['error']}\n{answer.get('traceback', '')}\n--- bovine log ---\n{self.log()}"
            )
        return answer["result"]

    # --- reading bovine's own state ------------------------------------------------------

    async def get(self, url: str) -> dict:
        """GET with the actor's own credentials: ``{status, body}``."""
        return await self.call("get", url=url)

    async def items(self, url: str) -> list:
        """Every item id (or embedded item) of one of the actor's collections."""
        return await self.call("items", url=url)

    async def following(self) -> list[str]:
        return await self.items(self.actor["following"])

    async def followers(self) -> list[str]:
        return await self.items(self.actor["followers"])

    async def inbox_ids(self) -> list[str]:
        """The ids in the actor's inbox collection: what bovine accepted (signature verified)
        and stored, newest first."""
        return [item if isinstance(item, str) else item.get("id") for item in await self.items(self.actor["inbox"])]

    async def inbox(self) -> list[dict]:
        """The activities of the actor's inbox, as bovine's store gives them (``proxy``)."""
        found = []
        for item in await self.items(self.actor["inbox"]):
            if isinstance(item, str):
                got = await self.proxy(item)
                item = got["body"] if got["status"] == 200 else {"id": item, "unreadable": got}
            found.append(item)
        return found

    async def proxy(self, url: str) -> dict:
        """bovine's server fetches ``url`` (a GET signed by the actor): ``{status, body}``."""
        return await self.call("proxy", url=url)

    # --- acting (client-to-server: the outbox) -------------------------------------------

    async def follow(self, target: str) -> dict:
        return await self._sent("follow", target=target)

    async def unfollow(self, follow_id: str) -> dict:
        return await self._sent("unfollow", follow_id=follow_id)

    async def reply(self, in_reply_to: str, content: str) -> dict:
        """Create(Note inReplyTo ...) addressed as bovine's ObjectFactory.reply does it;
        the result has ``location`` (the Create's id) and ``object_id`` (the Note's)."""
        return await self._sent("reply", in_reply_to=in_reply_to, content=content)

    async def like(self, object_id: str) -> dict:
        return await self._sent("like", object=object_id)

    async def delete(self, object_id: str) -> dict:
        return await self._sent("delete", object_id=object_id)

    async def _sent(self, op: str, **fields: Any) -> dict:
        result = await self.call(op, **fields)
        if result["status"] != 201 or not result.get("location"):
            raise BovineError(f"step: {op}: bovine's outbox answered {result}\n--- bovine log ---\n{self.log()}")
        return result

    # --- for failure messages ------------------------------------------------------------

    async def view(self) -> str:
        """What bovine holds and logged, for assertion messages (never raises)."""
        parts = []
        if self.process.returncode is None:
            for name, read in (("inbox", self._inbox_summary), ("following", self.following),
                               ("followers", self.followers)):
                try:
                    parts.append(f"bovine {name}: {await asyncio.wait_for(read(), 10)}")
                except Exception as exc:
                    parts.append(f"bovine {name}: unreadable ({exc!r})"[:500])
        parts.append(f"--- bovine log (this test) ---\n{self.log()}")
        return "\n".join(parts)

    async def _inbox_summary(self) -> list:
        summary = []
        for item in await self.inbox():
            obj = item.get("object")
            summary.append((item.get("type"), item.get("id"), obj.get("id") if isinstance(obj, dict) else obj))
        return summary

    async def wait_for(
        self, check: Callable[[], Awaitable[Any]], what: str, *, timeout: float = 15.0,
    ) -> Any:
        """Poll the async ``check`` until it returns something truthy; fail naming ``what``
        with bovine's view."""
        deadline = time.monotonic() + timeout
        while True:
            last = await check()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"step: {what}: not reached within {timeout}s (last: {last!r})\n{await self.view()}"
                )
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def bovine_session(server: BovineServer) -> AsyncIterator[BovinePeer]:
    """Log in to ``server`` with control.py; end that process on exit."""
    # The client's own warnings go to bovine's log file, with the server's.
    with server.log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            str(VENV_PYTHON), str(CONTROL_SCRIPT), "--domain", server.base, "--secret", server.secret,
            cwd=server.folder, env=_child_env(server.db_url), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True,
            limit=16 * 1024 * 1024,
        )
    peer = BovinePeer(server, process)
    try:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
        except asyncio.TimeoutError:
            line = b""
        if not line or not json.loads(line).get("ok"):
            raise BovineError(
                f"step: BovineClient login to {server.base}: {line!r}\n--- bovine log ---\n{peer.log()}"
            )
        yield peer
    finally:
        if process.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
