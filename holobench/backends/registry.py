"""Backends by name.  Each lives in its own module with a ``create(options)`` factory; modules
and their optional dependencies are imported only when the backend is asked for."""

from __future__ import annotations

import importlib
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from holobench._urls import check_base_url
from holobench.backends.base import Backend
from holobench.errors import HoloBenchError


class BackendOptions(BaseModel):
    """Settings common to backends, plus free-form ``options`` (``--option key=value``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    base_url: str | None = None
    #: more endpoints serving the same model (``--base-url`` given again): one fleet backend
    more_base_urls: tuple[str, ...] = ()
    api_key_env: str = "OPENAI_API_KEY"
    context_window: int | None = Field(default=None, gt=0)
    options: dict[str, str] = Field(default_factory=dict)

    def option(self, key: str, default: Any = None, cast: type = str) -> Any:
        if key not in self.options:
            return default
        raw = self.options[key]
        if cast is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        try:
            return cast(raw)
        except ValueError as exc:
            raise HoloBenchError(f"option {key}={raw!r} is not a valid {cast.__name__}") from exc


# name -> (module, the extra that installs its dependencies, the import that proves they are there)
BACKENDS: dict[str, tuple[str, str | None, str | None]] = {
    "openai": ("holobench.backends.openai", None, "openai"),
    "openai-batch": ("holobench.backends.openai_batch", None, "openai"),
    "anthropic-batch": ("holobench.backends.anthropic_batch", "anthropic", "anthropic"),
    "vllm": ("holobench.backends.vllm", "vllm", "vllm"),
    "llamacpp": ("holobench.backends.llamacpp", "llamacpp", "llama_cpp"),
    "rag": ("holobench.backends.rag", "rag", "bm25s"),
    "no-answer": ("holobench.backends.baselines", None, None),
}


def create_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """The backend called ``name``; a missing optional dependency names the extra to install.
    Several endpoints make a fleet of one backend each (:mod:`holobench.backends.fleet`)."""
    options = options or BackendOptions()
    if options.more_base_urls:
        from holobench.backends.fleet import fleet_of

        urls = (options.base_url, *options.more_base_urls)
        members = [options.model_copy(update={"base_url": url, "more_base_urls": ()}) for url in urls]
        return fleet_of([create_backend(name, member) for member in members])
    if options.base_url is not None:
        check_base_url(options.base_url)
    if name not in BACKENDS:
        raise HoloBenchError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    module_name, extra, probe = BACKENDS[name]
    if probe is not None:
        try:
            importlib.import_module(probe)
        except ImportError as exc:
            hint = f"pip install 'holobench[{extra}]'" if extra else f"pip install {probe}"
            raise HoloBenchError(f"backend {name!r} needs {probe!r}, which is not installed: {hint}") from exc
    module = importlib.import_module(module_name)
    # A module's OPTIONS names the --option keys it reads, so a misspelt one is an error rather
    # than a silently ignored setting; a module that forwards options (rag) checks its own.
    known: frozenset[str] | None = getattr(module, "OPTIONS", None)
    unknown = sorted(set(options.options) - known) if known is not None else []
    if unknown:
        listed = ", ".join(sorted(known or ())) or "none"
        raise HoloBenchError(f"backend {name!r} has no option {unknown[0]!r}; its options: {listed}")
    backend: Backend = module.create(options)
    return backend


def key_env(name: str | None) -> str:
    """The variable to read the API key from; one named by the user must be set (an unset one
    would silently send no key and fail every request later)."""
    if name is None:
        return "OPENAI_API_KEY"  # optional: local servers need no key
    if not os.environ.get(name):
        raise HoloBenchError(
            f"--api-key-env {name}: the variable is not set or empty; export it, or leave the option "
            "out for a server that needs no key"
        )
    return name


def parse_options(items: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HoloBenchError(f"--option {item!r}: expected key=value")
        options[key.strip()] = value.strip()
    return options
