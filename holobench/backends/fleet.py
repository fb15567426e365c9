"""Several endpoints serving one model, as one backend: ``--base-url`` given more than once (a
fleet of vLLM servers).  Each request goes to the endpoint with the fewest requests in flight
from this process, ties taken in turn, so a slow server gets fewer and a fast one more.

The fleet is what the run records: the backend's name and model, and every endpoint in its
settings (so the cache and a resumed run's manifest name the whole fleet, not one server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from holobench.backends.base import Backend, ChatRequest, Completion
from holobench.errors import HoloBenchError


class Fleet(Backend):
    """Members built from the same options but their endpoint; made by :func:`fleet_of`."""

    def __init__(self, members: Sequence[Backend]) -> None:
        self.members = list(members)
        self._model = members[0].model
        self.chat_template = members[0].chat_template
        self.context_window = members[0].context_window
        self.in_flight = [0] * len(members)
        self._turn = 0

    def library_versions(self) -> tuple[str, ...]:
        return self.members[0].library_versions()

    def settings(self) -> dict[str, Any]:
        """The first member's settings, with ``base_url`` the list of every endpoint (redacted)."""
        urls = [member.settings()["base_url"] for member in self.members]
        return {**self.members[0].settings(), "base_url": urls}

    async def prepare(self) -> None:
        """Every member asks its server; the fleet's window is the smallest one any reports."""
        await asyncio.gather(*(member.prepare() for member in self.members))
        windows = [m.context_window for m in self.members if m.context_window is not None]
        self.context_window = min(windows) if windows else None
        self.chat_template = self.members[0].chat_template

    def _pick(self) -> int:
        """The least-loaded member, starting the search after the last one chosen."""
        n = len(self.members)
        order = [(self._turn + k) % n for k in range(n)]
        chosen = min(order, key=lambda i: self.in_flight[i])
        self._turn = (chosen + 1) % n
        return chosen

    async def generate(self, request: ChatRequest) -> Completion:
        index = self._pick()
        self.in_flight[index] += 1
        try:
            return await self.members[index].generate(request)
        finally:
            self.in_flight[index] -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(member.aclose() for member in self.members))


def fleet_of(members: Sequence[Backend]) -> Backend:
    """One backend over ``members`` (one member: itself).  The fleet takes the members' class-level
    facts (name, raw completions, batching), so records say ``openai``, not ``fleet``."""
    if len(members) == 1:
        return members[0]
    first = type(members[0])
    if first.prefers_batches or first.reduces_context or "base_url" not in members[0].settings():
        raise HoloBenchError(f"backend {first.name!r} takes one --base-url; several are for HTTP endpoints (openai)")
    facts = {"name": first.name, "completions": first.completions, "libraries": first.libraries}
    kind = type(f"{first.__name__}Fleet", (Fleet,), facts)
    fleet: Backend = kind(members)
    return fleet
