"""Password hashing: argon2id through pwdlib, never the password itself.

Hashing is slow on purpose (tens of milliseconds of CPU), so it runs in a worker thread:
the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 8
# argon2 takes any length; the cap only keeps a request from feeding it megabytes.
MAX_PASSWORD_LENGTH = 1024


class PasswordPolicyError(ValueError):
    """A password too short or too long to be set."""


@dataclass(frozen=True)
class Verification:
    matches: bool
    # A new hash to store: the stored one was made with parameters the library no longer
    # recommends. None when the stored hash is current (or the password did not match).
    rehashed: str | None = None


def checked_password(password: str) -> str:
    """The password, if the policy allows it; PasswordPolicyError (saying why) otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


class PasswordHasher:
    """`hasher` defaults to pwdlib's recommendation (argon2id with its current parameters)."""

    def __init__(self, hasher: PasswordHash | None = None) -> None:
        self._hasher = hasher or PasswordHash.recommended()
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, checked_password(password))

    async def verify(self, password: str, stored: str | None) -> Verification:
        """Whether `password` matches `stored`, in constant time (the library compares).

        With nothing stored (an unknown user, or one without a password) the password is
        checked against a dummy hash and refused: the same work either way, so the answer's
        timing does not tell which names exist.
        """
        if stored is None:
            await asyncio.to_thread(self._hasher.verify, password, await self._dummy_hash())
            return Verification(matches=False)
        matches, updated = await asyncio.to_thread(self._hasher.verify_and_update, password, stored)
        return Verification(matches, updated if matches else None)

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self._hasher.hash, "no such user")
        return self._dummy
