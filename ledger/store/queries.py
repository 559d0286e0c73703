"""The store's read model: every question the explorer's pages and the API's lookups ask.

Callers get ledger values (``CharityState``, ``Balance``, the small rows below), never a
SQL row, a table or a connection: the explorer builds its pages from these and imports
no SQL at all; the API's write services check that what a request names exists through
the same lookups. Who may query what, and why the not-found error lives in the ledger,
is ADR 0026.

The public reads here touch only the journal, the checkpoints and the projections, the
tables the explorer's read-only role may SELECT. The two service reads at the end
(``registration_holder``, ``receipt_secret``) are the API's: the explorer's role cannot
read their tables, and it never calls them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, literal_column, select, union_all
from sqlalchemy.engine import Connection, Engine

from ledger.accounting import (
    STATES,
    AllocationState,
    Balance,
    CharityState,
    DisbursementState,
    DonationState,
    PoolState,
    ProjectState,
)
from ledger.entries import Entry, parse_entry
from ledger.errors import NotFoundError
from ledger.store import page_reads, projections
from ledger.store.flow_sums import FlowSums, flow_sums
from ledger.store.page_reads import DonationRead, DonationVersion, MatchRead
from ledger.store.projections import S, state_of
from ledger.store.tables import (
    CHARITY,
    CHARITY_REGISTRATION,
    DISBURSEMENT,
    DONATION,
    DONOR,
    ENTRY,
    PROJECT,
)

T = TypeVar("T")

WHAT: dict[type[Any], str] = {kind: kind.key.removesuffix("_id") for kind in STATES} | {
    PoolState: "matching pool"
}
"""What a not-found error calls each kind of projection row: what its id names
(``charity_id``: a charity), but a pool is a matching pool."""


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of a list, and how many rows the whole list has."""

    rows: list[T]
    count: int


@dataclass(frozen=True)
class Totals:
    """Counts and balances (per currency) of the whole journal."""

    charities: int
    projects: int
    donations: int
    disbursements: int
    balances: list[Balance]


@dataclass(frozen=True)
class DonationListed:
    """A donation in a list, with the names of its charity and project."""

    donation: DonationState
    charity_name: str
    project_title: str | None


@dataclass(frozen=True)
class DisbursementListed:
    """A disbursement in a list, with when its entry was recorded."""

    disbursement: DisbursementState
    at: datetime


@dataclass(frozen=True)
class CharityListed:
    """A charity in the index: its counts and balances."""

    charity: CharityState
    projects: int
    donations: int
    balances: list[Balance]


@dataclass(frozen=True)
class ProjectListed:
    """A project in the index: its charity's name, its donations and what they gave."""

    project: ProjectState
    charity_name: str
    donations: int
    received: int
    """Donated to it, less refunds."""


@dataclass(frozen=True)
class StoredEntry:
    """An entry exactly as stored: its text may not even parse (the auditor's view)."""

    seq: int
    kind: str
    actor: str
    at: datetime
    leaf: str
    leaf_hash: bytes


@dataclass(frozen=True)
class NameMatches:
    """What a search by name found, each list in its page order."""

    charities: list[tuple[str, str]]
    """(charity_id, name), oldest first."""
    projects: list[tuple[str, str]]
    """(project_id, title), oldest first."""
    disbursements: list[tuple[str, str, str]]
    """(disbursement_id, payee, purpose), newest first."""


