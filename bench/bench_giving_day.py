"""A giving day, compressed: a sustained rate of donations with a 5x spike, then a full check.

``shanlian serve --workers N`` on a PostgreSQL database created for the run, anchoring
on an anvil node every 10 s (``ANCHOR_INTERVAL_S=10``, and not sooner for a backlog).
First a calibration: donations from 64 closed-loop connections for a few seconds; the
sustained rate is 80% of what they got through (``--rate`` sets it). Then, window by
window (10 s each), ``wrk`` paces 95% of the rate as donations
(``POST /api/v1/donations``, each with its own Idempotency-Key) and another ``wrk`` 5%
as reads of donation pages (``/donations/ID``); a small driver here refunds a donation
every 2 s and records a disbursement (with evidence, allocated FIFO) every 5 s. In the
middle, for 30 s, the rate and the connections are 5x (matching funds open). Every
second the server's RSS, the journal's size and the latest checkpoint are sampled.

At the end: every donation acknowledged (201) is in the journal exactly once, at the
seq its answer gave, and so is every refund and disbursement; the seqs are gapless;
``shanlian journal verify`` and ``shanlian audit`` (the export against the chain) pass.
A matching pool (ADR 0040) is open for the spike only: its table columns are the matches
made in each window, the pool's spent against its total (never more, at any entry) and
the match entries the audit's replay of the export refuses (0: no rule broken).

    .venv/bin/python bench/bench_giving_day.py [--minutes 3] [--workers 1] [--rate R]
    .venv/bin/python bench/bench_giving_day.py --quick      # ~40 s of load: a smoke run
    .venv/bin/python bench/bench_giving_day.py --write      # the table into performance.md

wrk paces its requests (``delay()`` in wrk_load.lua) but, like every closed-loop
client, waits for an answer on a connection before the next request on it; latency is
measured from a request's send, so a server that falls behind shows as a rate below the
target (and more connections busy), not as queueing time before the send.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadgen import (
    ROOT,
    Server,
    WrkResult,
    anvil,
    clean_environment,
    deploy,
    fresh_database,
    rss_bytes,
    run_wrk,
    shanlian,
    shanlian_server,
    uvicorn_implementation,
    wrk_path,
    wrk_version,
)

from audit.journal import verify_journal

TOKEN = "bench-giving-day-platform-token-" + secrets.token_hex(16)
PERFORMANCE = ROOT / "docs" / "performance.md"
MARKER_START = "<!-- bench:giving-day:start -->"
MARKER_END = "<!-- bench:giving-day:end -->"
MINIMAL_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MATCH_CAP = 1_000
"""The spike's matching pool matches each donation 100 %, at most ¥10 (every donation of
wrk_load.lua is ¥10 or more), at most ¥30 a payer a day, once in 15 s a payer (ADR 0040)."""
SEED_DONATIONS = 60  # the pages read during the day
REFUND_TARGETS = 60  # donations the driver refunds from (never allocated: FIFO takes older)


# -- the day's cast ----------------------------------------------------------------------------


@dataclass
class Journal:
    """The charity, its projects and donations the load works with."""

    charity_id: str
    charity_key: str
    projects: list[str]
    seeds: list[str]
    refund_targets: list[str]
    evidence_sha256: str
    donations: dict[str, int] = field(default_factory=dict)  # made here: id -> seq
    others: dict[int, str] = field(default_factory=dict)  # seq -> the kind answered
    payers: int = 0  # wrk's donations name one of this many payers (0: none)


@dataclass
class Pool:
    """The matching pool opened for the spike (ADR 0040)."""

    pool_id: str
    total: int
    starts: float  # wall-clock seconds
    ends: float


def open_spike_pool(
    base: str, journal: Journal, starts: float, seconds: float, donations: float
) -> Pool:
    """A matcher, and its pool over the spike's windows: enough for a fifth of the
    donations the spike may bring (the spike often gets through half of what calibration
    did), so that it runs out during the spike, where the last yuan is raced for."""
    total = max(MATCH_CAP, int(0.2 * donations) * MATCH_CAP)
    with httpx.Client(base_url=base) as client:
        matcher = write(
            client,
            "/api/v1/matchers",
            {"name": "九九配捐科技有限公司", "registration_no": "91110000MA99099099"},
            platform(),
        )
        journal.others[matcher["seq"]] = "matcher.registered"
        pool = write(
            client,
            f"/api/v1/matchers/{matcher['id']}/pools",
            {
                "title": "九九公益日配捐",
                "currency": "CNY",
                "total": total,
                "ratio_percent": 100,
                "cap_per_donation": MATCH_CAP,
                "cap_per_payer_per_day": 3 * MATCH_CAP,
                "min_interval_s": 15,
                "starts_at": datetime.fromtimestamp(starts, UTC).isoformat(),
                "ends_at": datetime.fromtimestamp(starts + seconds, UTC).isoformat(),
                "project_ids": journal.projects,
            },
            platform(),
        )
        journal.others[pool["seq"]] = "match_pool.opened"
    return Pool(pool["id"], total, starts, starts + seconds)


@dataclass
class Matching:
    """What the spike's pool matched, read from the export and replayed by the audit."""

    made: int = 0
    spent: int = 0
    total: int = 0
    violations: int = 0
    overspent: bool = False
    by_window: list[tuple[int, int, int]] = field(default_factory=list)
    """Per window: matches made in it, the pool's spent at its end, violations in it."""


