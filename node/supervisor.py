"""``fednode serve --workers N``: one parent holding the listening socket, N web processes using it.

The parent binds the port (``node.listener``), migrates the database once, and starts N
children, each ``python -m node <the same command line> --listen-fd FD``: the same
settings, the same socket, inherited.  The kernel hands each new connection to one of
the processes waiting in ``accept``, so they share the load without a port each or
``SO_REUSEPORT``.  Each child is a whole node (web server, inbox, processor, crawler and,
unless ``run_worker`` is off, a delivery worker); they coordinate only through the
database, which is why this needs PostgreSQL.

A child that dies is started again (at most ``MAX_RESTARTS`` a minute, then the parent
waits); SIGTERM or SIGINT to the parent stops every child gracefully, and a child
whose parent is killed outright gets SIGTERM from the kernel (``PR_SET_PDEATHSIG``), so
no web process outlives its parent.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

log = logging.getLogger("fednode.supervisor")

MAX_RESTARTS = 10  # per minute, for all children together
STOP_SECONDS = 30  # a child still running this long after SIGTERM is killed
PR_SET_PDEATHSIG = 1


def child_arguments(argv: list[str]) -> list[str]:
    """The command line without ``--workers N`` (a child is one process)."""
    result, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        result.append(arg)
    return result


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class WebProcesses:
    """The children of ``serve --workers N`` and their restarts."""

    def __init__(self, listener: socket.socket, count: int, argv: list[str]) -> None:
        self.listener = listener
        self.count = count
        self.argv = child_arguments(argv)
        self.children: dict[int, subprocess.Popen] = {}
        self.stopping = False
        self._restarts: collections.deque[float] = collections.deque()

    def _spawn(self, slot: int) -> subprocess.Popen:
        fd = self.listener.fileno()
        command = [sys.executable, "-m", "node", *self.argv, "--listen-fd", str(fd)]
        child = subprocess.Popen(command, pass_fds=(fd,), preexec_fn=_die_with_parent)
        log.info("web process %d started (pid %d)", slot, child.pid)
        return child

    def _stop(self, signum, frame) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def run(self, announce) -> int:
        """Start the children, keep them running until SIGTERM/SIGINT, then stop them; the exit status."""
        os.set_inheritable(self.listener.fileno(), True)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in range(self.count):
            self.children[slot] = self._spawn(slot)
        announce()
        try:
            while not self.stopping:
                time.sleep(0.2)
                for slot, child in list(self.children.items()):
                    status = child.poll()
                    if status is None or self.stopping:
                        continue
                    log.warning("web process %d (pid %d) exited with status %s; starting it again",
                                slot, child.pid, status)
                    self._pace()
                    if not self.stopping:
                        self.children[slot] = self._spawn(slot)
        finally:
            self._stop(None, None)
            deadline = time.monotonic() + STOP_SECONDS
            for child in self.children.values():
                try:
                    child.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            self.listener.close()
        return 0

    def _pace(self) -> None:
        """At most MAX_RESTARTS a minute: a child that dies at once must not spin the machine."""
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > 60:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS:
            wait = 60 - (now - self._restarts[0])
            log.error("web processes keep exiting (%d restarts in a minute); waiting %.0f s", MAX_RESTARTS, wait)
            end = time.monotonic() + wait
            while time.monotonic() < end and not self.stopping:
                time.sleep(0.2)
        self._restarts.append(time.monotonic())
