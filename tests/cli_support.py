"""Running the real ``fednode`` command (``python -m node``) in a temporary folder: the shared helpers
and fixtures of the command-line tests (an initialized site folder, its database rows and key files)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from node.config import load

REPO = Path(__file__).resolve().parents[1]
BASE_URL = "https://forum.example.org"
SITE_KEYS = ("actor-instance.actor.pem", "actor-forum.pem", "actor-editor.pem")
POST = """---
title: Hello, fediverse
slug: hello
tags: [fediverse, forums]
language: en
---
The text, in **Markdown**.
"""


def fednode(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m node ARGS`` in ``cwd`` with a clean FEDNODE_* environment."""
    return subprocess.run(
        [sys.executable, "-m", "node", *args], cwd=cwd, env=clean_env(env),
        capture_output=True, text=True, timeout=timeout,
    )


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without FEDNODE_* variables, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDNODE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def rows(folder: Path, sql: str) -> list[tuple]:
    """Rows of a query against the node's SQLite database in ``folder``."""
    with sqlite3.connect(folder / "fednode.db") as connection:
        return connection.execute(sql).fetchall()


def key_files(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Each key file's bytes, mtime (ns) and permission bits."""
    found = {}
    for path in sorted((folder / "keys").iterdir()):
        info = path.stat()
        found[path.name] = (path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode))
    return found


@pytest.fixture(scope="module")
def initialized(tmp_path_factory):
    """A folder where ``fednode init --base-url https://forum.example.org --keys-dir keys`` ran once."""
    folder = tmp_path_factory.mktemp("initialized")
    result = fednode(folder, "init", "--base-url", BASE_URL, "--keys-dir", "keys")
    return folder, result


@pytest.fixture
def site(tmp_path, initialized):
    """A private copy of the initialized folder (modes and mtimes kept) to run commands in."""
    template, _ = initialized
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def article_document(folder: Path, monkeypatch, slug: str) -> dict:
    """The Article document of ``slug``, built from the folder's node in this process."""
    from node.app import open_node
    from node.db import queries
    from node.federation.convert import article_to_ap

    monkeypatch.chdir(folder)
    settings = load(folder / "fednode.toml", environ={})
    node = await open_node(settings)
    try:
        async with node.sessions() as session:
            article = await queries.get_article_by_slug(session, slug)
            site_actor = await queries.get_local_actor(session, settings.site_username)
            return article_to_ap(article, article.actor, site_actor, node.urls)
    finally:
        await node.close()


def serve_and_get(folder: Path, port: int, *extra: str, path: str = "/", accept: str = "text/html",
                  host: str | None = None) -> tuple[int, str, str]:
    """Start ``fednode serve --listen-port PORT EXTRA`` in ``folder``, GET ``path`` once it answers, stop it.

    The request carries ``Host: host`` (default ``localhost:PORT``), as a browser or a proxy would.
    Returns (status, body, stdout).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "node", "serve", "--listen-port", str(port), *extra],
        cwd=folder, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                             headers={"Accept": accept, "Host": host or f"localhost:{port}"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status, body = response.status, response.read().decode("utf-8")
                break
            # A read that outlasts its 5 s (a busy machine while the node migrates and seeds) is
            # asked again until the deadline, like a refused connection.
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"fednode serve did not answer: {process.communicate()}") from None
                time.sleep(0.1)
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=30)
    return status, body, stdout


def run_fednode(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDNODE_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "node", *args], cwd=folder, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
