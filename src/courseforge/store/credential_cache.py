"""A short-lived, bounded memory of which token hashes authenticate whom.

A request's token is looked up once per `ttl_s` per process instead of on every request.
The price is bounded staleness: a token revoked by another process (the command line,
another API replica) still works here for at most `ttl_s` seconds; a revocation in this
process empties the cache at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")
DEFAULT_MAX_ENTRIES = 10_000


class CredentialCache(Generic[Value]):
    """Entries expire `ttl_s` after they were stored; the oldest go first when full.
    `ttl_s` 0 caches nothing."""

    def __init__(
        self, ttl_s: float, monotonic: Callable[[], float], max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Value]] = OrderedDict()

    def get(self, key: str) -> Value | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._monotonic() >= expires:
            del self._entries[key]
            return None
        return value

    def put(self, key: str, value: Value) -> None:
        if self._ttl_s <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self._monotonic() + self._ttl_s, value)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