class ReadModel:
    """Read-only queries on one store's engine (a read-only engine is enough)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def connect(self) -> Connection:
        return self.engine.connect()

    # -- lookups -------------------------------------------------------------------------

    def get(self, kind: type[S], key: str) -> S | None:
        """The charity, project, donation, disbursement or allocation ``key``, if any."""
        if "\x00" in key:  # no id holds a NUL (PostgreSQL text cannot even be asked for one)
            return None
        with self.connect() as connection:
            return projections.get(connection, kind, key)

    def require(self, kind: type[S], key: str) -> S:
        """``get``, or ``NotFoundError`` naming what was asked for."""
        found = self.get(kind, key)
        if found is None:
            raise NotFoundError(WHAT[kind], key)
        return found

    def charity(self, charity_id: str) -> CharityState:
        return self.require(CharityState, charity_id)

    def project(self, project_id: str) -> ProjectState:
        return self.require(ProjectState, project_id)

    def donation(self, donation_id: str) -> DonationState:
        return self.require(DonationState, donation_id)

    def disbursement(self, disbursement_id: str) -> DisbursementState:
        return self.require(DisbursementState, disbursement_id)

    def allocation(self, allocation_id: str) -> AllocationState:
        return self.require(AllocationState, allocation_id)

    def find(self, kind: type[S], **where: Any) -> list[S]:
        """Rows whose columns equal ``where``, by ``seq``."""
        with self.connect() as connection:
            return projections.find(connection, kind, **where)

    def funding(self, donation_id: str) -> list[tuple[AllocationState, DisbursementState]]:
        """A donation's live allocations, oldest first, each with its disbursement."""
        with self.connect() as connection:
            allocations = projections.find(
                connection, AllocationState, donation_id=donation_id, reversed=False
            )
            if not allocations:
                return []
            ids = {a.disbursement_id for a in allocations}
            disbursements = {
                row.disbursement_id: state_of(DisbursementState, row)
                for row in connection.execute(
                    select(DISBURSEMENT).where(DISBURSEMENT.c.disbursement_id.in_(ids))
                )
            }
        return [(a, disbursements[a.disbursement_id]) for a in allocations]

    def pool_matches(self, pool_id: str, limit: int) -> list[MatchRead]:
        """A matching pool's latest matches, newest first, with their pool and matcher."""
        with self.connect() as connection:
            return page_reads.pool_matches(connection, pool_id, limit)

    def donation_read(self, donation_id: str) -> DonationRead:
        """A donation and what its page shows (``page_reads.DonationRead``), in four queries.

        Raises:
            NotFoundError: no such donation.
        """
        found = None
        if "\x00" not in donation_id:  # no id holds a NUL (see ``get``)
            with self.connect() as connection:
                found = page_reads.donation_read(connection, donation_id)
        if found is None:
            raise NotFoundError(WHAT[DonationState], donation_id)
        return found

    def donation_version(self, donation_id: str) -> DonationVersion | None:
        """What a donation's page reads of the projections, as a version (ADR 0046); None:
        no such donation."""
        if "\x00" in donation_id:  # no id holds a NUL (see ``get``)
            return None
        with self.connect() as connection:
            return page_reads.donation_version(connection, donation_id)

    # -- balances and totals ---------------------------------------------------------------

    def balances(
        self, *, charity_id: str | None = None, project_id: str | None = None
    ) -> list[Balance]:
        """Balances per currency of a charity or of a project (one of the two)."""
        with self.connect() as connection:
            return projections.balances(connection, charity_id=charity_id, project_id=project_id)

    @staticmethod
    def _charity_balances(
        connection: Connection, charity_ids: Sequence[str]
    ) -> dict[str, list[Balance]]:
        """The balances of many charities in one query (a union of the two tables' sums)."""
        if not charity_ids:
            return {}
        zero: Any = literal_column("0")
        donated = (
            select(
                DONATION.c.charity_id,
                DONATION.c.currency,
                func.sum(DONATION.c.amount).label("received"),
                func.sum(DONATION.c.refunded).label("refunded"),
                func.sum(DONATION.c.allocated).label("allocated"),
                zero.label("disbursed"),
            )
            .where(DONATION.c.charity_id.in_(charity_ids))
            .group_by(DONATION.c.charity_id, DONATION.c.currency)
        )
        spent = (
            select(
                DISBURSEMENT.c.charity_id,
                DISBURSEMENT.c.currency,
                zero,
                zero,
                zero,
                func.sum(DISBURSEMENT.c.amount),
            )
            .where(DISBURSEMENT.c.charity_id.in_(charity_ids), DISBURSEMENT.c.voided.is_(False))
            .group_by(DISBURSEMENT.c.charity_id, DISBURSEMENT.c.currency)
        )
        sums: dict[str, dict[str, list[int]]] = {}
        for charity_id, currency, *amounts in connection.execute(union_all(donated, spent)):
            total = sums.setdefault(charity_id, {}).setdefault(currency, [0, 0, 0, 0])
            for i, amount in enumerate(amounts):
                total[i] += int(amount or 0)
        return {
            charity_id: [
                Balance(currency, *by_currency[currency]) for currency in sorted(by_currency)
            ]
            for charity_id, by_currency in sums.items()
        }

    def totals(self) -> Totals:
        """Counts and balances of the whole journal, per currency."""
        with self.connect() as connection:

            def count(table: Any) -> int:
                return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

            received = {
                row.currency: row
                for row in connection.execute(
                    select(
                        DONATION.c.currency,
                        func.sum(DONATION.c.amount).label("received"),
                        func.sum(DONATION.c.refunded).label("refunded"),
                        func.sum(DONATION.c.allocated).label("allocated"),
                    ).group_by(DONATION.c.currency)
                )
            }
            disbursed = {
                currency: amount
                for currency, amount in connection.execute(
                    select(DISBURSEMENT.c.currency, func.sum(DISBURSEMENT.c.amount))
                    .where(DISBURSEMENT.c.voided.is_(False))
                    .group_by(DISBURSEMENT.c.currency)
                )
            }
            charities, projects, donations, disbursements = (
                count(table) for table in (CHARITY, PROJECT, DONATION, DISBURSEMENT)
            )
        balances = []
        for currency in sorted(received.keys() | disbursed.keys()):
            row = received.get(currency)
            got, refunded, allocated = (
                (int(row.received), int(row.refunded), int(row.allocated)) if row else (0, 0, 0)
            )
            disbursed_amount = int(disbursed.get(currency) or 0)
            balances.append(Balance(currency, got, refunded, allocated, disbursed_amount))
        return Totals(charities, projects, donations, disbursements, balances)

    # -- lists ---------------------------------------------------------------------------------

    def recent_donations(
        self, limit: int, *, charity_id: str | None = None, project_id: str | None = None
    ) -> list[DonationListed]:
        """The latest donations (of a charity, or of one of its projects), newest first."""
        query = (
            select(DONATION, CHARITY.c.name.label("charity_name"), PROJECT.c.title)
            .join(CHARITY, CHARITY.c.charity_id == DONATION.c.charity_id)
            .outerjoin(PROJECT, PROJECT.c.project_id == DONATION.c.project_id)
        )
        with self.connect() as connection:
            if charity_id is None:
                # The journal's primary key finds the latest donations without a sort.
                leaves = connection.execute(
                    select(ENTRY.c.leaf)
                    .where(ENTRY.c.kind == "donation.received")
                    .order_by(ENTRY.c.seq.desc())
                    .limit(limit)
                ).scalars()
                ids = [json.loads(leaf)["body"]["donation_id"] for leaf in leaves]
                query = query.where(DONATION.c.donation_id.in_(ids))
            else:
                query = query.where(DONATION.c.charity_id == charity_id)
                if project_id is not None:
                    query = query.where(DONATION.c.project_id == project_id)
            rows = connection.execute(query.order_by(DONATION.c.seq.desc()).limit(limit))
            return [
                DonationListed(state_of(DonationState, row), row.charity_name, row.title)
                for row in rows
            ]

    def disbursements(
        self, limit: int, *, charity_id: str, project_id: str | None = None
    ) -> list[DisbursementListed]:
        """The latest disbursements of a charity (or of one of its projects), newest first."""
        query = (
            select(DISBURSEMENT, ENTRY.c.at)
            .join(ENTRY, ENTRY.c.seq == DISBURSEMENT.c.seq)
            .where(DISBURSEMENT.c.charity_id == charity_id)
        )
        if project_id is not None:
            query = query.where(DISBURSEMENT.c.project_id == project_id)
        with self.connect() as connection:
            rows = connection.execute(query.order_by(DISBURSEMENT.c.seq.desc()).limit(limit))
            return [DisbursementListed(state_of(DisbursementState, row), row.at) for row in rows]

    def charities(self, *, offset: int, limit: int) -> Listing[CharityListed]:
        """Charities in the order they registered, from ``offset``, with their balances.

        Four queries for the whole page, whatever ``limit`` is.
        """
        with self.connect() as connection:
            count = connection.execute(select(func.count()).select_from(CHARITY)).scalar_one()
            rows = connection.execute(
                select(CHARITY).order_by(CHARITY.c.seq).offset(offset).limit(limit)
            ).all()
            ids = [row.charity_id for row in rows]
            projects = _counts(connection, PROJECT.c.charity_id, ids)
            donations = _counts(connection, DONATION.c.charity_id, ids)
            balances = self._charity_balances(connection, ids)
        return Listing(
            rows=[
                CharityListed(
                    charity=state_of(CharityState, row),
                    projects=projects.get(row.charity_id, 0),
                    donations=donations.get(row.charity_id, 0),
                    balances=balances.get(row.charity_id, []),
                )
                for row in rows
            ],
            count=int(count),
        )

    def projects(self, *, offset: int, limit: int) -> Listing[ProjectListed]:
        """Projects in the order they opened, from ``offset``, with what they were given."""
        with self.connect() as connection:
            count = connection.execute(select(func.count()).select_from(PROJECT)).scalar_one()
            rows = connection.execute(
                select(PROJECT, CHARITY.c.name.label("charity_name"))
                .join(CHARITY, CHARITY.c.charity_id == PROJECT.c.charity_id)
                .order_by(PROJECT.c.seq)
                .offset(offset)
                .limit(limit)
            ).all()
            ids = [row.project_id for row in rows]
            given = {
                project_id: (int(n), int(received or 0))
                for project_id, n, received in connection.execute(
                    select(
                        DONATION.c.project_id,
                        func.count(),
                        func.sum(DONATION.c.amount - DONATION.c.refunded),
                    )
                    .where(DONATION.c.project_id.in_(ids))
                    .group_by(DONATION.c.project_id)
                )
            }
        return Listing(
            rows=[
                ProjectListed(
                    state_of(ProjectState, row),
                    row.charity_name,
                    *given.get(row.project_id, (0, 0)),
                )
                for row in rows
            ],
            count=int(count),
        )

    # -- the journal ---------------------------------------------------------------------------

    def stored_entry(self, seq: int) -> StoredEntry | None:
        """Entry ``seq`` exactly as stored, whether or not its text still parses."""
        with self.connect() as connection:
            row = connection.execute(select(ENTRY).where(ENTRY.c.seq == seq)).first()
        if row is None:
            return None
        return StoredEntry(
            seq=row.seq,
            kind=row.kind,
            actor=row.actor,
            at=row.at,
            leaf=row.leaf,
            leaf_hash=bytes(row.leaf_hash),
        )

    # -- search ----------------------------------------------------------------------------------

    def search_names(self, text: str, limit: int) -> NameMatches:
        """Charities, projects and disbursements whose name, title or payee holds ``text``.

        Any letter case; ``%``, ``_`` and ``\\`` in ``text`` match themselves.
        """
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def matching(*columns: Any, where: Any, order: Any) -> Sequence[Any]:
            query = select(*columns).where(where.ilike(pattern, escape="\\"))
            return connection.execute(query.order_by(order).limit(limit)).all()

        with self.connect() as connection:
            charities = matching(
                CHARITY.c.charity_id, CHARITY.c.name, where=CHARITY.c.name, order=CHARITY.c.seq
            )
            projects = matching(
                PROJECT.c.project_id, PROJECT.c.title, where=PROJECT.c.title, order=PROJECT.c.seq
            )
            disbursements = matching(
                DISBURSEMENT.c.disbursement_id,
                DISBURSEMENT.c.payee,
                DISBURSEMENT.c.purpose,
                where=DISBURSEMENT.c.payee,
                order=DISBURSEMENT.c.seq.desc(),
            )
        return NameMatches(
            charities=[(row[0], row[1]) for row in charities],
            projects=[(row[0], row[1]) for row in projects],
            disbursements=[(row[0], row[1], row[2]) for row in disbursements],
        )

    # -- fund flows ------------------------------------------------------------------------------

    def flow_sums(self, *, charity_id: str, project_id: str | None = None) -> FlowSums:
        """What a charity's (or project's) donations hold and what their allocations paid."""
        with self.connect() as connection:
            return flow_sums(connection, charity_id=charity_id, project_id=project_id)

    # -- the API's service reads (tables the explorer's role cannot read) ----------------------

    def registration_holder(self, registration_key: str) -> str | None:
        """The charity registered with this registration key, if any."""
        with self.connect() as connection:
            holder = connection.execute(
                select(CHARITY_REGISTRATION.c.charity_id).where(
                    CHARITY_REGISTRATION.c.registration_key == registration_key
                )
            ).scalar()
        return None if holder is None else str(holder)

    def receipt_secret(self, donation_id: str) -> bytes | None:
        """The receipt secret kept for the operator (to reissue a receipt), if any."""
        if "\x00" in donation_id:  # no id holds a NUL (PostgreSQL text cannot)
            return None
        with self.connect() as connection:
            secret = connection.execute(
                select(DONOR.c.receipt_secret).where(DONOR.c.donation_id == donation_id)
            ).scalar()
        return None if secret is None else bytes(secret)

    # -- disclosure (ADR 0039) ---------------------------------------------------------------

    def entries_of_kind(self, kind: str) -> list[Entry]:
        """Every entry of one kind, in order: for the rare kinds (``report.published``,
        ``project.closed``); a scan of the journal where no index serves the kind."""
        with self.connect() as connection:
            rows = connection.execute(
                select(ENTRY.c.leaf).where(ENTRY.c.kind == kind).order_by(ENTRY.c.seq)
            )
            return [parse_entry(json.loads(row.leaf)) for row in rows]


def _counts(connection: Connection, column: Any, ids: Iterable[str]) -> dict[str, int]:
    """Rows per value of ``column``, for the values ``ids``."""
    query = select(column, func.count()).where(column.in_(list(ids))).group_by(column)
    return {key: int(n) for key, n in connection.execute(query)}