def matching_figures(export: Path, pool: Pool, windows: list[Window], day_wall: float) -> Matching:
    """Matches per window and the pool's spent (never above its total, at any entry), and
    the match entries the audit's replay of the export refuses (every rule of the pool)."""
    lines = export.read_bytes().splitlines()
    findings = verify_journal(iter(lines), [])
    refused: set[int] = {
        problem.seq
        for check in findings.checks
        if check.name == "accounting"
        for problem in check.problems
        if problem.detail.startswith("match") and problem.seq is not None
    }
    figures = Matching(total=pool.total, violations=len(refused))
    events: list[tuple[float, int, int]] = []  # (at, +1/-1 matches, amount)
    amounts: dict[str, int] = {}
    for line in lines:
        entry = json.loads(line)
        if entry["kind"] == "match.made" and entry["body"]["pool_id"] == pool.pool_id:
            amount = entry["body"]["amount"]
            amounts[entry["body"]["match_id"]] = amount
            figures.made += 1
            events.append((_wall(entry["at"]), 1, amount))
        elif entry["kind"] == "match.reversed" and entry["body"]["match_id"] in amounts:
            events.append((_wall(entry["at"]), 0, -amounts[entry["body"]["match_id"]]))
        else:
            continue
        figures.spent += events[-1][2]
        figures.overspent |= figures.spent > pool.total
    refused_at = [_wall(json.loads(lines[seq])["at"]) for seq in refused if seq < len(lines)]
    for w in windows:
        start, end = day_wall + w.start_s, day_wall + w.start_s + w.seconds
        made = sum(count for at, count, _ in events if start <= at < end)
        spent = sum(amount for at, _, amount in events if at < end)
        broken = sum(1 for at in refused_at if start <= at < end)
        figures.by_window.append((made, spent, broken))
    return figures


