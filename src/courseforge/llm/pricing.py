"""Dollar cost of a call, from a price table per model (USD per million tokens)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float


# Published list prices; override with COURSEFORGE_PRICES='{"model": [in, out]}'.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "claude-sonnet-4-6": Price(3.00, 15.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku-latest": Price(0.80, 4.00),
}


class PriceTable:
    def __init__(self, overrides: dict[str, tuple[float, float]] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES)
        for model, (price_in, price_out) in (overrides or {}).items():
            self._prices[model] = Price(price_in, price_out)

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        """Unknown models (local, fake, self-hosted) cost nothing rather than a guess."""
        price = self._prices.get(model) or self._longest_prefix_match(model)
        if price is None:
            return 0.0
        return (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / 1e6

    def _longest_prefix_match(self, model: str) -> Price | None:
        # Dated snapshots ("gpt-4.1-mini-2025-04-14") are priced like their family.
        matches = [name for name in self._prices if model.startswith(name + "-")]
        return self._prices[max(matches, key=len)] if matches else None
