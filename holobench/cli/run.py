"""Answering: ``run`` sends a backend every instance into a resumable journal; ``merge`` joins
the shards of one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from holobench._io import check_output_dir
from holobench.backends import SamplingParams
from holobench.cli.common import (
    RESPONSE_CACHE,
    BackendFlags,
    BackendOpt,
    CacheDirOpt,
    ConcurrencyOpt,
    KeyEnvOpt,
    MaxRetriesOpt,
    ModelOpt,
    OptionOpt,
    err,
    in_range,
    out,
    progress_bar,
)
from holobench.errors import HoloBenchError

if TYPE_CHECKING:
    from holobench.runner import RunConfig, Runner

InstancesOpt = Annotated[Path, typer.Option(help="instances.jsonl from holobench generate")]
RunOutOpt = Annotated[Path, typer.Option("--out", "-o", help="run folder, e.g. results/<run>")]
PromptOpt = Annotated[
    str, typer.Option(help="cot | direct | structured | fewshot (base models) | auto (fewshot for a base model)")
]
FewshotSeedOpt = Annotated[int, typer.Option(help="fewshot: which generated demonstrations to show")]
ContextWindowOpt = Annotated[int | None, typer.Option(help="model context window in tokens")]
MaxTokensOpt = Annotated[int, typer.Option(help="new tokens per answer")]
SeedOpt = Annotated[int | None, typer.Option(help="sampling seed sent to the backend")]
MaxRetryAfterOpt = Annotated[
    float, typer.Option(help="longest Retry-After (s) to wait for; a longer one fails the request")
]
TimeoutOpt = Annotated[float, typer.Option(help="seconds per attempt")]
MaxRateOpt = Annotated[float | None, typer.Option(help="requests a second, at most (on Ray: every worker together)")]
SupersedeOpt = Annotated[
    bool,
    typer.Option(help="if --out holds a run with other settings, move it into <out>/superseded/<n>/ and start afresh"),
]
ShardOpt = Annotated[str | None, typer.Option(help="i/N: run one of N shards")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="neither read nor write the cache")]
PricesOpt = Annotated[Path | None, typer.Option(help="YAML price table (USD per million tokens)")]
TokenizerOpt = Annotated[str | None, typer.Option(help="count prompt tokens with this (default: the instances')")]
ClosedBookOpt = Annotated[
    bool,
    typer.Option(
        "--closed-book",
        help="withhold the context: the same questions answered from memory (prompt '<name>+closed'); "
        "the gap to an open-book run is what needed the context",
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="count tokens and estimate cost; send nothing")]
BaseUrlsOpt = Annotated[
    list[str] | None,
    typer.Option("--base-url", help="OpenAI-compatible endpoint; repeat it for a fleet of servers of one model"),
]
ExecutorOpt = Annotated[str, typer.Option(help="local (this process) or ray (workers on a Ray cluster)")]
RayAddressOpt = Annotated[
    str | None, typer.Option(help="--executor ray: the cluster (default: RAY_ADDRESS, else a local one)")
]
RayWorkersOpt = Annotated[
    int | None,
    typer.Option(help="--executor ray: workers (default: one per node; vllm: every replica the GPUs hold)"),
]


def run(
    instances: InstancesOpt,
    backend: BackendOpt,
    output: RunOutOpt,
    model: ModelOpt = None,
    base_url: BaseUrlsOpt = None,
    api_key_env: KeyEnvOpt = None,
    prompt: PromptOpt = "cot",
    fewshot_seed: FewshotSeedOpt = 0,
    closed_book: ClosedBookOpt = False,
    option: OptionOpt = None,
    context_window: ContextWindowOpt = None,
    temperature: Annotated[float, typer.Option()] = 0.0,
    top_p: Annotated[float, typer.Option()] = 1.0,
    max_tokens: MaxTokensOpt = 1024,
    seed: SeedOpt = 0,
    concurrency: ConcurrencyOpt = 8,
    max_rate: MaxRateOpt = None,
    max_retries: MaxRetriesOpt = 4,
    max_retry_after: MaxRetryAfterOpt = 300.0,
    timeout: TimeoutOpt = 600.0,
    shard: ShardOpt = None,
    cache_dir: CacheDirOpt = RESPONSE_CACHE,
    no_cache: NoCacheOpt = False,
    prices: PricesOpt = None,
    tokenizer: TokenizerOpt = None,
    dry_run: DryRunOpt = False,
    supersede: SupersedeOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_workers: RayWorkersOpt = None,
) -> None:
    """Run a backend over instances into a resumable predictions journal."""
    first, more = (base_url[0], base_url[1:]) if base_url else (None, [])  # more than one: a fleet
    flags = BackendFlags(backend, model, first, api_key_env, option, concurrency, max_retries, cache_dir)
    _check_options(flags, temperature, top_p, max_tokens, max_retry_after, timeout, context_window)
    _check_run_on(more, executor, ray_workers, max_rate)
    if not dry_run:
        check_output_dir(output, "run")
    from holobench.runner import RunConfig, parse_shard

    config = RunConfig(
        backend=backend,
        options=flags.backend_options(context_window).model_copy(update={"more_base_urls": tuple(more)}),
        prompt=prompt,
        fewshot_seed=fewshot_seed,
        closed_book=closed_book,
        sampling=SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed),
        concurrency=concurrency,
        max_rate=max_rate,
        max_retries=max_retries,
        max_retry_after=max_retry_after,
        timeout_s=timeout,
        shard=parse_shard(shard) if shard else None,
        cache_dir=None if no_cache else cache_dir,
        prices=prices,
        tokenizer=tokenizer,
    )
    if dry_run:
        _print_estimate(instances, config)
        return
    _run_journal(instances, output, config, supersede, RunOn(executor, ray_address, ray_workers))


def _check_options(
    flags: BackendFlags,
    temperature: float,
    top_p: float,
    max_tokens: int,
    max_retry_after: float,
    timeout: float,
    context_window: int | None,
) -> None:
    """Every numeric option, before any work, in the order ``--help`` lists them."""
    in_range("--temperature", temperature, 0)
    in_range("--top-p", top_p, 0, 1, above=True)
    in_range("--max-tokens", max_tokens, 1)
    flags.check_limits()
    in_range("--max-retry-after", max_retry_after, 0, above=True)
    in_range("--timeout", timeout, 0, above=True)
    in_range("--context-window", context_window, 1)
    flags.check_url("--base-url")


def _check_run_on(more_urls: list[str], executor: str, ray_workers: int | None, max_rate: float | None) -> None:
    """Every further --base-url, the rate, then where the run goes, before any work."""
    from holobench._urls import check_base_url
    from holobench.executors import EXECUTORS

    for url in more_urls:
        check_base_url(url, "--base-url")
    in_range("--max-rate", max_rate, 0, above=True)
    if executor not in EXECUTORS:
        raise HoloBenchError(f"--executor {executor!r}: use one of {', '.join(EXECUTORS)}")
    if ray_workers is not None and executor != "ray":
        raise HoloBenchError("--ray-workers needs --executor ray")
    in_range("--ray-workers", ray_workers, 1)


@dataclass(frozen=True)
class RunOn:
    """Where a run's requests are sent from: this process, or workers on a Ray cluster."""

    executor: str = "local"
    address: str | None = None
    workers: int | None = None

    def runner(self, instances: Path, output: Path, config: RunConfig, supersede: bool) -> Runner:
        if self.executor == "local":
            from holobench.runner import Runner

            return Runner(instances, output, config, supersede=supersede)
        from holobench.ray_run import RayRunner

        return RayRunner(instances, output, config, address=self.address, workers=self.workers, supersede=supersede)


