"""A fake provider that a browser test steers while the server runs it: it can hold a
unit until the test lets it go (so a page is sure to see a job mid-run), and fail a unit
permanently the first time it is asked (so a job fails once, and a retry completes)."""

from __future__ import annotations

import asyncio
import threading

from courseforge.llm.errors import PermanentLLMError
from courseforge.llm.fake import FakeProvider
from courseforge.llm.port import Completion, CompletionRequest

HOLD_LIMIT_S = 60.0  # a held unit goes on by itself after this: a test never hangs


class SteeredProvider(FakeProvider):
    def __init__(self, *, latency_ms: float) -> None:
        super().__init__(latency_ms=latency_ms)
        self._held: dict[str, threading.Event] = {}
        self._fail_once: set[str] = set()
        self._lock = threading.Lock()

    def hold(self, unit_prefix: str) -> None:
        """Units whose key starts with `unit_prefix` wait until it is released."""
        with self._lock:
            self._held[unit_prefix] = threading.Event()

    def release(self, unit_prefix: str | None = None) -> None:
        """Lets the units held under `unit_prefix` (None: all of them) go on."""
        with self._lock:
            prefixes = [unit_prefix] if unit_prefix else list(self._held)
            for prefix in prefixes:
                self._held[prefix].set()

    def fail_once(self, unit: str) -> None:
        """The first request for `unit` meets a permanent error (the job fails at once)."""
        with self._lock:
            self._fail_once.add(unit)

    async def complete(self, request: CompletionRequest) -> Completion:
        unit = request.metadata.get("unit", "")
        with self._lock:
            gates = [gate for prefix, gate in self._held.items() if unit.startswith(prefix)]
            failing = unit in self._fail_once
            self._fail_once.discard(unit)
        for gate in gates:
            # The server's event loop must go on (streams, pages): wait on a thread.
            await asyncio.to_thread(gate.wait, HOLD_LIMIT_S)
        if failing:
            raise PermanentLLMError(f"steered provider: {unit} refused, once")
        return await super().complete(request)
