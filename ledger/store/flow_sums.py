"""The sums a fund-flow graph is drawn from (``ReadModel.flow_sums``, ADR 0026).

Where a charity's (or a project's) donated money went, summed in SQL: a charity with a
million donations still returns a handful of rows. ``explorer.flows`` draws the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ledger.store.tables import ALLOCATION, DISBURSEMENT, DONATION, PROJECT


@dataclass(frozen=True)
class HeldMoney:
    """A charity's donations of one currency and earmark: refunded, and not yet spent."""

    currency: str
    project_id: str | None
    refunded: int
    held: int


@dataclass(frozen=True)
class SpentMoney:
    """Live allocations summed by currency, earmark, project spent on, payee and purpose."""

    currency: str
    earmark: str | None
    spent_on: str | None
    payee: str
    purpose: str
    amount: int


@dataclass(frozen=True)
class FlowSums:
    """The sums a fund-flow graph is drawn from."""

    titles: dict[str, str]
    """The charity's projects: id → title."""
    held: list[HeldMoney]
    spent: list[SpentMoney]


def flow_sums(
    connection: Connection, *, charity_id: str, project_id: str | None = None
) -> FlowSums:
    """What a charity's (or project's) donations hold and what their allocations paid.

    For a project: the donations earmarked to it, and the allocations that paid its
    disbursements (general-fund donations among them). Summed in SQL, so a charity with
    a million donations still returns a handful of rows.
    """
    donated = (
        select(
            DONATION.c.currency,
            DONATION.c.project_id,
            func.sum(DONATION.c.refunded).label("refunded"),
            func.sum(DONATION.c.amount - DONATION.c.refunded - DONATION.c.allocated).label("held"),
        )
        .where(DONATION.c.charity_id == charity_id)
        .group_by(DONATION.c.currency, DONATION.c.project_id)
    )
    spent = (
        select(
            DONATION.c.currency,
            DONATION.c.project_id.label("earmark"),
            DISBURSEMENT.c.project_id.label("spent_on"),
            DISBURSEMENT.c.payee,
            DISBURSEMENT.c.purpose,
            func.sum(ALLOCATION.c.amount).label("amount"),
        )
        .select_from(
            ALLOCATION.join(DONATION, DONATION.c.donation_id == ALLOCATION.c.donation_id).join(
                DISBURSEMENT, DISBURSEMENT.c.disbursement_id == ALLOCATION.c.disbursement_id
            )
        )
        .where(ALLOCATION.c.reversed.is_(False), DONATION.c.charity_id == charity_id)
        .group_by(
            DONATION.c.currency,
            DONATION.c.project_id,
            DISBURSEMENT.c.project_id,
            DISBURSEMENT.c.payee,
            DISBURSEMENT.c.purpose,
        )
    )
    if project_id is not None:
        donated = donated.where(DONATION.c.project_id == project_id)
        spent = spent.where(DISBURSEMENT.c.project_id == project_id)
    titles = {
        project: title
        for project, title in connection.execute(
            select(PROJECT.c.project_id, PROJECT.c.title).where(PROJECT.c.charity_id == charity_id)
        )
    }
    held = [
        HeldMoney(row.currency, row.project_id, int(row.refunded), int(row.held))
        for row in connection.execute(donated)
    ]
    spending = [
        SpentMoney(row.currency, row.earmark, row.spent_on, row.payee, row.purpose, int(row.amount))
        for row in connection.execute(spent)
    ]
    return FlowSums(titles=titles, held=held, spent=spending)
