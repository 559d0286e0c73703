"""A realistic demo data set: charities, projects, months of donations, fund use.

Deterministic for a given seed (ids, amounts, dates), so two runs tell the same story;
receipt secrets are random, as they must be.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.entries import donor_commitment, format_at, payment_ref_hash, to_hex
from ledger.store import projections
from ledger.store.journal import Draft, FifoAllocation, Store

ProjectSpec = tuple[str, int, str, str]
"""title, goal in fen, payee, purpose"""

CHARITIES: list[tuple[str, str, list[ProjectSpec]]] = [
    (
        "甘肃水窖公益基金会",
        "53620000MJ0001234X",
        [
            (
                "Rainwater cellars for Dingxi villages",
                80_000_000,
                "定西市安定区水泥建材站",
                "cement and pipes",
            ),
            (
                "Water filters for Huining primary schools",
                12_000_000,
                "兰州净水设备有限公司",
                "ceramic water filters",
            ),
        ],
    ),
    (
        "云南乡村学校助学会",
        "53530000MJ0005678Y",
        [
            (
                "Textbooks for Nujiang village schools",
                6_000_000,
                "昆明新华书店",
                "textbooks, grades 1-6",
            ),
            ("Winter coats for boarding pupils", 9_000_000, "大理服装厂", "winter coats"),
        ],
    ),
    (
        "川西灾害救援中心",
        "53510000MJ0009012Z",
        [
            ("Earthquake relief tents, Luding", 30_000_000, "成都帐篷制造有限公司", "relief tents"),
            (
                "Emergency food parcels",
                15_000_000,
                "雅安粮油批发市场",
                "rice, oil and flour parcels",
            ),
        ],
    ),
]
CHANNELS = ("card", "alipay", "wechat_pay", "bank_transfer")


@dataclass
class DemoSummary:
    """What the demo loaded."""

    entries: int
    charities: int
    projects: int
    donations: int
    disbursements: int


def _ids(rng: random.Random, prefix: str) -> str:
    return (
        prefix
        + "_"
        + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))
    )


def _donation(
    rng: random.Random, charity_id: str, project_id: str | None, paid_at: datetime
) -> Draft:
    donation_id = _ids(rng, "dn")
    amount = rng.choice(
        [1_000, 2_000, 5_000, 5_000, 10_000, 10_000, 20_000, 50_000, 100_000, 200_000]
    )
    return Draft(
        "donation.received",
        {
            "donation_id": donation_id,
            "charity_id": charity_id,
            "project_id": project_id,
            "amount": amount,
            "currency": "CNY",
            "channel": rng.choice(CHANNELS),
            "paid_at": format_at(paid_at),
            "donor_commitment": to_hex(donor_commitment(os.urandom(16), donation_id)),
            "payment_ref_hash": to_hex(payment_ref_hash(f"PAY-{paid_at:%Y%m%d}-{donation_id}")),
        },
    )


def _invoice_hash(rng: random.Random, payee: str, amount: int) -> str:
    text = f"发票 {payee} ¥{amount / 100:.2f} #{rng.randrange(10**8):08d}"
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def load_demo(
    store: Store,
    *,
    donations: int = 600,
    seed: int = 2026,
    start: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Append the demo data set to ``store`` (an empty journal or one to extend).

    Args:
        store: where to append.
        donations: how many donations, spread over six months.
        seed: makes ids, amounts and dates repeatable.
        start: the first payment date (default: six months ago).
        progress: called with the number of donations appended so far.
    """
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not secrets
    start = start or (datetime.now(UTC) - timedelta(days=182)).replace(microsecond=0)
    size_before = store.size()
    projects: list[tuple[str, str, str, str, str]] = []
    for name, registration_no, specs in CHARITIES:
        charity_id = _ids(rng, "ch")
        drafts = [
            Draft(
                "charity.registered",
                {
                    "charity_id": charity_id,
                    "name": name,
                    "registration_no": registration_no,
                    "signer": None,
                },
            )
        ]
        for title, goal, payee, purpose in specs:
            project_id = _ids(rng, "pr")
            drafts.append(
                Draft(
                    "project.opened",
                    {
                        "project_id": project_id,
                        "charity_id": charity_id,
                        "title": title,
                        "goal_amount": goal,
                        "currency": "CNY",
                    },
                    actor=f"charity:{charity_id}",
                )
            )
            projects.append((charity_id, project_id, payee, purpose, title))
        store.append(drafts)

    disbursements = 0
    days = 182
    per_day = max(1, donations // days)
    appended = 0
    for day, batch in enumerate(_daily_batches(rng, donations, days)):
        moment = start + timedelta(days=day)
        drafts = []
        for _ in range(batch):
            charity_id, project_id, *_rest = rng.choice(projects)
            earmarked = rng.random() < 0.75
            paid_at = moment + timedelta(seconds=rng.randrange(86_400))
            drafts.append(_donation(rng, charity_id, project_id if earmarked else None, paid_at))
        if drafts:
            store.append(drafts)
            appended += len(drafts)
            if progress:
                progress(appended)
        # Every fortnight or so, each project spends part of what it holds.
        if day % 14 == 13:
            for charity_id, project_id, payee, purpose, _title in projects:
                amount = rng.randrange(20, 60) * per_day * 1_000
                disbursement_id = _ids(rng, "db")
                store.append(
                    [
                        Draft(
                            "disbursement.made",
                            {
                                "disbursement_id": disbursement_id,
                                "charity_id": charity_id,
                                "project_id": project_id,
                                "amount": amount,
                                "currency": "CNY",
                                "payee": payee,
                                "purpose": purpose,
                                "evidence": [
                                    {
                                        "sha256": _invoice_hash(rng, payee, amount),
                                        "media_type": "application/pdf",
                                        "public": False,
                                    },
                                    {
                                        "sha256": _invoice_hash(rng, payee + " (redacted)", amount),
                                        "media_type": "image/jpeg",
                                        "public": True,
                                    },
                                ],
                            },
                            actor=f"charity:{charity_id}",
                        ),
                        FifoAllocation(disbursement_id, actor=f"charity:{charity_id}"),
                    ]
                )
                disbursements += 1
    _corrections(store, rng)
    return DemoSummary(
        entries=store.size() - size_before,
        charities=len(CHARITIES),
        projects=len(projects),
        donations=appended,
        disbursements=disbursements,
    )


def _daily_batches(rng: random.Random, total: int, days: int) -> Iterator[int]:
    weights = [1 + rng.random() + (2 if day % 7 in (5, 6) else 0) for day in range(days)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[-1] += total - sum(counts)
    yield from counts


def _corrections(store: Store, rng: random.Random) -> None:
    """A refund of an unallocated donation, and a disbursement booked in error, undone."""
    entries = list(store.entries())
    with store.engine.connect() as connection:
        books = projections.read_books(connection)
    untouched = [d for d in books.donations.values() if d.available == d.amount]
    if untouched:
        donation = max(untouched, key=lambda d: d.seq)
        store.append(
            [
                Draft(
                    "donation.refunded",
                    {
                        "donation_id": donation.donation_id,
                        "amount": donation.amount,
                        "reason": "duplicate card payment, returned to the donor",
                    },
                )
            ]
        )
    made = [e for e in entries if e.kind == "disbursement.made"]
    if not made:
        return
    wrong = made[-1]
    charity_actor = f"charity:{wrong.body['charity_id']}"
    allocations = [
        e
        for e in entries
        if e.kind == "allocation.made"
        and e.body["disbursement_id"] == wrong.body["disbursement_id"]
    ]
    store.append(
        [
            *(
                Draft(
                    "allocation.reversed",
                    {"allocation_id": a.body["allocation_id"], "reason": "invoice entered twice"},
                    actor=charity_actor,
                )
                for a in allocations
            ),
            Draft(
                "disbursement.voided",
                {
                    "disbursement_id": wrong.body["disbursement_id"],
                    "reason": "invoice entered twice",
                },
                actor=charity_actor,
            ),
        ]
    )