def _wall(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def platform() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def write(client: httpx.Client, path: str, body: dict[str, Any], auth: dict[str, str]) -> Any:
    answer = client.post(
        path, json=body, headers=auth | {"Idempotency-Key": uuid.uuid4().hex}, timeout=60
    )
    if answer.status_code != 201:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def donation(charity_id: str, project_id: str, amount: int) -> dict[str, Any]:
    return {
        "charity_id": charity_id,
        "project_id": project_id,
        "amount": amount,
        "currency": "CNY",
        "channel": "card",
        "paid_at": datetime.now(UTC).isoformat(),
        "payment_ref": f"PAY-{uuid.uuid4().hex}",
        "donor": {"name": "李华", "email": "li@example.cn"},
    }


def prepare(base: str) -> Journal:
    """A charity with three projects, donations to read and to refund, an evidence file."""
    with httpx.Client(base_url=base) as client:
        charity = write(
            client,
            "/api/v1/charities",
            {"name": "九九公益日基金会", "registration_no": "53100000500099099Q"},
            platform(),
        )
        charity_id = charity["id"]
        others = {charity["seq"]: "charity.registered"}
        projects = []
        for title in ("乡村图书馆", "净水计划", "助学金"):
            project = write(
                client,
                f"/api/v1/charities/{charity_id}/projects",
                {"title": title, "goal_amount": 10**12, "currency": "CNY"},
                platform(),
            )
            projects.append(project["id"])
            others[project["seq"]] = "project.opened"
        made, seqs = [], []
        for n in range(SEED_DONATIONS + REFUND_TARGETS):
            answer = write(
                client,
                "/api/v1/donations",
                donation(charity_id, projects[n % 3], 10_000 + n),
                platform(),
            )
            made.append(answer["id"])
            seqs.append(answer["seq"])
        key = {"Authorization": f"Bearer {charity['api_key']}"}
        upload = client.post(
            "/api/v1/evidence",
            files={"file": ("invoice.pdf", MINIMAL_PDF, "application/pdf")},
            headers=key,
            timeout=60,
        )
        if upload.status_code != 201:
            raise RuntimeError(f"POST /evidence: {upload.status_code} {upload.text[:300]}")
    return Journal(
        charity_id=charity_id,
        charity_key=charity["api_key"],
        projects=projects,
        seeds=made[:SEED_DONATIONS],
        refund_targets=made[SEED_DONATIONS:],
        evidence_sha256=upload.json()["sha256"],
        donations=dict(zip(made, seqs, strict=True)),
        others=others,
    )


# -- during the day ----------------------------------------------------------------------------


@dataclass
class Write:
    """One refund or disbursement by the driver: what the answer said."""

    kind: str
    id: str
    seqs: list[int]


class Driver:
    """Refunds (platform) and disbursements (the charity) at a low rate, in a thread."""

    def __init__(self, base: str, journal: Journal, refund_every_s: float, disburse_every_s: float):
        self.base = base
        self.journal = journal
        self.refund_every_s = refund_every_s
        self.disburse_every_s = disburse_every_s
        self.done: list[Write] = []
        self.failed: list[str] = []
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="driver", daemon=True)

    def run(self) -> None:
        refunds = disbursements = 0
        started = time.monotonic()
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self.stop.is_set():
                elapsed = time.monotonic() - started
                if elapsed >= refunds * self.refund_every_s:
                    self.refund(client, refunds)
                    refunds += 1
                elif elapsed >= disbursements * self.disburse_every_s:
                    self.disburse(client, disbursements)
                    disbursements += 1
                else:
                    self.stop.wait(0.05)

    def _post(self, client: httpx.Client, path: str, body: Any, auth: dict[str, str]) -> Any:
        begun = time.perf_counter()
        try:
            answer = client.post(
                path, json=body, headers=auth | {"Idempotency-Key": uuid.uuid4().hex}
            )
        except httpx.HTTPError as error:
            self.failed.append(f"{path}: {error.__class__.__name__}")
            return None
        self.latencies.append(time.perf_counter() - begun)
        if answer.status_code != 201:
            self.failed.append(f"{path}: {answer.status_code} {answer.text[:200]}")
            return None
        return answer.json()

    def refund(self, client: httpx.Client, n: int) -> None:
        targets = self.journal.refund_targets
        donation_id = targets[n % len(targets)]
        answer = self._post(
            client,
            f"/api/v1/donations/{donation_id}/refunds",
            {"amount": 50, "reason": "捐赠人申请部分退款"},
            platform(),
        )
        if answer is not None:
            self.done.append(Write("donation.refunded", answer["id"], answer["seqs"]))

    def disburse(self, client: httpx.Client, n: int) -> None:
        journal = self.journal
        answer = self._post(
            client,
            "/api/v1/disbursements",
            {
                "charity_id": journal.charity_id,
                "amount": 2_000,
                "currency": "CNY",
                "payee": "昆明新华书店",
                "purpose": f"textbooks, batch {n}",
                "evidence": [{"sha256": journal.evidence_sha256, "public": True}],
                "allocate": "fifo",
            },
            {"Authorization": f"Bearer {journal.charity_key}"},
        )
        if answer is not None:
            self.done.append(Write("disbursement.made", answer["id"], [answer["seq"]]))


@dataclass
class Sample:
    at: float
    rss: int
    processes: int
    entries: int
    anchored: int
    lag_s: float