def _print_estimate(instances: Path, config: RunConfig) -> None:
    """--dry-run: token counts and the cost estimate, one ``key: value`` line each."""
    from holobench.estimate import dry_run as estimate

    for key, value in estimate(instances, config).items():
        out.print(f"{key}: {value}", markup=False)


def _run_journal(
    instances: Path, output: Path, config: RunConfig, supersede: bool = False, run_on: RunOn = RunOn()
) -> None:
    """The run itself, under a bar of answers, request rate, tokens and cost (it appears with
    the first answer, so an error found before any work stays the only line on stderr)."""
    import asyncio
    import time

    from holobench.backends.client import Client

    runner = run_on.runner(instances, output, config, supersede)
    api = runner.backend.batch_api()
    if api is not None:  # hours may pass before the first answer: say what is happening
        err.print(
            f"{config.backend}: requests go out as batches (ids in {output / 'batches.jsonl'}), polled every "
            f"{api.poll_interval:g} s; answers appear when the provider finishes a batch (within its completion "
            "window); after an interruption, rerun this command to keep polling",
            markup=False,
        )
    started = time.perf_counter()
    with progress_bar("{task.fields[rate]} | {task.fields[tokens]} tok | ${task.fields[cost]}") as bar:
        task = bar.add_task(f"{config.backend} {runner.backend.model}", total=None, rate="", tokens=0, cost="0")

        def progress(done: int, total: int, client: object) -> None:
            assert isinstance(client, Client)
            t = client.totals
            rate = t.requests / max(time.perf_counter() - started, 1e-9)
            bar.update(
                task,
                completed=done,
                total=total,
                rate=f"{rate:.1f}/s",
                tokens=f"{t.prompt_tokens + t.completion_tokens:,}"
                + (f" ({t.cached_prompt_tokens:,} cached)" if t.cached_prompt_tokens else ""),
                cost=f"{t.cost_usd:.4f}" if client.price else "?",
            )

        summary = asyncio.run(runner.run(progress))
    if runner.superseded is not None:
        err.print(f"note: the earlier run with other settings is now in {runner.superseded}", markup=False)
    _print_outcome(output, summary)


