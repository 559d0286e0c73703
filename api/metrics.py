"""Prometheus metrics: requests by route, the write sequencer's batches, the anchor lag.

Served at ``/metrics`` in the text exposition format. With several worker processes
(``PROMETHEUS_MULTIPROC_DIR`` set to an empty folder before the processes start, as
prometheus-client's multiprocess mode wants), each process writes its samples to that
folder and any process's ``/metrics`` adds them all up; the anchor lag is read from the
database, the same from every process.

What to alert on during a giving day: docs/deployment.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from starlette.types import Scope

from ledger.store.checkpoints import CheckpointLog
from ledger.store.journal import Store
from ledger.store.sequencer import BatchReport, Sequencer
from ledger.store.tables import ENTRY

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

REQUESTS = Counter(
    "shanlian_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
ERRORS = Counter(
    "shanlian_http_errors_total",
    "HTTP requests answered with a 4xx or 5xx status, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "shanlian_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
THROTTLED = Counter(
    "shanlian_http_throttled_total",
    "Writes refused with 429 because the write queue was full (nothing stored)",
)
BATCH_SIZE = Histogram(
    "shanlian_sequencer_batch_requests",
    "Write requests per batch of the sequencer",
    buckets=_BATCH_BUCKETS,
)
BATCH_ENTRIES = Counter(
    "shanlian_sequencer_entries_total", "Entries appended by the sequencer's batches"
)
BATCH_RESULTS = Counter(
    "shanlian_sequencer_requests_total",
    "Write requests through the sequencer, by result (accepted, replayed, refused)",
    ["result"],
)
FALLBACKS = Counter(
    "shanlian_sequencer_fallbacks_total",
    "Batches the database refused, appended again request by request",
)
QUEUE_DEPTH = Gauge(
    "shanlian_sequencer_queue_depth",
    "Write requests waiting for the sequencer",
    multiprocess_mode="livesum",
)
QUEUE_WAIT = Histogram(
    "shanlian_sequencer_queue_wait_seconds",
    "How long a batch's oldest request waited in the queue",
    buckets=_LATENCY_BUCKETS,
)
APPEND_LATENCY = Histogram(
    "shanlian_sequencer_append_seconds",
    "A batch's append: lock, reads, rules, writes and commit",
    buckets=_LATENCY_BUCKETS,
)
COMMIT_LATENCY = Histogram(
    "shanlian_sequencer_commit_seconds",
    "A batch's commit alone (the durable write)",
    buckets=_LATENCY_BUCKETS,
)
LOCK_WAIT = Histogram(
    "shanlian_sequencer_lock_wait_seconds",
    "A batch's wait for the journal's append lock (other processes' batches)",
    buckets=_LATENCY_BUCKETS,
)


ANCHOR_WAITING = Gauge(
    "shanlian_anchor_waiting",
    "1 while the anchor worker waits, by reason: fee_cap (the base fee is over "
    "CHAIN_MAX_FEE_PER_GAS) or budget (ANCHOR_BUDGET_WEI is spent); 0 otherwise",
    ["reason"],
    multiprocess_mode="livemax",
)
ANCHOR_BASE_FEE = Gauge(
    "shanlian_anchor_base_fee_wei",
    "The next block's base fee when the anchor worker last looked (wei a unit of gas)",
    multiprocess_mode="livemax",
)
ANCHOR_SPENT = Gauge(
    "shanlian_anchor_spent_wei",
    "What the anchors of the budget's period cost (wei)",
    multiprocess_mode="livemax",
)
ANCHOR_BUDGET = Gauge(
    "shanlian_anchor_budget_wei",
    "ANCHOR_BUDGET_WEI, the most the anchors of one period may cost (wei; absent: none)",
    multiprocess_mode="livemax",
)
_WAITING_REASONS = {"waiting_for_fees": "fee_cap", "budget_exhausted": "budget"}


def observe_anchor_status(state: str, base_fee: int | None, spent: int, budget: int | None) -> None:
    """Record the anchor worker's assessment of fees and budget (its ``assess``)."""
    for status, reason in _WAITING_REASONS.items():
        ANCHOR_WAITING.labels(reason).set(1 if state == status else 0)
    if base_fee is not None:
        ANCHOR_BASE_FEE.set(base_fee)
    ANCHOR_SPENT.set(spent)
    if budget is not None:
        ANCHOR_BUDGET.set(budget)


