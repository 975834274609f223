"""Password hashing with argon2id (argon2-cffi) and the minimum strength a new password must have.

Hashing runs in a worker thread: argon2 is meant to be slow (tens of milliseconds) and the
C code releases the GIL, so the event loop keeps serving while a password is checked.
The strength rule follows NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules,
and a refusal of passwords that are common or made of the account's own name.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing a megabyte-long "password" is work an attacker should not get for free

# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, t=3, m=64 MiB, p=4).
_HASHER = PasswordHasher()
# For unknown accounts: a hash to verify against, so a sign-in costs the same whether the account exists.
_DUMMY_HASH = _HASHER.hash("not a password of anyone's")

COMMON = frozenset({
    "password", "password1", "password12", "password123", "password1234", "passw0rd", "p@ssw0rd",
    "123456", "1234567", "12345678", "123456789", "1234567890", "0123456789", "9876543210",
    "qwerty", "qwertyuiop", "qwerty123", "qwerty1234", "1q2w3e4r5t", "1qaz2wsx3edc", "zaq12wsx",
    "iloveyou", "iloveyou1", "letmein", "letmein123", "welcome", "welcome1", "welcome123", "admin",
    "admin123", "administrator", "abc123", "abcdefghij", "abcd1234", "monkey", "dragon", "football",
    "baseball", "sunshine", "princess", "trustno1", "superman", "starwars", "whatever", "changeme",
    "secret", "secret123", "fednode", "fediverse", "mastodon", "forum", "forum12345",
})


class WeakPassword(ValueError):
    """Why a new password is refused, in words for the person choosing it."""


def check_strength(password: str, *, username: str = "") -> None:
    """Raise ``WeakPassword`` unless ``password`` is acceptable for a new account or a reset."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters for your password.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password has at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in COMMON or lowered.rstrip("0123456789!") in COMMON:
        raise WeakPassword("This password is one of the most common ones; choose another.")
    if len(set(password)) < 4:
        raise WeakPassword("This password repeats too few characters; choose another.")
    if username and username.lower() in lowered:
        raise WeakPassword("Your password must not contain your username.")


def hash_password_sync(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``; blocking."""
    return _HASHER.hash(password)


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, computed off the event loop."""
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; ``stored=None`` (no such account) costs the same and is False."""
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's (rehash at the next sign-in)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