def _print_outcome(output: Path, summary: dict[str, Any]) -> None:
    """What this run answered, skipped and failed; exit 1 naming the first failure, so a script
    sees a partly failed run (resuming retries only the failures)."""
    counts = summary["this_run"]
    out.print(
        f"{output / 'predictions.jsonl'}: {counts['ok']} answered, {counts['skipped']} skipped, "
        f"{counts['error']} failed this run ({summary['total']} instances in the shard); "
        f"tokens {summary['client']['prompt_tokens']:,} in ({summary['client']['cached_prompt_tokens']:,} from the "
        f"prompt cache) / {summary['client']['completion_tokens']:,} out",
        markup=False,
    )
    for batch in summary.get("batches", []):  # a provider batch that left requests unanswered
        if batch["not_run"] or batch["failed"]:
            err.print(
                f"batch {batch['batch']} {batch['status']}: {batch['answered']} of {batch['requests']} answered, "
                f"{batch['failed']} failed, {batch['not_run']} not run; rerun to retry them",
                markup=False,
            )
    if counts["error"]:
        from holobench.journal import Journal

        failed = [p for p in Journal(output / "predictions.jsonl").load(repair=False).values() if p.status == "error"]
        if failed:
            err.print(f"first failure ({failed[0].id}): {failed[0].error}", markup=False)
        raise typer.Exit(1)


def merge(
    runs: Annotated[list[Path], typer.Argument(help="run folders (shards of one run)")],
    output: Annotated[Path, typer.Option("--out", "-o", help="merged run folder")],
) -> None:
    """Join the shard folders of one run into one journal."""
    from holobench.merge import merge_runs

    check_output_dir(output, "run")
    report = merge_runs(runs, output)
    out.print(f"merged {report['runs']} runs: {report['predictions']} predictions in {output}", markup=False)
