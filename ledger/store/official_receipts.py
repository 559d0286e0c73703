"""Official e-receipts (公益事业捐赠电子票据) that charities attach to donations (ADR 0041).

A charity issues the official e-receipt of a donation on the government's platform and
attaches its code, number and check code here. With those three anyone can look the
e-receipt up on the government's platform, which shows the payer's name: they are personal
data, kept in this service table only, never in the journal, a public page or an export.

Nothing is overwritten: each attachment is a version of the donation's receipt, 1, 2, …,
and a correction (version 2 on) carries its reason. The current receipt is the last one.
Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field

from ledger.store.journal import Store
from ledger.store.rows import record_of
from ledger.store.tables import Table, big_integer, table_of

MAX_VERSIONS = 10
"""Attachments a donation's receipt may have (the first and nine corrections)."""


class OfficialReceiptRow(Table, table=True):
    __tablename__ = "official_receipt"
    donation_id: str = Field(primary_key=True, max_length=43)
    version: int = Field(primary_key=True)
    charity_id: str = Field(index=True, max_length=43)
    code: str = Field(max_length=8)
    """票据代码: 8 digits."""
    number: str = Field(max_length=10)
    """票据号码: 10 digits."""
    check_code: str = Field(max_length=6)
    """校验码: 6 letters or digits."""
    reason: str | None = Field(default=None, max_length=200)
    """Why this version replaced the one before (None for the first)."""
    attached_by: str = Field(max_length=60)
    """Who attached it: ``charity:<id>`` or ``platform``."""
    attached_ms: int = big_integer()


OFFICIAL_RECEIPT = table_of(OfficialReceiptRow)


@dataclass(frozen=True)
class OfficialReceipt:
    """One version of a donation's official e-receipt."""

    donation_id: str
    version: int
    charity_id: str
    code: str
    number: str
    check_code: str
    reason: str | None
    attached_by: str
    attached_ms: int

    @property
    def attached_at(self) -> datetime:
        """When it was attached, as a moment in UTC."""
        return datetime.fromtimestamp(self.attached_ms / 1000, UTC)

    @property
    def corrected(self) -> bool:
        """Whether it replaced an earlier version."""
        return self.version > 1

    def same_receipt(self, code: str, number: str, check_code: str) -> bool:
        """Whether it names this e-receipt (its code, number and check code)."""
        return (self.code, self.number, self.check_code) == (code, number, check_code)


class VersionTakenError(Exception):
    """Another attachment to the same donation was written first: read and try again."""


class OfficialReceipts:
    """The official e-receipts attached to donations."""

    def __init__(self, store: Store) -> None:
        self.engine: Engine = store.engine

    def versions(self, donation_id: str) -> list[OfficialReceipt]:
        """Every version attached to a donation, the first first (empty: none)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(OFFICIAL_RECEIPT)
                .where(OFFICIAL_RECEIPT.c.donation_id == donation_id)
                .order_by(OFFICIAL_RECEIPT.c.version)
            )
            return [record_of(OfficialReceipt, row) for row in rows]

    def current(self, donation_id: str) -> OfficialReceipt | None:
        """The donation's official e-receipt as it stands (its last version), or None."""
        versions = self.versions(donation_id)
        return versions[-1] if versions else None

    def attach(self, receipt: OfficialReceipt) -> None:
        """Add a version (``receipt.version`` must be the next one).

        Raises:
            VersionTakenError: that version was written meanwhile.
        """
        try:
            with self.engine.begin() as connection:
                connection.execute(OFFICIAL_RECEIPT.insert().values(**asdict(receipt)))
        except IntegrityError:
            raise VersionTakenError(receipt.donation_id) from None
