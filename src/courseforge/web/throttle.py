"""Failed logins throttled per account name and per client address.

A moving window kept in this process's memory (the `limits` library): with several
workers, each counts its own failures. Only failures count, and a throttled name or
address is refused before its password is checked, so a correct password does not get
through while throttled — and the answer is the same whether or not the user exists.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    def __init__(self, *, per_name: int, per_address: int, window_minutes: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_name = RateLimitItemPerMinute(per_name, window_minutes)
        self._per_address = RateLimitItemPerMinute(per_address, window_minutes)

    def retry_after_s(self, name: str, address: str) -> int | None:
        """Seconds until a login may be tried again; None when it may be tried now."""
        waits = [
            self._wait_s(limit, key)
            for limit, key in self._limits(name, address)
            if not self._limiter.test(limit, key)
        ]
        return max(waits) if waits else None

    def failed(self, name: str, address: str) -> None:
        for limit, key in self._limits(name, address):
            self._limiter.hit(limit, key)

    def _limits(self, name: str, address: str) -> list[tuple[RateLimitItemPerMinute, str]]:
        return [(self._per_name, f"name:{name.casefold()}"), (self._per_address, f"addr:{address}")]

    def _wait_s(self, limit: RateLimitItemPerMinute, key: str) -> int:
        reset_at = self._limiter.get_window_stats(limit, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))
