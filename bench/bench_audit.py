"""Benchmark: the audit's rate on a journal export, against raw SHA-256 over the same bytes.

    .venv/bin/python bench/bench_audit.py                  # 1,000,000 entries, 3 runs
    .venv/bin/python bench/bench_audit.py --entries 100000 --runs 5

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
  sequence, the timestamps, and every accounting rule replayed through ``Books`` — with
  as many processes as ``shanlian audit`` uses by default here (``--workers``), and
  again with one process, beside it.

The chain reads of a real audit (a handful of ``eth_call``) are not part of it. Every
run of the audit is bracketed by two runs of the baseline and compared with their mean,
since this machine's speed drifts from one minute to the next; the ratio reported is the
median of those per-run ratios over ``--runs`` runs. 'per CPU s' counts the
CPU time of every process of the pass (the helper's too), so it shows the work done,
which the number of processes does not lower.
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

from audit.decoder import SCANNER_AVAILABLE
from audit.export import Export
from audit.journal import default_workers, verify_journal
from chain.client import Checkpoint
from ledger.entries import canonical_bytes, to_hex
from ledger.merkle import CompactRange, leaf_hash

FORMAT_VERSION = 2
"""Bump when the generator changes, so a stale cached export is not reused."""


def _entries(count: int, seed: int) -> Iterator[bytes]:
    """Canonical leaf bytes of a valid journal of ``count`` entries."""
    rnd = random.Random(seed)
    start = 1_790_000_000.0
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


Timing = tuple[int, float, float, int]
"""Entries, wall seconds, CPU seconds of the pass (its helper process's too), processes."""


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run_baseline(path: Path) -> Timing:
    """Read the export and SHA-256 every line: the floor for anyone checking it."""
    sha256 = hashlib.sha256
    wall, cpu = time.perf_counter(), _cpu()
    count = 0
    for line in Export(str(path)).lines():
        sha256(line).digest()
        count += 1
    return count, time.perf_counter() - wall, _cpu() - cpu, 1


def run_audit(
    path: Path,
    checkpoints: list[Checkpoint],
    fast: bool = True,
    workers: int | None = None,
    scanner: bool = True,
) -> Timing:
    """The audit's whole journal pass over the export, read as ``shanlian audit`` reads it."""
    wall, cpu = time.perf_counter(), _cpu()
    findings = verify_journal(
        Export(str(path)).blocks(), checkpoints, fast=fast, workers=workers, scanner=scanner
    )
    timing = (findings.size, time.perf_counter() - wall, _cpu() - cpu, findings.workers)
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
        "--slow-path", action="store_true", help="also time one run with --no-fast-path"
    )
    parser.add_argument(
        "--expressions",
        action="store_true",
        help="also time one run without the scanner in C (audit.decoder's expressions)",
    )
    args = parser.parse_args()
    path, checkpoints = export_file(args.entries, args.seed, args.folder)
    size_mb = path.stat().st_size / 1e6
    run_baseline(path)  # warm the page cache
    workers = default_workers()
    runs: dict[str, list[Timing]] = {"baseline": [], "audit": [], "single": []}
    # Each run of the audit is bracketed by runs of the baseline, and compared with their
    # mean: this machine's speed drifts from one minute to the next, so a ratio only holds
    # between timings taken close together.
    ratios: dict[str, list[float]] = {"audit": [], "single": []}

    def bracketed(key: str, timing: Timing) -> None:
        before, after = runs["baseline"][-2:]
        runs[key].append(timing)
        ratios[key].append(
            (timing[0] / timing[1]) / statistics.mean(t[0] / t[1] for t in (before, after))
        )

    runs["baseline"].append(run_baseline(path))
    for _ in range(args.runs):
        audit = run_audit(path, checkpoints, workers=workers)
        runs["baseline"].append(run_baseline(path))
        bracketed("audit", audit)
        if workers > 1:
            single = run_audit(path, checkpoints, workers=1)
            runs["baseline"].append(run_baseline(path))
            bracketed("single", single)
    processes = runs["audit"][0][3]
    names = {
        "baseline": "raw hashlib SHA-256 of each line (baseline)",
        "audit": f"shanlian audit, journal pass ({processes} processes)",
        "single": "shanlian audit, journal pass (--workers 1)",
    }
    if processes == 1:
        del runs["single"], names["single"], ratios["single"]
        names["audit"] = "shanlian audit, journal pass (1 process)"
    if args.expressions:
        runs["expressions"] = [run_audit(path, checkpoints, workers=workers, scanner=False)]
        names["expressions"] = f"shanlian audit, without the scanner ({processes} processes)"
    if args.slow_path:
        runs["slow"] = [run_audit(path, checkpoints, fast=False, workers=1)]
        names["slow"] = "shanlian audit, ledger path only (--no-fast-path, 1 process)"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def rate(timings: list[Timing], column: int) -> float:
        return statistics.median(t[0] / t[column] for t in timings)

    print(
        f"audit benchmark: {args.entries:,} entries ({size_mb:,.0f} MB), {len(checkpoints)} "
        f"checkpoints, median of {args.runs} runs, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, lines read by "
        + ("audit._scan (C)" if SCANNER_AVAILABLE else "audit.decoder's expressions (no scanner)")
    )
    print(f"{'':<52} {'entries/s':>11} {'ratio':>7} {'per CPU s':>11} {'ratio':>7}")
    base_wall, base_cpu = rate(runs["baseline"], 1), rate(runs["baseline"], 2)
    for key, timings in runs.items():
        wall, cpu = rate(timings, 1), rate(timings, 2)
        ratio = statistics.median(ratios[key]) if key in ratios else wall / base_wall
        print(f"{names[key]:<52} {wall:>11,.0f} {ratio:>7.3f} {cpu:>11,.0f} {cpu / base_cpu:>7.3f}")
    print(
        "ratio: median over the runs of the audit's rate over the mean rate of the two "
        "baseline runs around it; "
        + ", ".join(
            f"{key} runs {' '.join(f'{r:.3f}' for r in values)}" for key, values in ratios.items()
        )
    )
    print(
        f"peak memory {peak_mb:,.0f} MB (the replayed books); 'per CPU s' counts the CPU time "
        "of every process of the pass, which other load on the machine does not inflate"
    )
    audit_rate, base_rate = rate(runs["audit"], 1), rate(runs["baseline"], 1)
    summary: dict[str, object] = {
        "benchmark": f"audit of a {args.entries:,}-entry export (journal pass)",
        "project": f"{audit_rate:,.0f} entries/s",
        "baseline": f"{base_rate:,.0f} lines/s raw hashlib SHA-256",
        "ratio": round(statistics.median(ratios["audit"]), 3),
        "processes": processes,
        "scanner": SCANNER_AVAILABLE,
    }
    if "single" in runs:
        single_rate = rate(runs["single"], 1)
        single_ratio = round(statistics.median(ratios["single"]), 3)
        summary["single_process"] = f"{single_rate:,.0f} entries/s"
        summary["single_process_ratio"] = single_ratio
        # The summary table's row (bench/run_all.py) shows both.
        summary["benchmark"] = f"audit of a {args.entries:,}-entry export (journal pass, "
        summary["benchmark"] += f"{processes} processes)"
        summary["project"] = f"{audit_rate:,.0f} entries/s (one process: {single_rate:,.0f})"
        audit_ratio = statistics.median(ratios["audit"])
        summary["ratio"] = f"{audit_ratio:.3f} (one process: {single_ratio:.3f})"
    print("SUMMARY " + json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
