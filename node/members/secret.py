"""The node's signing secret for CSRF tokens and links: 32 random bytes in ``keys/node-secret`` (0600).

It lives beside the actors' keys because every process of a node already shares that folder
(and `fednode backup` keeps it); it is made once, with O_EXCL so processes starting together
agree on one, and never logged.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

FILE_NAME = "node-secret"


@lru_cache(maxsize=8)
def node_secret(keys_dir: str) -> bytes:
    """The secret of the node whose keys are in ``keys_dir``, created on first use."""
    path = Path(keys_dir) / FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: link() fails when the
        # name exists, so of processes starting together one wins and nobody reads half a file.
        temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes()
