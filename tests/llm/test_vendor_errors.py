"""Which vendor refusals a job may retry: a rate limit passes, a spent budget does not."""

from __future__ import annotations

import pytest

from courseforge.llm.errors import PermanentLLMError, TransientLLMError
from courseforge.llm.vendor_errors import error_for_status


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (429, "You exceeded your current quota, please check your plan and billing details."),
        (400, "Your credit balance is too low to access the Anthropic API."),
        (402, "Insufficient credits: this key is out of credits."),
    ],
)
def test_a_spent_budget_is_permanent_whatever_its_status(status: int, detail: str) -> None:
    error = error_for_status("Vendor", status, detail, {}, "VENDOR_API_KEY")
    assert isinstance(error, PermanentLLMError)
    assert "budget or quota is spent" in str(error)


def test_a_rate_limit_stays_transient_with_its_retry_after() -> None:
    detail = "Rate limit reached for gpt-4.1-mini on tokens per min (TPM): Limit 200000"
    error = error_for_status("OpenAI", 429, detail, {"retry-after": "7"}, "OPENAI_API_KEY")
    assert isinstance(error, TransientLLMError)
    assert error.retry_after == 7
