"""Benchmark: the audit's rate on a journal export, against raw SHA-256 over the same bytes.

    .venv/bin/python bench/bench_audit.py                  # 1,000,000 entries, 3 runs
    .venv/bin/python bench/bench_audit.py --entries 100000 --runs 5
    .venv/bin/python bench/bench_audit.py --reference      # and once through the reference path

The export is synthetic but realistic and valid: five charities with four projects
each, donations (earmarked and general fund) in CNY, and every few hundred entries a
disbursement funded by allocations from that project's donations, with refunds and
reversals now and then. It is generated once (canonical bytes straight from
``ledger.entries.canonical_bytes``, no database) into the temp folder and reused, with
ten checkpoints computed over it.

Both sides read the same file from the page cache:

- baseline: read the lines and SHA-256 each one (``hashlib``), nothing else;
- audit: ``audit.journal.verify_journal`` — every leaf hash and the whole tree, roots at
  the checkpoints and consistency proofs, every line decoded and checked canonical, the
  sequence, the timestamps, and every accounting rule replayed through ``Books`` — in
  one process, as ``shanlian audit`` runs it: lines read by the scanner in C
  (``audit.scanner``), the others by the ledger's reference path. ``--reference`` also
  times one run with every line through the reference path (``--no-fast-path``, as where
  the scanner is not built).

The chain reads of a real audit (a handful of ``eth_call``) are not part of it. Every
run of the audit is bracketed by two runs of the baseline and compared with their mean,
since this machine's speed drifts from one minute to the next; the ratio reported is the
median of those per-run ratios over ``--runs`` runs. 'per CPU s' is the rate over the
CPU time of the pass, which other load on the machine inflates less than wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.export import Export
from audit.journal import verify_journal
from audit.scanner import SCANNER_PROBLEM
from chain.client import Checkpoint
from ledger.entries import canonical_bytes, to_hex
from ledger.merkle import CompactRange, leaf_hash

FORMAT_VERSION = 2
"""Bump when the generator changes, so a stale cached export is not reused."""
START = 1_790_000_000.0
"""The Unix time of the first entry."""


def _entries(count: int, seed: int) -> Iterator[bytes]:
    """Canonical leaf bytes of a valid journal of ``count`` entries."""
    rnd = random.Random(seed)
    start = START
    seq = 0

    def entry(kind: str, body: dict[str, object], actor: str) -> bytes:
        nonlocal seq
        at = _at(start + seq * 0.05)  # about 20 entries a second
        leaf = canonical_bytes(
            {"v": 1, "seq": seq, "kind": kind, "at": at, "actor": actor, "body": body}  # type: ignore[dict-item]
        )
        seq += 1
        return leaf

    charities = [f"ch_bench{c:02d}" for c in range(5)]
    projects = {ch: [f"pr_{ch[3:]}p{p}" for p in range(4)] for ch in charities}
    # Unallocated donations per (charity, project): [donation_id, available].
    open_donations: dict[tuple[str, str | None], list[list[object]]] = {}
    allocations: list[tuple[str, str, str]] = []  # allocation_id, charity, for reversal
    for ch in charities:
        yield entry(
            "charity.registered",
            {
                "charity_id": ch,
                "name": f"善基金 {ch[-2:]}",
                "registration_no": "531000005",
                "signer": None,
            },
            "platform",
        )
        for pr in projects[ch]:
            yield entry(
                "project.opened",
                {
                    "project_id": pr,
                    "charity_id": ch,
                    "title": f"Project {pr}",
                    "goal_amount": 10**11,
                    "currency": "CNY",
                },
                f"charity:{ch}",
            )
    n_donation = n_disbursement = n_allocation = 0
    while seq < count:
        roll = rnd.random()
        ch = rnd.choice(charities)
        if roll < 0.004 and count - seq > 12:
            pr = rnd.choice(projects[ch])
            pool = open_donations.get((ch, pr), [])
            funded = [d for d in pool[:8] if int(d[1]) > 0]  # type: ignore[call-overload]
            if not funded:
                continue
            n_disbursement += 1
            db = f"db_{n_disbursement:012d}"
            total = sum(int(d[1]) for d in funded)  # type: ignore[call-overload]
            yield entry(
                "disbursement.made",
                {
                    "disbursement_id": db,
                    "charity_id": ch,
                    "project_id": pr,
                    "amount": total,
                    "currency": "CNY",
                    "payee": "昆明新华书店",
                    "purpose": "textbooks, grade 3",
                    "evidence": [
                        {
                            "sha256": to_hex(hashlib.sha256(db.encode()).digest()),
                            "media_type": "application/pdf",
                            "public": True,
                        }
                    ],
                },
                f"charity:{ch}",
            )
            for donation in funded:
                n_allocation += 1
                al = f"al_{n_allocation:012d}"
                yield entry(
                    "allocation.made",
                    {
                        "allocation_id": al,
                        "donation_id": donation[0],
                        "disbursement_id": db,
                        "amount": donation[1],
                    },
                    f"charity:{ch}",
                )
                allocations.append((al, ch, db))
                donation[1] = 0
            open_donations[(ch, pr)] = [d for d in pool if int(d[1]) > 0]  # type: ignore[call-overload]
        elif roll < 0.005 and allocations:
            al, owner, _ = allocations.pop(rnd.randrange(len(allocations)))
            yield entry(
                "allocation.reversed",
                {"allocation_id": al, "reason": "booked twice"},
                f"charity:{owner}",
            )
        elif roll < 0.006:
            pool = open_donations.get((ch, None), [])
            if pool and int(pool[-1][1]) > 0:  # type: ignore[call-overload]
                donation = pool.pop()
                yield entry(
                    "donation.refunded",
                    {"donation_id": donation[0], "amount": donation[1], "reason": "donor asked"},
                    "platform",
                )
        else:
            n_donation += 1
            dn = f"dn_{n_donation:020d}"
            pr = rnd.choice([*projects[ch], None])
            amount = rnd.choice([1000, 2000, 5000, 10000, 20000, 50000, rnd.randint(100, 200000)])
            yield entry(
                "donation.received",
                {
                    "donation_id": dn,
                    "charity_id": ch,
                    "project_id": pr,
                    "amount": amount,
                    "currency": "CNY",
                    "channel": rnd.choice(["card", "wechat_pay", "alipay", "bank_transfer"]),
                    "paid_at": _at(start + seq * 0.05 - 30),
                    "donor_commitment": to_hex(hashlib.sha256(b"s" + dn.encode()).digest()),
                    "payment_ref_hash": to_hex(hashlib.sha256(b"PAY-" + dn.encode()).digest()),
                },
                "platform",
            )
            open_donations.setdefault((ch, pr), []).append([dn, amount])


def _at(moment: float) -> str:
    """``format_at`` of a Unix time, without building a datetime (the generator's hot spot)."""
    millis = round(moment * 1000)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"
    )


