"""The node's key pairs: one RSA-2048 private key per local actor, kept in ``keys/``.

Keys are created once with mode 0600 and never overwritten: losing or replacing
a key breaks every remote server's cached copy of it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from node.errors import ConfigError

KEY_BITS = 2048


def key_path(keys_dir: str | os.PathLike, username: str) -> Path:
    """Where the private key of local actor ``username`` lives."""
    return Path(keys_dir) / f"actor-{username}.pem"


def ensure_key(keys_dir: str | os.PathLike, username: str) -> tuple[Path, bool]:
    """Create the actor's key file if it is missing; return (path, created)."""
    path = key_path(keys_dir, username)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two processes starting at once must not both write (and one overwrite) the key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path, False
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path, True


@lru_cache(maxsize=256)
def _load_cached(path: str, mtime_ns: int) -> RSAPrivateKey:
    data = Path(path).read_bytes()
    # Our own files, written by ensure_key: re-validating the RSA math costs ~80 ms a key.
    key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(f"keys_dir: {path} is not an RSA private key")
    return key


def load_private_key(keys_dir: str | os.PathLike, username: str) -> RSAPrivateKey:
    """Load (and cache) the private key of local actor ``username``."""
    path = key_path(keys_dir, username)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"keys_dir: no key for {username!r} at {path}; run `fednode init`") from None
    return _load_cached(str(path), stat.st_mtime_ns)


def public_pem(private_key: RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM that goes into the actor's ``publicKey``."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
