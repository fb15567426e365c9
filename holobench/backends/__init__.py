"""Model backends behind one client that owns retries, concurrency, caching and accounting."""

from holobench.backends.base import (
    Backend,
    BackendError,
    BatchAPI,
    BatchLimits,
    BatchState,
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
    "BatchAPI",
    "BatchLimits",
    "BatchState",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "ContextLengthError",
    "SamplingParams",
    "Usage",
    "create_backend",
]