def observe_batch(report: BatchReport) -> None:
    """Record one batch of the sequencer (its ``on_batch``)."""
    outcome = report.outcome
    BATCH_SIZE.observe(report.requests)
    BATCH_ENTRIES.inc(report.entries)
    for result, count in (
        ("accepted", report.accepted),
        ("replayed", report.replayed),
        ("refused", report.refused),
    ):
        if count:
            BATCH_RESULTS.labels(result).inc(count)
    if outcome.fell_back:
        FALLBACKS.inc()
    QUEUE_WAIT.observe(report.waited_s)
    APPEND_LATENCY.observe(outcome.lock_s + outcome.build_s + outcome.write_s + outcome.commit_s)
    COMMIT_LATENCY.observe(outcome.commit_s)
    LOCK_WAIT.observe(outcome.lock_s)
    QUEUE_DEPTH.set(report.queue_depth)


class AnchorLag(Collector):
    """Entries not yet anchored, and the age of the oldest of them, read at each scrape."""

    def __init__(self, store: Store, sequencer: Sequencer | None = None) -> None:
        self.store = store
        self.sequencer = sequencer

    def collect(self) -> Iterable[GaugeMetricFamily]:
        size = self.store.size()
        latest = CheckpointLog(self.store.engine).latest()
        anchored = latest.tree_size if latest is not None else 0
        age = 0.0
        if size > anchored:
            with self.store.engine.connect() as connection:
                at = connection.execute(select(ENTRY.c.at).where(ENTRY.c.seq == anchored)).scalar()
            if at is not None:  # aware UTC (ledger.store.tables.UtcDateTime)
                age = max(0.0, (datetime.now(UTC) - at).total_seconds())
        yield GaugeMetricFamily(
            "shanlian_journal_entries", "Entries in the journal (the Merkle tree's size)", size
        )
        yield GaugeMetricFamily(
            "shanlian_anchor_lag_entries",
            "Entries not covered by an anchored checkpoint",
            size - anchored,
        )
        yield GaugeMetricFamily(
            "shanlian_anchor_lag_seconds",
            "Age of the oldest entry not covered by an anchored checkpoint (0: none)",
            age,
        )


def process_ended() -> None:
    """Forget this process's live gauges (the queue depth) in multiprocess mode; its
    counters and histograms stay in the sums. Called when the app shuts down."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition(local: CollectorRegistry) -> bytes:
    """The text exposition: this process's (or every process's) metrics, then ``local``'s."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        shared = generate_latest(registry)
    else:
        shared = generate_latest(REGISTRY)
    return shared + generate_latest(local)


__all__ = [
    "CONTENT_TYPE_LATEST",
    "AnchorLag",
    "RequestMetrics",
    "exposition",
    "observe_anchor_status",
    "observe_batch",
    "process_ended",
]


class RequestMetrics:
    """Count and time every HTTP request by its route template (``Gateway`` calls it).

    The label is the matched route's path (``/api/v1/donations/{donation_id}``), never
    the raw path, and a method outside HTTP's own is ``OTHER``: a scan of random URLs or
    invented methods cannot grow the series without bound. The labelled children are
    kept, one lookup a request instead of three of prometheus-client's locked ones.
    """

    def __init__(self, sequencer: Sequencer | None = None) -> None:
        self.sequencer = sequencer
        self._children: dict[tuple[str, str, int], _Children] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Record one answered request: its route, status and time to answer."""
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        if method not in _METHODS:
            method = "OTHER"
        children = self._children.get((method, template, status))
        if children is None:
            children = self._children[(method, template, status)] = _Children(
                REQUESTS.labels(method, template, str(status)),
                ERRORS.labels(method, template, str(status)) if status >= 400 else None,
                LATENCY.labels(method, template),
                THROTTLED if status == 429 else None,
            )
        children.requests.inc()
        if children.errors is not None:
            children.errors.inc()
        if children.throttled is not None:
            children.throttled.inc()
        children.latency.observe(seconds)
        if self.sequencer is not None:
            QUEUE_DEPTH.set(self.sequencer.depth)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class _Children:
    """The series one (method, route, status) adds to."""

    requests: Counter
    errors: Counter | None
    latency: Histogram
    throttled: Counter | None