class Sampler:
    """The server's RSS, the journal's size and the anchor lag, every second."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sampler", daemon=True)

    def sample(self, client: httpx.Client) -> Sample:
        """RSS from /proc always; the journal's size and the checkpoint if they answer
        (the checkpoint first: the size read after it is never the smaller)."""
        sizes = rss_bytes(self.server.pids())
        entries = anchored = -1
        lag = float("nan")
        try:
            latest = client.get("/api/v1/checkpoints/latest")
            entries = client.get("/healthz").json()["entries"]
        except (httpx.HTTPError, ValueError, KeyError):
            latest = None
        now = time.time()
        if latest is not None and entries >= 0:
            anchored, lag = 0, 0.0
            if latest.status_code == 200:
                checkpoint = latest.json()
                anchored = checkpoint["tree_size"]
                if entries > anchored:
                    at = datetime.fromisoformat(checkpoint["anchored_at"]).timestamp()
                    lag = max(0.0, now - at)
        return Sample(time.monotonic(), sum(sizes.values()), len(sizes), entries, anchored, lag)

    def run(self) -> None:
        with httpx.Client(base_url=self.server.base, timeout=5) as client:
            while not self.stop.is_set():
                self.samples.append(self.sample(client))
                self.stop.wait(1.0)


@dataclass
class Window:
    """One window of the day: what was sent in it, and every answer to that."""

    start_s: float
    seconds: float
    phase: str
    target: float
    donations: WrkResult
    reads: WrkResult | None
    samples: list[Sample]

    @property
    def acknowledged_rate(self) -> float:
        return self.donations.ok / self.seconds


DRAIN_S = 35.0  # a window's wrk waits this long after it stops sending (wrk's timeout: 30 s)


def start_window(
    pool: ThreadPoolExecutor,
    base: str,
    journal: Journal,
    *,
    rate: float,
    connections: int,
    seconds: float,
    read_share: float,
    ids_file: Path,
    acks: Path,
    stop: threading.Event,
) -> tuple[Future[WrkResult], Future[WrkResult] | None]:
    """Donations and reads sent for ``seconds``, by two wrk processes started now.

    Each goes on running after its window, without sending, until the answers to what
    it sent have come (the next window's start meanwhile), for at most ``DRAIN_S`` or
    until ``stop`` is set: a window's figures are those of every request it sent, and
    none is dropped at the boundary.
    """
    donate = {
        "mode": "donate",
        "token": TOKEN,
        "charity": journal.charity_id,
        "projects": ",".join(journal.projects),
        "run": uuid.uuid4().hex[:12],
        "rate": f"{rate * (1 - read_share):.2f}",
        "acks": f"{acks}/{uuid.uuid4().hex[:8]}-",
        "payers": str(journal.payers),
    }
    common: dict[str, Any] = {
        "seconds": seconds + DRAIN_S,
        "send_seconds": seconds,
        "timeout_s": 30.0,
        "stop": stop,
    }
    donations = pool.submit(
        run_wrk, base, connections=connections, options=donate, threads=2, **common
    )
    reads = None
    if read_share > 0:
        read = {"mode": "read", "ids": str(ids_file), "rate": f"{rate * read_share:.2f}"}
        reads = pool.submit(
            run_wrk, base, connections=max(2, connections // 16), options=read, threads=1, **common
        )
    return donations, reads


def wait_until_quiet(base: str, quiet_s: float = 3.0, limit_s: float = 120.0) -> None:
    """Return once the journal has not grown for ``quiet_s`` (the answers are out)."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + limit_s
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                entries = client.get("/healthz").json()["entries"]
            except (httpx.HTTPError, ValueError, KeyError):
                entries = -1
            if entries != last:
                last, since = entries, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.5)


# -- after the day -----------------------------------------------------------------------------


def read_acks(folder: Path) -> tuple[dict[str, int], int]:
    """Every donation wrk saw acknowledged: id -> seq; and how many lines repeated an id."""
    acknowledged: dict[str, int] = {}
    repeated = 0
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            donation_id, _, seq = line.partition(" ")
            if donation_id in acknowledged:
                repeated += 1
            acknowledged[donation_id] = int(seq)
    return acknowledged, repeated


def check_journal(
    export: Path, acknowledged: dict[str, int], others: dict[int, str], writes: list[Write]
) -> tuple[list[str], int]:
    """What is wrong with the exported journal against the answers ([] if nothing), and
    how many donations it holds that no answer acknowledged (a client that gave up)."""
    problems: list[str] = []
    entries = [json.loads(line) for line in export.read_text().splitlines()]
    seqs = [e["seq"] for e in entries]
    first = seqs[0] if seqs else 0
    if seqs != list(range(first, first + len(seqs))):
        gaps = sorted(set(range(first, first + len(seqs))) - set(seqs))
        problems.append(f"seq is not gapless: missing {gaps[:10]}")
    by_seq = {e["seq"]: e for e in entries}
    received: dict[str, list[int]] = {}
    for entry in entries:
        if entry["kind"] == "donation.received":
            received.setdefault(entry["body"]["donation_id"], []).append(entry["seq"])
    twice = [d for d, at in received.items() if len(at) > 1]
    if twice:
        problems.append(f"{len(twice)} donations are in the journal more than once: {twice[:5]}")
    missing = [d for d in acknowledged if d not in received]
    if missing:
        problems.append(f"{len(missing)} acknowledged donations are not in the journal")
    moved = [d for d, seq in acknowledged.items() if d in received and received[d] != [seq]]
    if moved:
        problems.append(f"{len(moved)} acknowledged donations are at another seq than answered")
    for seq, kind in others.items():
        if by_seq.get(seq, {}).get("kind") != kind:
            problems.append(f"seq {seq} is not the {kind} answered")
    for item in writes:
        entry = by_seq.get(item.seqs[0], {})
        key = "donation_id" if item.kind == "donation.refunded" else "disbursement_id"
        if entry.get("kind") != item.kind or entry["body"].get(key) != item.id:
            problems.append(f"{item.kind} {item.id}: seq {item.seqs[0]} holds another entry")
        for seq in item.seqs[1:]:
            if by_seq.get(seq, {}).get("kind") != "allocation.made":
                problems.append(f"{item.kind} {item.id}: seq {seq} is not its allocation")
    return problems, len(received.keys() - acknowledged.keys())


