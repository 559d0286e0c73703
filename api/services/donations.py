"""Donations: recorded (their donors' data kept out of the journal), receipted, refunded.

A donation is appended through the sequencer without holding a thread when the caller is
an event loop (ADR 0017); the open matching pools that allow it match it in the same
append (ADR 0040).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from api import models
from api.errors import ApiError
from api.keys import Principal
from api.services.base import REGISTRATIONS_KEPT, ServiceCore
from explorer import urls
from ledger.accounting import MatchState
from ledger.entries import (
    donor_commitment,
    format_at,
    parse_at,
    payer_key,
    payment_ref_hash,
    to_hex,
)
from ledger.errors import NotFoundError
from ledger.store.requests import AppendRequest, AppendResult, Draft, MatchDonation, Request, new_id
from ledger.store.tables import DONOR


class DonationWrites(ServiceCore):
    """Recording donations, their receipts and refunds."""

    def record_donation(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> models.DonationCreated:
        """Record a paid donation; keep the donor's personal data out of the journal."""
        self.require_platform(principal)
        self._check_paid_at(body.charity_id, body.paid_at)
        request, secret = self._donation_request(body, principal, key)
        return self._donation_created(self._append_request(request), secret)

    async def record_donation_async(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> models.DonationCreated:
        """``record_donation`` for an event loop: nothing here blocks it.

        What needs no I/O runs on the loop; the append waits on the sequencer's future
        without holding a thread (ADR 0017), so many donations in flight cost no threads.
        """
        self.require_platform(principal)
        if body.charity_id not in self._registered_at or self.sequencer is None:
            return await run_in_threadpool(self.record_donation, body, principal, key)
        self._check_paid_at(body.charity_id, body.paid_at)  # from memory: no I/O
        request, secret = self._donation_request(body, principal, key)
        result = await asyncio.wrap_future(self.sequencer.submit(request))
        if result.replayed:  # reads the kept secret: off the loop
            return await run_in_threadpool(self._donation_created, result, secret)
        return self._donation_created(result, secret)

    def _donation_request(
        self, body: models.DonationCreate, principal: Principal, key: str
    ) -> tuple[AppendRequest, bytes]:
        """The append of a donation and the receipt secret it commits to (no I/O)."""
        self.require_platform(principal)
        self.accept_currency(body.currency)
        donation_id = new_id("dn")
        secret = os.urandom(16)
        # Written with the entry, in bulk with the other donations of its batch.
        donor = {
            "donation_id": donation_id,
            "receipt_secret": secret,
            "name": body.donor.name,
            "phone": body.donor.phone,
            "email": body.donor.email,
            "anonymous": body.donor.anonymous,
            "created_at": datetime.now(UTC),
        }
        draft = Draft(
            "donation.received",
            {
                "donation_id": donation_id,
                "charity_id": body.charity_id,
                "project_id": body.project_id,
                "amount": body.amount,
                "currency": body.currency,
                "channel": body.channel,
                "paid_at": body.paid_at.isoformat(),
                "donor_commitment": to_hex(donor_commitment(secret, donation_id)),
                "payment_ref_hash": to_hex(
                    payment_ref_hash(body.payment_ref, self.settings.payment_ref_key_bytes)
                ),
            },
        )
        requests: list[Request] = [draft]
        if body.payer_ref is not None:  # matched by the open pools that allow it (ADR 0040)
            payer = payer_key(body.payer_ref, self.settings.payment_ref_key_bytes)
            requests.append(MatchDonation(donation_id, payer))
        request = AppendRequest(
            requests,
            at=self.clock() if self.clock is not None else None,
            rows=[(DONOR, donor)],
            **self._idempotency("POST /donations", principal, key, body),
        )
        return request, secret

    def _donation_created(self, result: AppendResult, secret: bytes) -> models.DonationCreated:
        entry = result.entries[0]
        donation_id = str(entry.body["donation_id"])
        if result.replayed:
            secret = self.receipt_secret(donation_id)
        matches = [
            models.MatchMade(
                id=str(e.body["match_id"]),
                pool_id=str(e.body["pool_id"]),
                amount=int(e.body["amount"]),  # type: ignore[arg-type]
                seq=e.seq,
            )
            for e in result.entries[1:]
            if e.kind == "match.made"
        ]
        return models.DonationCreated(
            id=donation_id,
            seq=entry.seq,
            receipt=self.receipt(donation_id, secret),
            matches=matches,
        )

    def _check_paid_at(self, charity_id: str, paid_at: datetime) -> None:
        """A donation is paid after its charity registered and not in the future.

        The window runs from the ``at`` of the charity's ``charity.registered`` entry to
        ``paid_at_leeway_minutes`` after the server's clock (``clock``, the demo's, or
        now). Outside it a time is a mistake or an attack, and the journal would keep it
        forever (issue 12: year 9999 broke the donation's page).
        """
        registered = self._registered_at.get(charity_id)
        if registered is None:
            try:
                charity = self.charity(charity_id)
            except NotFoundError:
                return  # the ledger refuses the donation, naming charity_id
            registered = parse_at(self.store.entry(charity.seq).at)
            if len(self._registered_at) >= REGISTRATIONS_KEPT:
                self._registered_at.clear()
            self._registered_at[charity_id] = registered
        now = self.clock() if self.clock is not None else datetime.now(UTC)
        latest = now + timedelta(minutes=self.settings.paid_at_leeway_minutes)
        if not registered <= paid_at <= latest:
            earliest_text, latest_text = format_at(registered), format_at(latest)
            raise ApiError(
                422,
                "outside_window",
                f"paid_at: must be from {earliest_text} (when charity {charity_id} "
                f"registered) to {latest_text} (the server's clock plus "
                f"{self.settings.paid_at_leeway_minutes} minutes)",
                field="paid_at",
                earliest=earliest_text,
                latest=latest_text,
            )

    def receipt_secret(self, donation_id: str) -> bytes:
        """The receipt secret kept for the operator (to reissue a receipt)."""
        secret = self.read.receipt_secret(donation_id)
        if secret is None:
            raise NotFoundError("receipt for donation", donation_id)
        return secret

    def receipt(self, donation_id: str, secret: bytes) -> models.Receipt:
        base = self.settings.public_url
        api = f"{base}/api/v1/donations/{donation_id}"
        return models.Receipt(
            url=self.receipt_url(donation_id, secret),
            secret=secret.hex(),
            qr_png=f"{api}/receipt.png",
            qr_svg=f"{api}/receipt.svg",
            page=f"{api}/receipt",
        )

    def receipt_url(self, donation_id: str, secret: bytes) -> str:
        """The donation page with the receipt secret in the fragment (never sent to a server)."""
        return urls.receipt(self.settings.public_url, donation_id, secret)

    def refund(
        self, donation_id: str, body: models.RefundCreate, principal: Principal, key: str
    ) -> models.Recorded:
        self.require_platform(principal)
        self.donation(donation_id)
        route = f"POST /donations/{donation_id}/refunds"
        # A refunded donation's matches go back to their pools first (ADR 0040).
        reversals = [
            Draft(
                "match.reversed",
                {"match_id": match.match_id, "reason": f"donation refunded: {body.reason}"[:500]},
            )
            for match in self.read.find(MatchState, donation_id=donation_id)
            if not match.reversed
        ]
        result = self._append(
            [
                *reversals,
                Draft(
                    "donation.refunded",
                    {"donation_id": donation_id, "amount": body.amount, "reason": body.reason},
                ),
            ],
            **self._idempotency(route, principal, key, body),
        )
        return models.Recorded(id=donation_id, seqs=[e.seq for e in result.entries])
