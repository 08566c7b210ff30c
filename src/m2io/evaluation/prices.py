"""Token prices for cost estimates, in USD per 1M tokens (input, output).

The table below holds list prices of a few hosted models as published by their vendors on
:data:`PRICES_DATE`. Prices change: pass your own table with ``m2io eval --prices FILE`` (YAML or
JSON, same shape as :data:`PRICES`), which is merged over this one::

    # prices.yaml  (USD per 1M tokens)
    gpt-4o: {input: 2.50, output: 10.00}
    my-vllm-model: {input: 0, output: 0}

Local and offline backends (the extractive generator, a server on localhost) cost 0. A hosted
model missing from the table gets no estimate (``None``) rather than a guess.

Example:
    >>> estimate_cost("gpt-4o-mini", prompt_tokens=1_000_000, completion_tokens=0)
    0.15
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

PRICES_DATE = "2025-06-01"


@dataclass(frozen=True)
class Price:
    """USD per 1M input (prompt) and output (completion) tokens."""

    input: float
    output: float


PRICES: dict[str, Price] = {
    # OpenAI (platform.openai.com/docs/pricing)
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    # Alibaba Cloud Model Studio, international (Qwen2.5-VL, the paper's open generators)
    "qwen-vl-max": Price(0.80, 3.20),
    "qwen-vl-plus": Price(0.21, 0.63),
    "qwen2.5-vl-72b-instruct": Price(2.80, 8.40),
    "qwen2.5-vl-7b-instruct": Price(0.35, 1.05),
    "qwen2.5-vl-3b-instruct": Price(0.21, 0.63),
}

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The built-in table, with the entries of a YAML/JSON file (if given) merged over it.

    Raises:
        ValueError: The file cannot be read or an entry lacks ``input``/``output`` numbers.
    """
    table = dict(PRICES)
    if path is None:
        return table
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (OSError, ValueError) as err:  # yaml.YAMLError and JSONDecodeError are ValueErrors
        raise ValueError(f"cannot read price table {p}: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"price table {p} must map model names to {{input, output}}")
    for model, entry in data.items():
        try:
            table[str(model)] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError) as err:
            raise ValueError(
                f"price table {p}: entry {model!r} needs numeric 'input' and 'output' "
                f"(USD per 1M tokens), got {entry!r}"
            ) from err
    return table


def is_local(base_url: str | None) -> bool:
    """True for an endpoint on this machine (a local server costs nothing per token)."""
    if not base_url:
        return False
    host = urlparse(base_url).hostname or ""
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def estimate_cost(
    model: str | None,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    base_url: str | None = None,
    prices: dict[str, Price] | None = None,
) -> float | None:
    """Cost in USD of the given token counts, or None when the model has no known price.

    No model, no tokens, or a local endpoint → 0.0. Model names are matched exactly, then
    without a ``provider/`` prefix.
    """
    if model is None or (prompt_tokens == 0 and completion_tokens == 0) or is_local(base_url):
        return 0.0
    table = PRICES if prices is None else prices
    price = table.get(model) or table.get(model.rsplit("/", 1)[-1])
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6
