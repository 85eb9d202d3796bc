"""What can go wrong when asking a model, split by what the caller should do about it."""

from __future__ import annotations


class LLMError(Exception):
    """Base of every LLM failure."""


class TransientLLMError(LLMError):
    """Worth another attempt after a pause: rate limit, 5xx, timeout, dropped connection."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentLLMError(LLMError):
    """Retrying cannot help: bad credentials, unknown model, a spent budget or quota, a
    request the server refuses. A job whose unit meets one fails at once."""


class ProviderUnavailableError(PermanentLLMError):
    """The provider cannot be set up here (missing package, missing model file, no key)."""


class StructuredOutputError(LLMError):
    """Every attempt failed; names the unit and the last errors so a person can act.
    `permanent`: the last error was a PermanentLLMError (the job must not retry); else
    transient errors or invalid answers used up the attempts (a later try may pass)."""

    def __init__(self, unit: str, attempts: int, reason: str, *, permanent: bool = False) -> None:
        super().__init__(f"{unit}: gave up after {attempts} attempt(s): {reason}")
        self.unit = unit
        self.attempts = attempts
        self.reason = reason
        self.permanent = permanent
