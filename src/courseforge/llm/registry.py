"""Which provider serves this run, and with which models: `auto` as the spec orders it."""

from __future__ import annotations

from dataclasses import dataclass

from courseforge.llm.fake import FakeProvider
from courseforge.llm.gateway import ModelRoute
from courseforge.llm.port import LLMProvider
from courseforge.settings import Settings

DEFAULT_ROUTES: dict[str, ModelRoute] = {
    "openai": ModelRoute(complex="gpt-4.1-mini", simple="gpt-4.1-nano"),
    "anthropic": ModelRoute(complex="claude-sonnet-4-6", simple="claude-haiku-4-5"),
    "local": ModelRoute(complex="smollm2-135m-instruct", simple="smollm2-135m-instruct"),
    "fake": ModelRoute(complex="fake-complex", simple="fake-simple"),
}

LOCAL_NOTICE = (
    "Using the bundled offline model SmolLM2-135M (llama.cpp, CPU). It is a 135M-parameter "
    "demo model: the course will be valid but its writing is low quality. Set OPENAI_API_KEY, "
    "ANTHROPIC_API_KEY or COURSEFORGE_LLM_BASE_URL for a real model."
)


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    route: ModelRoute
    reason: str
    notice: str | None = None
    max_concurrency: int | None = None

    def announcement(self) -> str:
        models = (
            self.route.complex
            if self.route.complex == self.route.simple
            else f"{self.route.complex} (complex), {self.route.simple} (simple)"
        )
        return f"LLM provider: {self.name} — {models} ({self.reason})"


def choose_provider(settings: Settings) -> ProviderChoice:
    name, reason = _pick_name(settings)
    default = DEFAULT_ROUTES[name]
    route = ModelRoute(
        complex=settings.model_complex or default.complex,
        simple=settings.model_simple or settings.model_complex or default.simple,
    )
    if name == "local":
        # One in-process model on the CPU: parallel calls only queue behind each other.
        return ProviderChoice(name, route, reason, notice=LOCAL_NOTICE, max_concurrency=1)
    return ProviderChoice(name, route, reason)


def _pick_name(settings: Settings) -> tuple[str, str]:
    if settings.llm_provider != "auto":
        return settings.llm_provider, "chosen by COURSEFORGE_LLM_PROVIDER"
    if settings.openai_api_key:
        return "openai", "OPENAI_API_KEY is set"
    if settings.anthropic_api_key:
        return "anthropic", "ANTHROPIC_API_KEY is set"
    if settings.llm_base_url:
        return "openai", f"OpenAI-compatible server at {settings.llm_base_url}"
    return "local", "no API key or server configured"


def build_provider(choice: ProviderChoice, settings: Settings) -> LLMProvider:
    """Imports each vendor's SDK only when it is the one chosen."""
    if choice.name == "fake":
        return FakeProvider(
            latency_ms=settings.fake_latency_ms,
            error_rate=settings.fake_error_rate,
            invalid_rate=settings.fake_invalid_rate,
            seed=settings.fake_seed,
            crash_on=settings.fake_crash_on,
        )
    if choice.name == "openai":
        from courseforge.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(
            api_key=settings.openai_api_key or settings.llm_api_key,
            base_url=settings.llm_base_url,
            timeout_s=settings.llm_timeout_s,
        )
    if choice.name == "anthropic":
        from courseforge.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(
            api_key=settings.anthropic_api_key,
            base_url=None,
            timeout_s=settings.llm_timeout_s,
        )
    from courseforge.llm.local_provider import LocalProvider

    return LocalProvider(
        model_path=settings.local_model_path,
        threads=settings.local_threads,
        context_tokens=settings.local_context_tokens,
    )