# -- the report ----------------------------------------------------------------------------------


def window_rows(windows: list[Window], matching: Matching | None = None) -> list[list[str]]:
    rows = []
    for n, w in enumerate(windows):
        d = w.donations
        rss = max((s.rss for s in w.samples), default=0) / 2**20
        answered = [s for s in w.samples if s.entries >= 0]
        lag_entries = max((s.entries - s.anchored for s in answered), default=0)
        lags = [s.lag_s for s in answered if s.lag_s == s.lag_s]
        rows.append(
            [
                f"{w.start_s:.0f}",
                w.phase,
                f"{w.target:,.0f}",
                f"{w.acknowledged_rate:,.0f}",
                f"{d.count(429):,}",
                f"{d.not_ok - d.count(429) + d.socket_errors:,}",
                f"{d.p50_ms:,.0f}",
                f"{d.p99_ms:,.0f}",
                f"{w.reads.p99_ms:,.0f}" if w.reads else "-",
                f"{rss:,.0f}",
                f"{max((s.entries for s in answered), default=0):,}" if answered else "-",
                f"{lag_entries:,}" if answered else "-",
                f"{max(lags, default=0):.0f}" if lags else "-",
                *_matching_cells(matching, n),
            ]
        )
    return rows


def _matching_cells(matching: Matching | None, n: int) -> list[str]:
    if matching is None or n >= len(matching.by_window):
        return ["-", "-", "-"]
    made, spent, broken = matching.by_window[n]
    return [f"{made:,}", f"{spent / 100:,.0f} / {matching.total / 100:,.0f}", f"{broken:,}"]


