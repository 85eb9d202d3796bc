"""What the vendor providers share: turning an HTTP failure into the gateway's two kinds.

Kept free of any vendor SDK so that importing one provider never imports the other's SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from courseforge.llm.errors import LLMError, PermanentLLMError, TransientLLMError

# OpenAI's rule for response_format names; Anthropic's tool names accept the same set.
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_NAME_MAX = 64

# Statuses that can succeed on a later attempt besides 429 and 5xx: a request timeout and
# a conflict (the vendors' own SDKs retry these two as well).
_RETRYABLE_4XX = frozenset({408, 409})

# A spent budget comes back as 429 (OpenAI's `insufficient_quota`) or 402/400 (credits):
# unlike a rate limit, waiting does not lift it, so it is permanent.
_BUDGET_SPENT = re.compile(
    r"insufficient_quota|exceeded your current quota|billing|credit balance|out of credits",
    re.IGNORECASE,
)


def safe_schema_name(name: str) -> str:
    """`Quiz_4_3` passes unchanged; other names are made to fit `^[a-zA-Z0-9_-]{1,64}$`."""
    return _NAME_UNSAFE.sub("_", name)[:_NAME_MAX] or "answer"


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The server's requested pause: `retry-after-ms`, else `Retry-After` (seconds or HTTP date)."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    return _seconds_until(value, now or datetime.now(UTC))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # HTTP dates are GMT by definition
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def error_detail(body: object, fallback: str) -> str:
    """The server's own words: `error.message` (Anthropic), `message` (OpenAI), FastAPI's
    `detail` (a compatible server's 422: each error's location and message), else `fallback`."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return message.strip()
        detail = body.get("detail")
        if isinstance(detail, list) and detail:
            return "; ".join(_validation_error(error) for error in detail)
        if isinstance(detail, str) and detail.strip():
            return detail.strip()
    return fallback


def _validation_error(error: object) -> str:
    """`body.response_format.type: Input should be 'text' or 'json_object'`."""
    if not isinstance(error, Mapping):
        return str(error)
    location = ".".join(str(part) for part in error.get("loc") or ())
    return f"{location}: {error.get('msg', '')}" if location else str(error.get("msg", ""))


def error_for_status(
    vendor: str, status: int, detail: str, headers: Mapping[str, str], key_hint: str
) -> LLMError:
    """Transient for 408/409/429/5xx (with the server's Retry-After), permanent for the rest
    and for a spent budget or quota, whatever its status.

    Permanent messages say what to check, since a person has to fix them.
    """
    if _BUDGET_SPENT.search(detail):
        return PermanentLLMError(
            f"{vendor} says the account's budget or quota is spent ({status}): {detail}. "
            "Check the plan and billing of the key in use."
        )
    if status == 429:
        return TransientLLMError(
            f"{vendor} rate limit (429): {detail}", retry_after_seconds(headers)
        )
    if status >= 500 or status in _RETRYABLE_4XX:
        return TransientLLMError(
            f"{vendor} server error ({status}): {detail}", retry_after_seconds(headers)
        )
    if status == 401:
        return PermanentLLMError(
            f"{vendor} rejected the API key (401): {detail}. Check {key_hint}."
        )
    if status == 403:
        return PermanentLLMError(
            f"{vendor} refused access (403): {detail}. "
            "The key may lack permission for this model or project."
        )
    if status == 404:
        return PermanentLLMError(
            f"{vendor} does not know this model or endpoint (404): {detail}. Check the model "
            "names (COURSEFORGE_MODEL_COMPLEX, COURSEFORGE_MODEL_SIMPLE) and the base URL."
        )
    return PermanentLLMError(f"{vendor} refused the request ({status}): {detail}")
