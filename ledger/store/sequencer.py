"""The write sequencer: one thread appends everything that queued while a batch was in flight.

Every writer of a process hands its ``AppendRequest`` to ``Sequencer.submit`` and waits on
the future it gets back. One thread takes all that is queued (up to a cap in requests
and in bytes) as one ``Store.append_batch``: one lock, one commit for many callers, so
PostgreSQL's commit is shared instead of paid by each. There is no timer: a lone
writer's request is taken at once, and a batch grows only while the previous one is
being written (ADR 0017).

A future is resolved only after its batch committed (or failed): an answer given from
it is durable. The queue is bounded: beyond it ``submit`` raises ``SequencerBusyError``
at once, before anything is stored.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ledger.errors import StoreError
from ledger.store.journal import Store
from ledger.store.requests import AppendRequest, AppendResult, BatchOutcome, Draft

log = logging.getLogger("shanlian.sequencer")


class SequencerBusyError(StoreError):
    """The write queue is full: try again after ``retry_after_s`` seconds; nothing was stored."""

    def __init__(self, depth: int, retry_after_s: int) -> None:
        super().__init__(
            f"{depth} writes are already waiting; nothing was stored, "
            f"try again in {retry_after_s} s"
        )
        self.depth = depth
        self.retry_after_s = retry_after_s


class SequencerClosedError(StoreError):
    """The sequencer is shutting down and takes no more writes; nothing was stored."""

    def __init__(self) -> None:
        super().__init__("the service is shutting down and takes no more writes")
        self.retry_after_s = 1


@dataclass(frozen=True)
class BatchReport:
    """One batch, as the sequencer saw it (for metrics and the batch's log line).

    Attributes:
        requests: requests in the batch.
        bytes: their estimated size.
        accepted: requests appended (new entries).
        replayed: requests answered with an earlier result (idempotency keys).
        refused: requests refused with an error (each alone).
        entries: entries appended.
        first_seq: seq of the first entry appended, if any.
        queue_depth: requests still waiting when the batch was taken.
        waited_s: how long the batch's oldest request waited in the queue.
        outcome: what the store did, with its timings.
    """

    requests: int
    bytes: int
    accepted: int
    replayed: int
    refused: int
    entries: int
    first_seq: int | None
    queue_depth: int
    waited_s: float
    outcome: BatchOutcome

    def log_line(self) -> str:
        """The batch as one ``key=value`` line."""
        o = self.outcome
        fields = {
            "requests": self.requests,
            "bytes": self.bytes,
            "accepted": self.accepted,
            "replayed": self.replayed,
            "refused": self.refused,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "queue": self.queue_depth,
            "waited_ms": round(self.waited_s * 1000, 2),
            "lock_ms": round(o.lock_s * 1000, 2),
            "build_ms": round(o.build_s * 1000, 2),
            "write_ms": round(o.write_s * 1000, 2),
            "commit_ms": round(o.commit_s * 1000, 2),
            "fell_back": o.fell_back,
        }
        return "batch " + " ".join(f"{key}={value}" for key, value in fields.items())


def request_bytes(request: AppendRequest) -> int:
    """A request's size for the batch's byte cap: its drafts' bodies as JSON."""
    return sum(
        len(json.dumps(r.body, default=str, ensure_ascii=False)) if isinstance(r, Draft) else 64
        for r in request.requests
    )


@dataclass
class _Waiting:
    request: AppendRequest
    future: Future[AppendResult]
    bytes: int
    queued_at: float


class Sequencer:
    """Batches the appends of a process's writers (see the module's docstring).

    Args:
        store: the journal.
        max_queue: requests that may wait; one more is refused (``SequencerBusyError``).
        max_batch: most requests in one batch.
        max_batch_bytes: most (estimated) bytes in one batch; a larger request goes alone.
        on_batch: called from the sequencer's thread after each batch (metrics, logs).
    """

    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 1000,
        max_batch: int = 500,
        max_batch_bytes: int = 4 * 1024 * 1024,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        if max_queue < 1 or max_batch < 1 or max_batch_bytes < 1:
            raise ValueError("max_queue, max_batch and max_batch_bytes must be at least 1")
        self.store = store
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.on_batch = on_batch
        self._queue: deque[_Waiting] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._paused = False
        self._in_flight = 0
        self._seconds_per_request = 0.001  # a moving average, for Retry-After

    # -- callers ---------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Requests waiting (not counting the batch being written)."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Requests in the batch being written."""
        return self._in_flight

    def submit(self, request: AppendRequest) -> Future[AppendResult]:
        """Queue ``request``; the future resolves once its batch committed (or failed).

        Raises:
            EntryError: the request is malformed (validated here, in the caller's
                thread, before it joins a batch); nothing is stored.
            SequencerBusyError: ``max_queue`` requests already wait; nothing is stored.
            SequencerClosedError: ``close`` was called.
        """
        request = self.store.check(request)
        waiting = _Waiting(request, Future(), request_bytes(request), time.monotonic())
        with self._changed:
            if self._closing:
                raise SequencerClosedError()
            depth = len(self._queue)
            if depth >= self.max_queue:
                raise SequencerBusyError(depth, self.retry_after_s(depth))
            self._queue.append(waiting)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="shanlian-sequencer", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()
        return waiting.future

    def append(self, request: AppendRequest) -> AppendResult:
        """Submit ``request`` and wait for its result (raising the error that refused it)."""
        return self.submit(request).result()

    def retry_after_s(self, depth: int) -> int:
        """Whole seconds until ``depth`` queued requests are likely written (at least 1)."""
        return max(1, math.ceil(depth * self._seconds_per_request))

    # -- control -----------------------------------------------------------------------------

    def pause(self) -> None:
        """Take no new batch until ``resume`` (the batch in flight finishes); requests queue.

        For maintenance and for tests that need several requests in one batch.
        """
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def wait_until_queued(self, depth: int, timeout_s: float = 30.0) -> None:
        """Block until at least ``depth`` requests wait in the queue.

        Raises:
            TimeoutError: they did not arrive within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self._queue) < depth:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._queue)} requests queued, not {depth}")
                self._changed.wait(remaining)

    def close(self, timeout_s: float | None = 60.0) -> None:
        """Take no more requests, append those already queued, and stop the thread."""
        with self._changed:
            self._closing = True
            self._paused = False
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    # -- the sequencer's thread ----------------------------------------------------------------

    def _take(self) -> list[_Waiting] | None:
        """The next batch: everything queued, up to the caps; None once closed and empty."""
        with self._changed:
            while not self._queue or (self._paused and not self._closing):
                if self._closing and not self._queue:
                    return None
                self._changed.wait()
            batch = [self._queue.popleft()]
            size = batch[0].bytes
            while (
                self._queue
                and len(batch) < self.max_batch
                and size + self._queue[0].bytes <= self.max_batch_bytes
            ):
                waiting = self._queue.popleft()
                batch.append(waiting)
                size += waiting.bytes
            self._in_flight = len(batch)
            self._changed.notify_all()
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._append(batch)
            except BaseException as error:  # never leave a caller waiting forever
                log.exception("batch failed")
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
            finally:
                with self._changed:
                    self._in_flight = 0

    def _append(self, batch: list[_Waiting]) -> None:
        depth = len(self._queue)
        started = time.monotonic()
        outcome = self.store.append_batch([w.request for w in batch])
        elapsed = time.monotonic() - started
        self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * elapsed / len(batch)
        accepted = replayed = refused = 0
        first_seq: int | None = None
        for waiting, result in zip(batch, outcome.results, strict=True):
            if isinstance(result, AppendResult):
                if result.replayed:
                    replayed += 1
                else:
                    accepted += 1
                    if first_seq is None or result.first_seq < first_seq:
                        first_seq = result.first_seq
                waiting.future.set_result(result)
            else:
                refused += 1
                error = result if result is not None else RuntimeError("no result")
                waiting.future.set_exception(error)
        report = BatchReport(
            requests=len(batch),
            bytes=sum(w.bytes for w in batch),
            accepted=accepted,
            replayed=replayed,
            refused=refused,
            entries=sum(
                len(r.entries)
                for r in outcome.results
                if isinstance(r, AppendResult) and not r.replayed
            ),
            first_seq=first_seq,
            queue_depth=depth,
            waited_s=started - batch[0].queued_at,
            outcome=outcome,
        )
        log.info("%s", report.log_line())
        if self.on_batch is not None:
            try:
                self.on_batch(report)
            except Exception:  # an observer must not fail the writers
                log.exception("on_batch failed")
