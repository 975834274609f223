"""Signing in worker processes: the RSA operation of every outgoing request, off the event loop.

RSA-2048 signing costs about as much CPU as everything else a delivery does, and
with the ``cryptography`` releases we use it holds the GIL while it runs: threads
cannot sign in parallel with the event loop, processes can.  A ``SignPool`` owns a
few signing processes.  Each loads a local actor's private key once (from
``keys_dir``, by username) and keeps it; the node sends it only what a signature
needs (the request line, a few headers, the body's digest) and gets back the
headers to add.  Nothing secret crosses the pipe: the keys never leave ``keys_dir``.

How it works, and why not ``concurrent.futures.ProcessPoolExecutor``:

* Each worker is a fresh interpreter, ``python -m node.federation.signpool <fd>``
  started with ``subprocess`` (fork + exec at once, like multiprocessing's "spawn":
  nothing of the event-loop process is inherited but one end of a socket pair).
* The event loop talks to each worker through that socket pair as an ordinary
  asyncio transport: no helper threads in the node's process, so no GIL hand-offs.
  A ProcessPoolExecutor needs a management thread and a queue feeder thread, and
  its workers keep running when the node is killed (their queue's write end stays
  open in the workers themselves).
* Requests are sent in batches, like a group commit: each worker has at most
  ``DEPTH`` batches outstanding (one being signed, one waiting in its pipe), and
  whatever is asked meanwhile waits for the next batch, up to ``BATCH`` requests.
  A batch goes once the loop's current turn is over, or at once when ``BATCH``
  requests wait and a worker has room (a claim that starts hundreds of rows in one
  turn then keeps the workers signing while the rest of the rows still ask).
  Under load batches grow by themselves, and every wake-up of a worker, a costly
  thing on a virtual machine, signs several requests.
* A worker imports what it signs with, then sends a first frame saying it is ready;
  ``start()`` returns once every worker has, so the first deliveries are signed at once
  and the imports cost nothing during them.
* When the node's process dies, even by SIGKILL, the kernel closes its end of
  every socket pair; a worker reading EOF exits.  ``close()`` closes the pipes
  and waits for the workers, killing any that do not exit.
* A worker that dies fails its outstanding requests with ``SignPoolError``; the
  caller then signs in its own process (``ActorSigner.sign_async``), so a
  delivery never fails because of the pool.  Dead workers are replaced, at most
  ``MAX_RESTARTS`` times a minute.

The pool starts lazily, on the first signature, or at once with ``start()``
(the delivery worker does that when it starts).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger("fednode.signpool")

BATCH = 16  # most requests in one message to a worker
DEPTH = 2  # batches outstanding per worker: one being signed, the next already in its pipe
MAX_RESTARTS = 3  # replacements of dead workers per minute, before the pool gives up
READY_TIMEOUT = 30.0  # seconds a new worker gets to import what it signs with and say it is ready
READY = 0  # the batch id of the frame a worker sends once it is ready to sign
CLOSE_TIMEOUT = 3.0  # seconds a worker gets to exit after its pipe is closed
_HEADER = struct.Struct("!I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds ``node``


class SignPoolError(Exception):
    """The pool could not sign this request (a worker died, or the pool is closed)."""


def auto_processes(setting: int) -> int:
    """Worker processes for the ``signing_processes`` setting: -1 = one per CPU core, at most 4."""
    if setting < 0:
        return max(1, min(os.cpu_count() or 1, 4))
    return setting


class _Worker(asyncio.Protocol):
    """The node's end of one worker's socket pair: sends batches, resolves their futures."""

    def __init__(self, pool: "SignPool", process: subprocess.Popen) -> None:
        self.pool = pool
        self.process = process
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, list[asyncio.Future]] = {}  # batch id -> one future per request
        self.load = 0  # requests sent and not yet answered
        self._buffer = bytearray()
        self.lost = False
        # Resolved by the worker's first frame: its imports are done, it can sign at once.
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # a failed start says why elsewhere

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, batch_id: int, jobs: list[tuple], futures: list[asyncio.Future]) -> None:
        payload = pickle.dumps((batch_id, jobs), protocol=pickle.HIGHEST_PROTOCOL)
        self.waiting[batch_id] = futures
        self.load += len(futures)
        assert self.transport is not None
        self.transport.write(_HEADER.pack(len(payload)) + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, start)
            end = start + _HEADER.size + size
            if len(buffer) < end:
                break
            batch_id, results = pickle.loads(memoryview(buffer)[start + _HEADER.size:end])
            start = end
            if batch_id == READY:
                if not self.ready.done():
                    self.ready.set_result(None)
                continue
            futures = self.waiting.pop(batch_id, ())
            self.load -= len(futures)
            self.pool._worker_ready()
            self.pool.signed += sum(isinstance(result, dict) for result in results)
            for future, result in zip(futures, results):
                if future.done():
                    continue
                if isinstance(result, dict):
                    future.set_result(result)
                else:  # the worker's description of what went wrong
                    future.set_exception(SignPoolError(str(result)))
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(SignPoolError("a signing process went away before it was ready"))
        self.pool._worker_ready()  # requests waiting for this worker go to the others
        error = SignPoolError("a signing process went away")
        for futures in self.waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self.waiting.clear()
        self.load = 0
        self.pool._worker_lost(self)


class SignPool:
    """A few signing processes for the local actors' keys in ``keys_dir`` (see the module text)."""

    def __init__(self, keys_dir: str, processes: int) -> None:
        if processes < 1:
            raise ValueError("a SignPool needs at least one process")
        self.keys_dir = str(keys_dir)
        self.processes = processes
        self._workers: list[_Worker] = []
        self._all: list[_Worker] = []  # every worker started and not yet reaped
        self._pending: list[tuple[tuple, asyncio.Future]] = []
        self._flush_scheduled = False
        self._starting: asyncio.Future | None = None
        self._next_batch = 0
        self._restarts: deque[float] = deque()
        self._closed = False
        self._broken = False  # too many deaths: callers sign in their own process
        self._started = False  # workers were started at least once (later starts are restarts)
        self.signed = 0  # signatures the workers made (for tests and the benchmark)
        self.batches = 0  # batches sent to the workers

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (for tests and the benchmark)."""
        return [w.process.pid for w in self._workers if not w.lost]

    @property
    def usable(self) -> bool:
        """Whether asking the pool makes sense (else callers sign in their own process)."""
        return not self._broken and not self._closed

    async def start(self) -> None:
        """Start the workers now if they are not running (idempotent); SignPoolError if they cannot start."""
        if not self.usable:
            raise SignPoolError("the signing pool is closed" if self._closed else "the signing pool is broken")
        if len(self._workers) >= self.processes:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._spawn(self.processes - len(self._workers)))
        starting = self._starting
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Cannot start processes (out of memory, file descriptors...): sign in the node's process.
            if not self._broken:
                self._broken = True
                log.error("could not start the signing processes, signing in the node's process: %r", exc)
            raise SignPoolError("the signing processes could not start") from exc
        finally:
            if self._starting is starting and starting.done():
                self._starting = None

    async def _spawn(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        started: list[_Worker] = []
        for _ in range(count):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "node.federation.signpool", str(theirs.fileno()), self.keys_dir],
                    pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, close_fds=True,
                )
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()  # the worker has its copy; ours must go, so EOF means the worker is gone
            worker = _Worker(self, process)
            self._all.append(worker)
            try:
                await loop.create_unix_connection(lambda: worker, sock=ours)
            except BaseException:
                ours.close()
                raise
            started.append(worker)
        try:
            # Ready means imported: the first batches are then signed at once, and the imports'
            # CPU is spent while the node starts, not during its first fan-out.  The workers
            # start side by side; a worker that cannot get ready fails the start.
            await asyncio.wait_for(asyncio.gather(*(asyncio.shield(w.ready) for w in started)), READY_TIMEOUT)
        except BaseException:
            for worker in started:
                if worker.transport is not None:
                    worker.transport.close()
            raise
        self._workers.extend(started)
        self._started = True
        log.debug("signing pool: %d processes (%s)", len(self._workers), self.pids)

    async def sign(self, job: tuple) -> dict[str, str]:
        """Have a worker sign one request; ``job`` is what ``sign_job`` takes. SignPoolError if it cannot."""
        if not self.usable:
            raise SignPoolError("the signing pool is not available")
        if len(self._workers) < self.processes:
            await self._replace_or_start()
        future = asyncio.get_running_loop().create_future()
        pending = self._pending
        pending.append((job, future))
        if len(pending) % BATCH == 0 and self._has_room():
            # A full batch goes at once: when a claim starts hundreds of rows in one turn of
            # the loop, a flush left to the loop's next turn would keep the signing processes
            # idle until every one of those rows had asked.  (Looked at only when a batch
            # fills: a backlog waiting for room is sent when a worker answers.)
            self._send()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    async def _replace_or_start(self) -> None:
        """Start the workers (first use), or replace dead ones, at most MAX_RESTARTS a minute."""
        if self._started and self._starting is None:  # workers died: replacing them counts
            now = time.monotonic()
            while self._restarts and self._restarts[0] < now - 60:
                self._restarts.popleft()
            if len(self._restarts) >= MAX_RESTARTS:
                if self._workers:
                    return  # make do with the workers left
                self._broken = True
                log.warning("signing processes keep dying: signing in the node's process from now on")
                raise SignPoolError("the signing pool is broken")
            self._restarts.append(now)
        await self.start()

    def _has_room(self) -> bool:
        """Whether a live worker can take another batch now."""
        for worker in self._workers:
            if len(worker.waiting) < DEPTH and not worker.lost:
                return True
        return False

    def _flush(self) -> None:
        """The loop's turn came: send what waits (see ``_send``)."""
        self._flush_scheduled = False
        self._send()

    def _send(self) -> None:
        """Send what waits to the workers that have room for another batch, least busy first."""
        pending = self._pending
        if not pending:
            return
        live = [w for w in self._workers if not w.lost]
        if not live:
            self._pending = []
            error = SignPoolError("no signing process is running")
            for _, future in pending:
                if not future.done():
                    future.set_exception(error)
            return
        live.sort(key=lambda w: w.load)
        position = 0
        for worker in live:
            while position < len(pending) and len(worker.waiting) < DEPTH:
                chunk = [(job, future) for job, future in pending[position:position + BATCH] if not future.cancelled()]
                position += BATCH
                if chunk:
                    self.batches += 1
                    self._next_batch += 1
                    worker.send(self._next_batch, [job for job, _ in chunk], [future for _, future in chunk])
        self._pending = pending[position:]  # the rest goes with the next batch a worker finishes

    def _worker_ready(self) -> None:
        """A worker answered a batch: it has room for the next one."""
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _worker_lost(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        if not self._closed:
            code = worker.process.poll()
            log.warning("signing process %d went away (exit code %s)", worker.process.pid, code)

    async def close(self) -> None:
        """Stop every worker: close the pipes, wait for them to exit, kill the ones that do not."""
        self._closed = True
        if self._starting is not None:
            try:
                await asyncio.shield(self._starting)
            except Exception:  # a start that failed left nothing to stop; a cancelled close still propagates
                pass
        for _, future in self._pending:
            if not future.done():
                future.set_exception(SignPoolError("the signing pool is closed"))
        self._pending = []
        workers, self._all, self._workers = self._all, [], []
        for worker in workers:
            if worker.transport is not None:
                worker.transport.close()
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for worker in workers:
            while worker.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
        # Closed for good: a request after this signs in the caller's process, no new workers.


# --- the worker side ----------------------------------------------------------------------------

def make_job(username: str, key_id: str, scheme: str, method: str, url: str,
             headers: dict[str, str], digest: str | None) -> tuple:
    """What a worker needs to sign one request (``digest`` is the Digest or Content-Digest value)."""
    return (username, key_id, scheme, method, url, headers, digest)


def sign_job(keys_dir: str, keys: dict[str, Any], job: tuple) -> dict[str, str]:
    """The headers to add to one request, signed with the actor's key (loaded once into ``keys``)."""
    from node import keys as keyfiles
    from node.federation import httpsig

    username, key_id, scheme, method, url, headers, digest = job
    key = keys.get(username)
    if key is None:
        key = keys[username] = keyfiles.load_private_key(keys_dir, username)
    if scheme == "rfc9421":
        return httpsig.sign_rfc9421(method, url, headers, None, key, key_id, content_digest=digest)
    return httpsig.sign_cavage(method, url, headers, None, key, key_id, digest=digest)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def worker_main(fd: int, keys_dir: str) -> None:
    """Sign batches read from ``fd`` until the node closes it (or dies)."""
    import signal

    # What sign_job imports, imported before saying ready (a few tens of ms of CPU).
    from node import keys as _keyfiles  # noqa: F401
    from node.federation import httpsig as _httpsig  # noqa: F401

    # Ctrl+C reaches the whole process group: the node shuts the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    keys: dict[str, Any] = {}
    with sock:
        ready = pickle.dumps((READY, []), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            sock.sendall(_HEADER.pack(len(ready)) + ready)
        except OSError:  # the node went away
            return
        while True:
            header = _read_exactly(sock, _HEADER.size)
            if header is None:
                return
            payload = _read_exactly(sock, _HEADER.unpack(header)[0])
            if payload is None:
                return
            batch_id, jobs = pickle.loads(payload)
            results: list[Any] = []
            for job in jobs:
                try:
                    results.append(sign_job(keys_dir, keys, job))
                except Exception as exc:  # reported to the node, which signs that one itself
                    results.append(f"{exc.__class__.__name__}: {exc}"[:300])
            answer = pickle.dumps((batch_id, results), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                sock.sendall(_HEADER.pack(len(answer)) + answer)
            except OSError:  # the node went away
                return


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), sys.argv[2])
