"""``holobench run --dry-run``: what a run would send and cost, counted without sending anything."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from holobench.backends.client import Price, PriceTable
from holobench.jsonl import read_instances
from holobench.prompts import AUTO
from holobench.runner import RunConfig, in_shard, request_for
from holobench.tokenizers import get_tokenizer

#: The shortest prefix a provider's prompt cache serves (OpenAI and Anthropic: 1,024 tokens).
MIN_CACHED_PREFIX = 1024


def dry_run(instances: Path, config: RunConfig) -> dict[str, Any]:
    """Token counts and a cost estimate without sending anything: direct and through a batch
    API, and how many prompt tokens repeat a prefix an earlier prompt sent (everything before
    the question: the instructions and the context), which a prompt cache could serve."""
    prices = PriceTable.load(config.prices)
    if config.prompt == AUTO:  # the model's kind is known only once it is loaded: count the cot prompt
        config = config.model_copy(update={"prompt": "cot"})
    model = config.options.model or config.backend
    price = prices.lookup(model)
    n = prompt_tokens = longest = repeated = 0
    seen: set[bytes] = set()
    for instance in read_instances(instances):
        if not in_shard(instance.id, config.shard):
            continue
        tokenizer = get_tokenizer(config.tokenizer or instance.config.tokenizer)
        content = request_for(instance, config).messages[0].content
        count = tokenizer.count(content)
        n += 1
        prompt_tokens += count
        longest = max(longest, count)
        cut = content.rfind(instance.question) if instance.question else -1
        if cut > 0:
            digest = hashlib.sha256(content[:cut].encode("utf-8")).digest()
            if digest in seen:  # counted only when it repeats: tokenizing every prefix would double the work
                prefix = tokenizer.count(content[:cut])
                repeated += prefix if prefix >= MIN_CACHED_PREFIX else 0
            seen.add(digest)
    max_output = n * config.sampling.max_tokens
    return {
        "prompt": config.prompt_name,
        "instances": n,
        "prompt_tokens": prompt_tokens,
        "mean_prompt_tokens": round(prompt_tokens / n, 1) if n else 0,
        "max_prompt_tokens": longest,
        "max_output_tokens": max_output,
        "repeated_prefix_tokens": repeated,
        "model": model,
        "price_known": price is not None,
        **_costs(price, prompt_tokens, max_output, repeated),
    }


def _costs(price: Price | None, prompt_tokens: int, max_output: int, repeated: int) -> dict[str, Any]:
    """Input and worst-case output cost, direct and at the batch discount; the input again with
    the repeated prefixes read from a prompt cache at its rate."""
    if price is None:
        keys = ("input", "max_output", "batch_input", "batch_max_output", "cached_input")
        return {"cached_input_per_million": None, **{f"{k}_cost_usd": None for k in keys}}
    return {
        "cached_input_per_million": price.cached_rate,
        "input_cost_usd": round(price.cost(prompt_tokens, 0), 4),
        "max_output_cost_usd": round(price.cost(0, max_output), 4),
        "batch_input_cost_usd": round(price.cost(prompt_tokens, 0, batch=True), 4),
        "batch_max_output_cost_usd": round(price.cost(0, max_output, batch=True), 4),
        "cached_input_cost_usd": round(price.cost(prompt_tokens, 0, cached=repeated), 4),
    }