def export_file(count: int, seed: int, folder: Path) -> tuple[Path, list[Checkpoint]]:
    """The cached export and its checkpoints, generated on first use."""
    path = folder / f"shanlian-bench-audit-v{FORMAT_VERSION}-{count}-{seed}.jsonl"
    meta = path.with_suffix(".checkpoints.json")
    if not (path.exists() and meta.exists()):
        started = time.perf_counter()
        sizes = {max(1, count * k // 10) for k in range(1, 11)}
        tree = CompactRange()
        roots: list[tuple[int, str]] = []
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for n, leaf in enumerate(_entries(count, seed)):
                out.write(leaf + b"\n")
                tree.append(leaf_hash(leaf))
                if n + 1 in sizes:
                    roots.append((n + 1, tree.root().hex()))
        tmp.replace(path)
        meta.write_text(json.dumps(roots))
        print(
            f"generated {count:,} entries into {path} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    roots = json.loads(meta.read_text())
    # Each checkpoint is anchored a second after the last entry it covers is dated (the
    # entries are 0.05 s apart from 1_790_000_000): the audit refuses an entry dated after
    # the block that anchored it.
    return path, [
        Checkpoint(i, size, bytes.fromhex(root), 1_790_000_001 + math.ceil(size * 0.05))
        for i, (size, root) in enumerate(roots)
    ]


Timing = tuple[int, float, float]
"""Entries, wall seconds, CPU seconds of the pass."""


def _cpu() -> float:
    """CPU seconds of this process."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def run_baseline(path: Path) -> Timing:
    """Read the export and SHA-256 every line: the floor for anyone checking it."""
    sha256 = hashlib.sha256
    wall, cpu = time.perf_counter(), _cpu()
    count = 0
    for line in Export(str(path)).lines():
        sha256(line).digest()
        count += 1
    return count, time.perf_counter() - wall, _cpu() - cpu


def run_audit(path: Path, checkpoints: list[Checkpoint], fast: bool = True) -> Timing:
    """The audit's whole journal pass over the export, read as ``shanlian audit`` reads it."""
    wall, cpu = time.perf_counter(), _cpu()
    findings = verify_journal(Export(str(path)).blocks(), checkpoints, fast=fast)
    timing = (findings.size, time.perf_counter() - wall, _cpu() - cpu)
    failed = [c for c in findings.checks if c.status == "fail"]
    if failed:
        raise SystemExit(f"the synthetic export does not pass the audit: {failed[0].problems[:3]}")
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time one run with every line through the ledger's reference path "
        "(--no-fast-path, as where the scanner in C is not built)",
    )
    args = parser.parse_args()
    if SCANNER_PROBLEM is not None:
        print(f"warning: {SCANNER_PROBLEM}", file=sys.stderr)
    path, checkpoints = export_file(args.entries, args.seed, args.folder)
    size_mb = path.stat().st_size / 1e6
    run_baseline(path)  # warm the page cache
    load = os.getloadavg()
    runs: dict[str, list[Timing]] = {"baseline": [], "audit": []}
    # Each run of the audit is bracketed by runs of the baseline, and compared with their
    # mean: this machine's speed drifts from one minute to the next, so a ratio only holds
    # between timings taken close together.
    ratios: list[float] = []
    runs["baseline"].append(run_baseline(path))
    for _ in range(args.runs):
        audit = run_audit(path, checkpoints)
        runs["baseline"].append(run_baseline(path))
        before, after = runs["baseline"][-2:]
        runs["audit"].append(audit)
        ratios.append((audit[0] / audit[1]) / statistics.mean(t[0] / t[1] for t in (before, after)))
    names = {
        "baseline": "raw hashlib SHA-256 of each line (baseline)",
        "audit": "shanlian audit, journal pass (one process)",
    }
    if args.reference:
        runs["reference"] = [run_audit(path, checkpoints, fast=False)]
        names["reference"] = "shanlian audit, reference path only (--no-fast-path)"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def rate(timings: list[Timing], column: int) -> float:
        return statistics.median(t[0] / t[column] for t in timings)

    print(
        f"audit benchmark: {args.entries:,} entries ({size_mb:,.0f} MB), {len(checkpoints)} "
        f"checkpoints, median of {args.runs} runs, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "at the start, lines read by "
        + ("audit._scan (C)" if SCANNER_PROBLEM is None else "the reference path (no scanner)")
    )
    print(f"{'':<52} {'entries/s':>11} {'ratio':>7} {'per CPU s':>11} {'ratio':>7}")
    base_wall, base_cpu = rate(runs["baseline"], 1), rate(runs["baseline"], 2)
    for key, timings in runs.items():
        wall, cpu = rate(timings, 1), rate(timings, 2)
        ratio = statistics.median(ratios) if key == "audit" else wall / base_wall
        print(f"{names[key]:<52} {wall:>11,.0f} {ratio:>7.3f} {cpu:>11,.0f} {cpu / base_cpu:>7.3f}")
    print(
        "ratio: median over the runs of the audit's rate over the mean rate of the two "
        f"baseline runs around it; runs {' '.join(f'{r:.3f}' for r in ratios)}"
    )
    print(
        f"peak memory {peak_mb:,.0f} MB (the replayed books); load average at the end "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    audit_rate, base_rate = rate(runs["audit"], 1), rate(runs["baseline"], 1)
    summary: dict[str, object] = {
        "benchmark": f"audit of a {args.entries:,}-entry export (journal pass, one process)",
        "project": f"{audit_rate:,.0f} entries/s",
        "baseline": f"{base_rate:,.0f} lines/s raw hashlib SHA-256",
        "ratio": round(statistics.median(ratios), 3),
        "processes": 1,
        "scanner": SCANNER_PROBLEM is None,
    }
    print("SUMMARY " + json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
