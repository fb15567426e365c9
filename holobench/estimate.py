"""``holobench run --dry-run``: what a run would send and cost, counted without sending anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from holobench.backends.client import PriceTable
from holobench.jsonl import read_instances
from holobench.prompts import AUTO
from holobench.runner import RunConfig, in_shard, request_for
from holobench.tokenizers import get_tokenizer


def dry_run(instances: Path, config: RunConfig) -> dict[str, Any]:
    """Token counts and a cost estimate without sending anything."""
    prices = PriceTable.load(config.prices)
    if config.prompt == AUTO:  # the model's kind is known only once it is loaded: count the cot prompt
        config = config.model_copy(update={"prompt": "cot"})
    model = config.options.model or config.backend
    price = prices.lookup(model)
    n = prompt_tokens = longest = 0
    for instance in read_instances(instances):
        if not in_shard(instance.id, config.shard):
            continue
        tokenizer = get_tokenizer(config.tokenizer or instance.config.tokenizer)
        count = tokenizer.count(request_for(instance, config).messages[0].content)
        n += 1
        prompt_tokens += count
        longest = max(longest, count)
    max_output = n * config.sampling.max_tokens
    return {
        "prompt": config.prompt_name,
        "instances": n,
        "prompt_tokens": prompt_tokens,
        "mean_prompt_tokens": round(prompt_tokens / n, 1) if n else 0,
        "max_prompt_tokens": longest,
        "max_output_tokens": max_output,
        "model": model,
        "price_known": price is not None,
        "input_cost_usd": round(price.cost(prompt_tokens, 0), 4) if price else None,
        "max_output_cost_usd": round(price.cost(0, max_output), 4) if price else None,
    }
