"""The one interface every LLM provider implements.

A provider turns a chat plus a JSON schema into text in its wire protocol; it knows
nothing of retries, validation, pricing or tiers (the gateway's job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from courseforge.domain.usage import Tier

__all__ = ["ChatMessage", "Completion", "CompletionRequest", "LLMProvider", "Tier"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class CompletionRequest:
    messages: tuple[ChatMessage, ...]
    model: str
    json_schema: dict[str, Any]
    schema_name: str
    max_tokens: int = 4096
    temperature: float = 0.4
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int


class LLMProvider(Protocol):
    """Answers one request in one attempt. Raises `TransientLLMError` or `PermanentLLMError`."""

    name: str

    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def aclose(self) -> None: ...
