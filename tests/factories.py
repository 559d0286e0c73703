"""Drafts of valid entries for tests: one function per kind, sensible defaults."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from ledger.entries import donor_commitment, payment_ref_hash, to_hex
from ledger.store.requests import Draft, new_id

PAYMENT_REF_KEY = bytes.fromhex("7e" * 32)
"""The payment reference key of the drafts' deployment (ADR 0016)."""


def paid_now() -> str:
    """Now as RFC 3339 with microseconds: a ``paid_at`` the API takes (after registration)."""
    return datetime.now(UTC).isoformat()


def charity(charity_id: str | None = None, **body: Any) -> Draft:
    return Draft(
        "charity.registered",
        {
            "charity_id": charity_id or new_id("ch"),
            "name": "乡村学校基金会",
            "registration_no": "53100000500021676Q",
            "signer": None,
        }
        | body,
    )


def project(charity_id: str, project_id: str | None = None, **body: Any) -> Draft:
    return Draft(
        "project.opened",
        {
            "project_id": project_id or new_id("pr"),
            "charity_id": charity_id,
            "title": "Textbooks for Yunnan village schools",
            "goal_amount": 5_000_000,
            "currency": "CNY",
        }
        | body,
        actor=f"charity:{charity_id}",
    )


def donation(charity_id: str, project_id: str | None, amount: int = 10_000, **body: Any) -> Draft:
    donation_id = body.pop("donation_id", None) or new_id("dn")
    return Draft(
        "donation.received",
        {
            "donation_id": donation_id,
            "charity_id": charity_id,
            "project_id": project_id,
            "amount": amount,
            "currency": "CNY",
            "channel": "card",
            "paid_at": "2026-11-26T10:00:00Z",
            "donor_commitment": to_hex(donor_commitment(os.urandom(16), donation_id)),
            "payment_ref_hash": to_hex(payment_ref_hash(f"PAY-{donation_id}", PAYMENT_REF_KEY)),
        }
        | body,
    )


def refund(donation_id: str, amount: int, reason: str = "donor asked") -> Draft:
    return Draft(
        "donation.refunded", {"donation_id": donation_id, "amount": amount, "reason": reason}
    )


def disbursement(
    charity_id: str, project_id: str | None, amount: int = 6_000, **body: Any
) -> Draft:
    return Draft(
        "disbursement.made",
        {
            "disbursement_id": body.pop("disbursement_id", None) or new_id("db"),
            "charity_id": charity_id,
            "project_id": project_id,
            "amount": amount,
            "currency": "CNY",
            "payee": "昆明新华书店",
            "purpose": "textbooks, grade 3",
            "evidence": [
                {"sha256": "0x" + "ab" * 32, "media_type": "application/pdf", "public": True}
            ],
        }
        | body,
        actor=f"charity:{charity_id}",
    )


def allocation(
    charity_id: str, donation_id: str, disbursement_id: str, amount: int, **body: Any
) -> Draft:
    return Draft(
        "allocation.made",
        {
            "allocation_id": body.pop("allocation_id", None) or new_id("al"),
            "donation_id": donation_id,
            "disbursement_id": disbursement_id,
            "amount": amount,
        }
        | body,
        actor=f"charity:{charity_id}",
    )


def reversal(charity_id: str, allocation_id: str, reason: str = "booked twice") -> Draft:
    return Draft(
        "allocation.reversed",
        {"allocation_id": allocation_id, "reason": reason},
        actor=f"charity:{charity_id}",
    )


def void(charity_id: str, disbursement_id: str, reason: str = "invoice cancelled") -> Draft:
    return Draft(
        "disbursement.voided",
        {"disbursement_id": disbursement_id, "reason": reason},
        actor=f"charity:{charity_id}",
    )
