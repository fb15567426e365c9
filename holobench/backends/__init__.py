"""Model backends behind one client that owns retries, concurrency, caching and accounting."""

from holobench.backends.base import (
    Backend,
    BackendError,
    ChatMessage,
    ChatRequest,
    Completion,
    ContextLengthError,
    SamplingParams,
)
from holobench.backends.registry import BACKENDS, BackendOptions, create_backend
from holobench.records import Usage

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendOptions",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "ContextLengthError",
    "SamplingParams",
    "Usage",
    "create_backend",
]
