"""Owners' passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's
low-memory profile), never the password itself. Hashing takes tens of
milliseconds of CPU on purpose: the server verifies in a worker thread."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_problem(password: str) -> str | None:
    """Why this password may not be set, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def _matches(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(hashed: str | None, password: str) -> bool:
    """In a worker thread. With no hash stored, a dummy one is checked, so an
    owner without a password takes as long to refuse as a wrong password."""
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_matches, hashed or _DUMMY, password) and hashed is not None


_DUMMY = hash_password("no password is set for this owner")
