"""What one LLM call cost: the record every attempt leaves, whatever the provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Tier = Literal["complex", "simple"]
Outcome = Literal["ok", "invalid", "transient_error", "error"]


@dataclass(frozen=True)
class LLMCallRecord:
    unit: str
    provider: str
    model: str
    tier: Tier
    attempt: int
    outcome: Outcome
    tokens_in: int
    tokens_out: int
    latency_ms: float
    cost_usd: float
    error: str | None = None