HEADER = [
    "t s",
    "phase",
    "target req/s",
    "donations 201/s",
    "429",
    "other errors",
    "p50 ms",
    "p99 ms",
    "reads p99 ms",
    "RSS MiB",
    "entries",
    "anchor lag entries",
    "anchor lag s",
    "matches",
    "pool spent / total ¥",
    "match rule violations (audit)",
]


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---:|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    out = ["  ".join(h.rjust(w) for h, w in zip(HEADER, widths, strict=True))]
    out += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def write_docs(block: str) -> None:
    """Put the table between its markers in docs/performance.md (a section at the end)."""
    text = PERFORMANCE.read_text()
    framed = f"{MARKER_START}\n{block}\n{MARKER_END}"
    if MARKER_START in text:
        before, rest = text.split(MARKER_START, 1)
        text = before + framed + rest.split(MARKER_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Giving day\n\n" + framed + "\n"
    PERFORMANCE.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="the day's length (3)")
    parser.add_argument("--spike-seconds", type=float, default=30.0, help="in the middle (30)")
    parser.add_argument("--spike-factor", type=float, default=5.0, help="rate x this (5)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per row (10)")
    parser.add_argument("--rate", type=float, help="sustained req/s (default: 80%% of calibration)")
    parser.add_argument("--connections", type=int, default=64, help="wrk's, sustained (64)")
    parser.add_argument("--calibrate-seconds", type=float, default=10.0)
    parser.add_argument("--read-share", type=float, default=0.05, help="share of reads (0.05)")
    parser.add_argument("--workers", type=int, default=1, help="shanlian serve --workers (1)")
    parser.add_argument("--anchor-interval", type=float, default=10.0, help="seconds (10)")
    parser.add_argument("--quick", action="store_true", help="~40 s of load: a smoke run")
    parser.add_argument("--write", action="store_true", help="put the table in performance.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.spike_seconds, args.window, args.calibrate_seconds = 0.5, 10, 5, 5
    wrk_path()
    windows_total = max(1, round(args.minutes * 60 / args.window))
    spiked = min(windows_total, max(1, round(args.spike_seconds / args.window)))
    spike_from = (windows_total - spiked) // 2
    started_wall = datetime.now(UTC)
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-giving-day-") as folder:
        workdir = Path(folder)
        acks = workdir / "acks"
        acks.mkdir()
        with anvil(workdir) as rpc_url, fresh_database("shanlian_bench_day") as url:
            chain = deploy(rpc_url, workdir)
            server = shanlian_server(
                url,
                chain,
                args.workers,
                TOKEN,
                workdir,
                ANCHOR_INTERVAL_S=f"{args.anchor_interval:g}",
                ANCHOR_MAX_PENDING=str(10**9),
                ANCHOR_POLL_S="0.5",
            )
            try:
                server.start()
                journal = prepare(server.base)
                ids_file = workdir / "ids.txt"
                ids_file.write_text("\n".join(journal.seeds) + "\n")
                calibrated_stop = threading.Event()
                with ThreadPoolExecutor(2) as pool:
                    future = start_window(
                        pool,
                        server.base,
                        journal,
                        rate=0,
                        connections=64,
                        seconds=args.calibrate_seconds,
                        read_share=0,
                        ids_file=ids_file,
                        acks=acks,
                        stop=calibrated_stop,
                    )[0]
                    time.sleep(args.calibrate_seconds)
                    wait_until_quiet(server.base)
                    calibrated_stop.set()
                    calibration = future.result()
                calibrated = calibration.ok / args.calibrate_seconds
                rate = args.rate or max(1.0, round(0.8 * calibrated))
                print(
                    f"calibration: {calibrated:,.0f} donations/s from 64 closed-loop "
                    f"connections (p99 {calibration.p99_ms:,.0f} ms); sustained rate {rate:,.0f} "
                    f"req/s, spike {rate * args.spike_factor:,.0f}",
                    file=sys.stderr,
                    flush=True,
                )
                # Matching funds open for the spike (ADR 0040): donations name payers from
                # here on, drawn at random from as many as the spike may bring donations (a
                # third of those come again from a payer seen before: some too fast). The
                # spike brings at most what calibration got through (a busy machine, far
                # less than aimed).
                spike_rate = min(rate * args.spike_factor, calibrated)
                spike_donations = spike_rate * (1 - args.read_share) * spiked * args.window
                journal.payers = max(100, int(spike_donations))
                planned = time.time() + 2.0
                spike_pool = open_spike_pool(
                    server.base,
                    journal,
                    planned + spike_from * args.window,
                    spiked * args.window,
                    spike_donations,
                )
                sampler = Sampler(server)
                sampler.thread.start()
                driver = Driver(server.base, journal, refund_every_s=2, disburse_every_s=5)
                driver.thread.start()
                started: list[tuple[float, bool, Future[WrkResult], Future[WrkResult] | None]] = []
                cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                drained = threading.Event()
                time.sleep(max(0.0, planned - time.time()))
                day_wall = time.time()
                day_started = time.monotonic()
                overlap = 2 * (2 + int(DRAIN_S / args.window))
                with ThreadPoolExecutor(overlap) as pool:
                    for n in range(windows_total):
                        boundary = day_started + n * args.window
                        time.sleep(max(0.0, boundary - time.monotonic()))
                        spike = spike_from <= n < spike_from + spiked
                        factor = args.spike_factor if spike else 1.0
                        futures = start_window(
                            pool,
                            server.base,
                            journal,
                            rate=rate * factor,
                            connections=round(args.connections * factor),
                            seconds=args.window,
                            read_share=args.read_share,
                            ids_file=ids_file,
                            acks=acks,
                            stop=drained,
                        )
                        started.append((time.monotonic(), spike, *futures))
                    day_ends = day_started + windows_total * args.window
                    time.sleep(max(0.0, day_ends - time.monotonic()))
                    load_ended = time.monotonic()
                    driver.stop.set()
                    wait_until_quiet(server.base)  # every request sent has its answer
                    drained.set()
                    windows: list[Window] = []
                    for at, spike, donations_future, reads_future in started:
                        donations = donations_future.result()
                        windows.append(
                            Window(
                                start_s=at - day_started,
                                seconds=args.window,
                                phase=f"spike x{args.spike_factor:g}" if spike else "sustained",
                                target=rate * (args.spike_factor if spike else 1.0),
                                donations=donations,
                                reads=reads_future.result() if reads_future else None,
                                samples=[
                                    s for s in sampler.samples if at <= s.at < at + args.window
                                ],
                            )
                        )
                        print(
                            f"  {windows[-1].phase:>10} {windows[-1].acknowledged_rate:,.0f}/s "
                            f"(429: {donations.count(429)}), p99 {donations.p99_ms:,.0f} ms",
                            file=sys.stderr,
                            flush=True,
                        )
                cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                wrk_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                    cpu_after.ru_stime - cpu_before.ru_stime
                )
                day_seconds = time.monotonic() - day_started
                driver.thread.join(120)
                # The last anchor: within an interval or two of the last donation.
                final = httpx.get(f"{server.base}/healthz", timeout=30).json()["entries"]
                caught_up_at = None
                deadline = time.monotonic() + 3 * args.anchor_interval + 60
                while caught_up_at is None and time.monotonic() < deadline:
                    time.sleep(0.5)
                    done = next((x for x in sampler.samples if x.anchored >= final), None)
                    caught_up_at = done.at - load_ended if done else None
                sampler.stop.set()
                sampler.thread.join(30)
                metrics = httpx.get(f"{server.base}/metrics", timeout=10)
            finally:
                server.stop()

            # The checks, on the stopped service's database and the chain.
            export = workdir / "journal.jsonl"
            exported = shanlian("--database", url, "journal", "export", "--output", str(export))
            verified = shanlian("--database", url, "journal", "verify")
            audited = shanlian(
                "audit",
                "--journal",
                str(export),
                "--rpc",
                rpc_url,
                "--contract",
                chain.ledger_anchor,
                "--registry",
                chain.charity_registry,
                "--chain-id",
                "31337",
                "--from-block",
                str(max(chain.block, 1)),
                env=clean_environment(),
            )
        wrk_acks, repeated = read_acks(acks)
        acknowledged = journal.donations | wrk_acks
        problems, unanswered = [], 0
        matching: Matching | None = None
        if exported.returncode != 0:
            problems.append(f"shanlian journal export failed: {exported.stderr[-300:]}")
        else:
            found, unanswered = check_journal(export, acknowledged, journal.others, driver.done)
            problems += found
            matching = matching_figures(export, spike_pool, windows, day_wall)
            if matching.overspent:
                problems.append(f"the matching pool {spike_pool.pool_id} was over-spent")
            if matching.violations:
                problems.append(f"the audit found {matching.violations} matches breaking a rule")
        if repeated:
            problems.append(f"{repeated} acknowledgements repeated a donation id")
        if verified.returncode != 0:
            problems.append("shanlian journal verify failed: " + verified.stdout.strip()[:300])
        if audited.returncode != 0:
            problems.append(
                f"shanlian audit failed ({audited.returncode}): "
                + (audited.stdout + audited.stderr).strip()[-400:]
            )

    rows = window_rows(windows, matching)
    total_ok = sum(w.donations.ok for w in windows) + calibration.ok
    total_429 = sum(w.donations.count(429) for w in windows) + calibration.count(429)
    other = sum(
        w.donations.not_ok - w.donations.count(429) + w.donations.socket_errors for w in windows
    )
    statuses: dict[int, int] = {}
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    for measured in [calibration, *(w.donations for w in windows)]:
        for code, n in measured.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
        for kind in socket_errors:
            socket_errors[kind] += measured.errors.get(kind, 0)
    sustained = [w for w in windows if w.phase == "sustained"]
    spikes = [w for w in windows if w.phase != "sustained"]
    rss_all = [s.rss for w in windows for s in w.samples]
    answered_all = [s for w in windows for s in w.samples if s.entries >= 0]
    lag_all = [s.lag_s for s in answered_all if s.lag_s == s.lag_s]
    refunds = sum(1 for w in driver.done if w.kind == "donation.refunded")
    disbursements = len(driver.done) - refunds
    summary_lines = [
        f"Giving day: {args.minutes:g} min in {args.window:g} s windows, a x{args.spike_factor:g} "
        f"spike for {spiked * args.window:g} s in the middle; shanlian serve --workers "
        f"{args.workers} on PostgreSQL, anchoring every {args.anchor_interval:g} s on anvil "
        f"({os.cpu_count()} cores, load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; {started_wall:%Y-%m-%d %H:%M} UTC)",
        f"load generator: {wrk_version()} (C), two processes per window: donations "
        f"({100 * (1 - args.read_share):g}%) and donation-page reads "
        f"({100 * args.read_share:g}%), paced by bench/wrk_load.lua; {uvicorn_implementation()}",
        f"calibration: {calibrated:,.0f} donations/s from 64 closed-loop connections; "
        f"sustained target {rate:,.0f} req/s ({args.connections} connections), spike "
        f"{rate * args.spike_factor:,.0f} req/s ({round(args.connections * args.spike_factor)})",
    ]
    p99_sustained = max((w.donations.p99_ms for w in sustained), default=0.0)
    p99_spike = max((w.donations.p99_ms for w in spikes), default=0.0)
    results = [
        f"donations acknowledged: {total_ok:,} (calibration {calibration.ok:,}); 429s: "
        f"{total_429:,}; other errors: {other:,}; in the journal without an answer that "
        f"reached the client: {unanswered:,}",
        "sustained: "
        + (
            f"{statistics.median(w.acknowledged_rate for w in sustained):,.0f} donations/s "
            f"(median window), p99 up to {p99_sustained:,.0f} ms"
            if sustained
            else "no window"
        )
        + "; spike: "
        + (
            f"{statistics.median(w.acknowledged_rate for w in spikes):,.0f} donations/s, "
            f"p99 up to {p99_spike:,.0f} ms"
            if spikes
            else "no window"
        ),
        "donation answers by status: "
        + ", ".join(f"{code}: {n:,}" for code, n in sorted(statuses.items()))
        + "; wrk's socket errors: "
        + ", ".join(f"{kind} {n:,}" for kind, n in socket_errors.items())
        + " (a read error is also a connection the server closed after 5 s idle, while its "
        "window waited for slower answers)",
        (
            f"matching (a pool of ¥{matching.total / 100:,.0f} open for the spike, "
            f"{journal.payers:,} payers): {matching.made:,} matches, spent "
            f"¥{matching.spent / 100:,.0f} of ¥{matching.total / 100:,.0f} "
            f"({'OVER-SPENT' if matching.overspent else 'never more, at any entry'}); match "
            f"rule violations found by the audit: {matching.violations}"
            if matching is not None
            else "matching: not measured (no export)"
        ),
        f"refunds {refunds}, disbursements {disbursements} acknowledged; "
        f"{len(driver.failed)} refused or failed"
        + (f" (first: {driver.failed[0]})" if driver.failed else ""),
        f"RSS of the server's {max((s.processes for w in windows for s in w.samples), default=0)}"
        f" process(es): {min(rss_all, default=0) / 2**20:,.0f} to "
        f"{max(rss_all, default=0) / 2**20:,.0f} MiB",
        f"anchor lag: up to {max(lag_all, default=0):.0f} s and "
        f"{max((s.entries - s.anchored for s in answered_all), default=0):,} entries during "
        "the load; "
        + (
            f"all {final:,} entries anchored {caught_up_at:.0f} s after the load ended"
            if caught_up_at is not None
            else "the last entries were NOT anchored within the wait"
        ),
        "journal: "
        + (
            "every acknowledged donation, refund and disbursement in it exactly once at the "
            "seq answered; seq gapless; shanlian journal verify and shanlian audit passed"
            if not problems
            else "PROBLEMS: " + "; ".join(problems)
        ),
        f"wrk used {100 * wrk_cpu / day_seconds:.0f}% of one core over the day (of "
        f"{100 * (os.cpu_count() or 1)}%): "
        + ("not the bottleneck" if wrk_cpu / day_seconds < 0.5 else "a large share: beware"),
        f"/metrics: {'served' if metrics.status_code == 200 else 'not served'} "
        f"({metrics.status_code})",
    ]
    print("\n".join(summary_lines))
    print(plain(rows))
    print("\n".join(results))
    if args.write:
        write_docs(
            "\n".join(f"{line}." for line in summary_lines)
            + "\n\n"
            + markdown(rows)
            + "\n\n"
            + "\n".join(f"- {line}" for line in results)
        )
        print(f"(written to {PERFORMANCE.relative_to(ROOT)})")
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"giving day, {args.minutes:g} min with a {spiked * args.window:g} "
                f"s x{args.spike_factor:g} spike, 5% reads, refunds, disbursements (PostgreSQL, "
                f"anvil, {args.workers} worker(s))",
                "project": f"{total_ok:,} donations acknowledged, {total_429:,} 429s, p99 "
                f"{p99_sustained:,.0f} ms sustained / {p99_spike:,.0f} ms spike, RSS ≤ "
                f"{max(rss_all, default=0) / 2**20:,.0f} MiB; "
                + ("journal exactly once, gapless, audit passed" if not problems else "FAILED"),
                "baseline": f"closed-loop maximum {calibrated:,.0f} donations/s "
                "(calibration, same run)",
                "ratio": round(statistics.median(w.acknowledged_rate for w in sustained) / rate, 2)
                if sustained
                else 0,
            },
            ensure_ascii=False,
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
