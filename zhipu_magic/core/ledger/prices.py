"""What a call cost: prices per million tokens where they are known, and unknown otherwise.

The wire contract (``zhipu_api.md``, read on :data:`PRICES_READ`) knows almost no prices: it names the
free models (``free`` in :mod:`zhipu_magic.api.models`) and says batch jobs cost 50 % of the online
price. So a free model costs 0, every other model is *unknown* (``None``, never 0) until its price is
told with :func:`set_price` or the ``ZHIPU_MAGIC_PRICES`` environment variable
(``glm-4-air=0.5/0.5,glm-4-plus=5/5``: input/output per million tokens, in :data:`CURRENCY`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from ...api.models import get_model

PRICES_ENV_VAR = "ZHIPU_MAGIC_PRICES"
PRICES_READ = "2026-03-13"  # the date the contract's price facts (free models, batch 50 %) were read
CURRENCY = "CNY"
BATCH_DISCOUNT = 0.5  # batch jobs: 50 % of the online price (zhipu_api.md §8.1)


class Price(NamedTuple):
    """Per million tokens; ``source`` says where the price came from, ``read`` when."""

    input: float
    output: float
    source: str
    read: str


_TOLD: dict[str, Price] = {}
_LOCK = threading.Lock()
_ENTRY = re.compile(r"\s*([\w.\-]+)\s*=\s*([0-9.]+)\s*/\s*([0-9.]+)\s*")


def set_price(model: str, input_per_million: float, output_per_million: float, *, read: str = "") -> None:
    """Tell the price of ``model`` (per million input / output tokens, in :data:`CURRENCY`)."""
    if input_per_million < 0 or output_per_million < 0:
        raise ValueError("prices are never negative")
    with _LOCK:
        _TOLD[model] = Price(float(input_per_million), float(output_per_million), "set_price", read)


def forget_prices() -> None:
    """Forget every price told with :func:`set_price` (the contract's free models stay free)."""
    with _LOCK:
        _TOLD.clear()


def _from_env(model: str) -> Price | None:
    for entry in os.environ.get(PRICES_ENV_VAR, "").split(","):
        found = _ENTRY.fullmatch(entry)
        if found and found.group(1) == model:
            try:
                return Price(float(found.group(2)), float(found.group(3)), PRICES_ENV_VAR, "")
            except ValueError:
                return None
    return None


def price_of(model: str | None) -> Price | None:
    """The model's price, or ``None`` when nobody knows it."""
    if not model:
        return None
    with _LOCK:
        told = _TOLD.get(model)
    if told is not None:
        return told
    from_env = _from_env(model)
    if from_env is not None:
        return from_env
    info = get_model(model)
    if info is not None and info.free:
        return Price(0.0, 0.0, "contract: free model", PRICES_READ)
    return None


def tokens(usage: Mapping[str, Any] | None) -> tuple[int, int]:
    """``(input, output)`` tokens of a usage dict (0 for a missing or odd count)."""
    usage = usage or {}

    def count(name: str) -> int:
        value = usage.get(name)
        return value if type(value) is int and value >= 0 else 0

    return count("prompt_tokens"), count("completion_tokens")


def cost(
    model: str | None, usage: Mapping[str, Any] | None, *, batch: bool = False, local: bool = False
) -> float | None:
    """What a call with this usage cost, or ``None`` when the price is unknown (never a made-up 0).
    An answer from the built-in local server (``local``) cost nothing, whatever model it names."""
    if local:
        return 0.0
    price = price_of(model)
    if price is None:
        return None
    tokens_in, tokens_out = tokens(usage)
    total = (tokens_in * price.input + tokens_out * price.output) / 1_000_000
    return total * BATCH_DISCOUNT if batch else total


def format_cost(value: float | None, *, free: bool = False) -> str:
    """``free``, ``¥0.0012`` or ``cost unknown``."""
    if value is None:
        return "cost unknown"
    if value == 0 and free:
        return "free"
    return f"¥{value:.4f}" if value < 1 else f"¥{value:.2f}"


def describe(
    model: str | None, usage: Mapping[str, Any] | None, *, batch: bool = False, local: bool = False
) -> str:
    """One call's cost in words: ``free``, ``¥0.0012`` or ``cost unknown``."""
    price = price_of(model)
    free = local or (price is not None and price.input == 0 and price.output == 0)
    return format_cost(cost(model, usage, batch=batch, local=local), free=free)
