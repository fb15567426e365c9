"""A run through a provider's batch API: split, submit, journal the ids, poll, collect.

* **Split**: requests go into batches of at most ``max_requests`` entries and ``max_bytes`` of
  input (the provider's limits, lowered by options); one request over the byte limit fails alone.
* **Journal**: ``<out>/batches.jsonl`` gets a :class:`BatchRecord` the moment a batch is created,
  before anything waits on it, and another when its results are in the predictions journal.  A
  rerun after a crash polls the batches still ``submitted`` and submits only instances in none of
  them, so a pending batch is never paid for twice.
* **Outcomes**: an answer or a per-request error is recorded like any other; a request the
  batch never ran (expired, cancelled, failed validation) is recorded as a retryable failure
  naming the batch, so the run exits 1 and a rerun submits it again; it is never scored.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from holobench._io import naming
from holobench.backends.base import BackendError, BatchAPI, BatchState, ChatRequest, Completion, entry_size
from holobench.backends.client import Client, Outcome
from holobench.errors import HoloBenchError
from holobench.records import BatchRecord

BATCHES_FILE = "batches.jsonl"
T = TypeVar("T")
RecordFn = Callable[[str, Outcome], None]


class BatchJournal:
    """Append-only JSONL of batch records; the newest record of a batch id wins."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, BatchRecord]:
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # torn by a crash mid-write: the batch is resubmitted
            data = data[: data.rfind(b"\n") + 1]
            with self.path.open("r+b") as fh:
                fh.truncate(len(data))
        records: dict[str, BatchRecord] = {}
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                record = BatchRecord.model_validate_json(line)
            except ValueError as exc:
                raise HoloBenchError(
                    f"{self.path}:{number}: not a batch record; move the file aside (its batches are then resubmitted)"
                ) from exc
            records[record.batch_id] = record
        return records

    def write(self, record: BatchRecord) -> None:
        with naming(self.path), self.path.open("a", encoding="utf-8") as fh:
            fh.write(record.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class BatchDriver:
    """Runs requests through one :class:`BatchAPI`; results reach the run through ``record``."""

    def __init__(self, api: BatchAPI, client: Client, path: Path, max_retries: int = 4) -> None:
        self.api = api
        self.client = client
        self.journal = BatchJournal(path)
        self.max_retries = max_retries
        self.pending = [b for b in self.journal.load().values() if b.status == "submitted"]
        self.keys: dict[str, str] = {}  # instance id -> cache key, for the requests sent this run
        self.report: list[dict[str, Any]] = []

    def in_flight(self) -> set[str]:
        """Instances in a batch still pending from an earlier run: not to be submitted again."""
        return {iid for batch in self.pending for iid in batch.ids}

    async def run(self, requests: Iterable[ChatRequest], record: RecordFn, done: set[str]) -> list[dict[str, Any]]:
        """Submit ``requests`` (cache hits are recorded at once), then poll every pending batch
        until it ends and record its outcomes; returns one line of facts per batch collected."""
        await self._submit_all(requests, record)
        await self._collect_all(record, done)
        return self.report

    # ------------------------------------------------------------------ submitting
    async def _submit_all(self, requests: Iterable[ChatRequest], record: RecordFn) -> None:
        limits = self.api.limits
        entries: list[bytes] = []
        ids: list[str] = []
        size = 0
        for request in requests:
            hit = self.client.lookup(request)
            if hit is not None:
                record(request.instance_id, hit)
                continue
            entry = self.api.entry(f"r{len(entries)}", request)
            if entries and (len(entries) >= limits.max_requests or size + entry_size(entry) > limits.max_bytes):
                await self._submit(entries, ids, record)
                entries, ids, size = [], [], 0
                entry = self.api.entry("r0", request)
            if entry_size(entry) > limits.max_bytes:
                error = BackendError(
                    f"request is {entry_size(entry):,} bytes, over the batch limit of {limits.max_bytes:,}",
                    kind="batch_limit",
                )
                record(request.instance_id, self.client.settle(None, error, 0.0))
                continue
            entries.append(entry)
            ids.append(request.instance_id)
            size += entry_size(entry)
            if self.client.cache is not None:
                self.keys[request.instance_id] = self.client.key(request)
        if entries:
            await self._submit(entries, ids, record)

    async def _submit(self, entries: list[bytes], ids: list[str], record: RecordFn) -> None:
        """Create one batch and journal it; a provider that refuses it fails its requests (retried
        on rerun) rather than the run."""
        started = time.time()
        try:
            batch_id = await self._call(lambda: self.api.submit(entries))
        except BackendError as exc:
            for iid in ids:
                record(iid, self.client.settle(None, exc, 0.0))
            return
        batch = BatchRecord(
            batch_id=batch_id, provider=self.api.provider, ids=ids, status="submitted", submitted_at=started
        )
        self.journal.write(batch)
        self.pending.append(batch)

    # ------------------------------------------------------------------ polling and collecting
    async def _collect_all(self, record: RecordFn, done: set[str]) -> None:
        waiting = list(self.pending)
        while waiting:
            still: list[BatchRecord] = []
            for batch in waiting:
                state = await self._poll(batch)
                if state.phase == "pending":
                    still.append(batch)
                else:
                    await self._collect(batch, state, record, done)
            waiting = still
            if waiting:
                await asyncio.sleep(self.api.poll_interval)

    async def _poll(self, batch: BatchRecord) -> BatchState:
        return await self._call(lambda: self.api.poll(batch.batch_id), batch)

    async def _collect(self, batch: BatchRecord, state: BatchState, record: RecordFn, done: set[str]) -> None:
        results = await self._call(lambda: self.api.results(batch.batch_id), batch)
        latency = max(time.time() - batch.submitted_at, 0.0) if batch.submitted_at else 0.0
        why = f"batch {batch.batch_id} {state.status}" + (f" ({state.detail})" if state.detail else "")
        counts = {"answered": 0, "failed": 0, "not_run": 0}
        for i, iid in enumerate(batch.ids):
            if iid in done:  # recorded before a crash that came before the batch's own record
                continue
            result: Completion | BackendError | None = results.get(f"r{i}")
            if result is None:
                counts["not_run"] += 1
                result = BackendError(f"{why}: the request was not run; rerun to submit it again", kind="not_run")
            else:
                counts["answered" if isinstance(result, Completion) else "failed"] += 1
            record(iid, self.client.settle(self.keys.get(iid), result, latency, batch=True))
        self.journal.write(batch.model_copy(update={"status": "collected", "outcome": state.status}))
        self.report.append({"batch": batch.batch_id, "status": state.status, "requests": len(batch.ids), **counts})

    async def _call(self, call: Callable[[], Awaitable[T]], batch: BatchRecord | None = None) -> T:
        """One provider call, tried again after ``poll_interval`` while it fails retryably."""
        for attempt in range(self.max_retries + 1):
            try:
                return await call()
            except BackendError as exc:
                if not exc.retryable or attempt == self.max_retries:
                    if batch is None:
                        raise
                    raise HoloBenchError(
                        f"{self.journal.path}: batch {batch.batch_id}: {exc}; rerun to poll it again "
                        "(or delete its line to submit its requests anew)"
                    ) from exc
                await asyncio.sleep(self.api.poll_interval)
        raise AssertionError("unreachable")
