"""Public views: what anyone may see of the journal, built from the projections.

One place builds them: the API's GET routes return them as JSON, and the explorer's
pages render them (each page's ``.json`` twin is the same object). Read-only: a store
opened on a read-only connection serves them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Concatenate, ParamSpec, TypeVar

from explorer import checkpoint_pages, listings, models, search, urls
from explorer.checkpoint_pages import checkpoint_public as checkpoint_public  # for its importers
from explorer.flows import fund_flows
from explorer.listings import from_state
from explorer.reports import ReportViews
from explorer.signatures import Signatures
from ledger import merkle
from ledger.accounting import (
    AllocationState,
    DisbursementState,
    MatcherState,
    PoolState,
    ProjectState,
)
from ledger.entries import Entry, format_at, to_hex
from ledger.errors import NotFoundError
from ledger.store.checkpoints import CheckpointLog
from ledger.store.engine import make_engine
from ledger.store.journal import Store
from ledger.store.page_reads import in_one_transaction, one_transaction
from ledger.store.queries import ReadModel

RECENT_DONATIONS = 10
"""Donations on the home page."""
PAGE_DONATIONS = 20
"""Latest donations on a charity's or a project's page."""
PAGE_DISBURSEMENTS = 50
"""Latest disbursements on a charity's or a project's page."""
PAGE_MATCHES = 50
"""Latest matches on a matching pool's page."""
CHECKPOINTS_PER_PAGE = 50
INDEX_PAGE = 50
"""Charities or projects on a page of their index."""
P = ParamSpec("P")
R = TypeVar("R")


def _one_transaction(
    view: Callable[Concatenate[PublicViews, P], R],
) -> Callable[Concatenate[PublicViews, P], R]:
    """The view drawn from one connection, in one read transaction (ADR 0044).

    Every read the view makes, through the store, the checkpoint log or the read model,
    goes to that connection; a view called from another shares its transaction.
    """

    @functools.wraps(view)
    def in_one(views: PublicViews, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if in_one_transaction(views.store.engine):
            return view(views, *args, **kwargs)
        with one_transaction(views.store.engine) as engine:
            return view(replace(views, store=Store(engine)), *args, **kwargs)

    return in_one


@dataclass
class PublicViews:
    """Builds the public views of one journal.

    Each ``*_view`` and ``*_page`` reads in one connection and one read transaction
    (``_one_transaction``, ADR 0044), shared with the views it calls.

    Attributes:
        store: the journal (a read-only connection is enough).
        public_url: base of the links in the views (evidence downloads).
        anchor_interval_s: the anchor worker's interval, to say when an entry that is not
            anchored yet will be; None when nothing anchors.
        lasting_chain: the checkpoints are anchored on a chain that outlives this process
            (a node, not the embedded chain that starts empty at every start), so a
            confirmed checkpoint's record never changes: what rests on it is settled.
    """

    store: Store
    public_url: str
    anchor_interval_s: float | None = None
    lasting_chain: bool = False
    signing_domain: tuple[int, str] | None = None
    """The EIP-712 domain's chain id and CharityRegistry, to check charity signatures
    (ADR 0037); None: no chain, signatures are shown unchecked."""
    _copies: list[PublicViews] = field(default_factory=list, init=False, repr=False, compare=False)
    """The read-only copies made of these views (``read_only``: the explorer's)."""

    def use_signing_domain(self, domain: tuple[int, str] | None) -> None:
        """Check signatures in ``domain`` from now on, here and in every read-only copy.

        The explorer's copies are made when the app is, and a node that was down then
        tells its domain only once it answers (``api.app.connect_chain_later``): set on
        these views alone, the explorer would go on showing signatures unchecked.
        """
        self.signing_domain = domain
        for copy in self._copies:
            copy.use_signing_domain(domain)

    @cached_property
    def checkpoints(self) -> CheckpointLog:
        return CheckpointLog(self.store.engine)

    @cached_property
    def reports(self) -> ReportViews:
        """Disclosure reports and correction notes (ADR 0039)."""
        return ReportViews(self.store)

    @cached_property
    def read(self) -> ReadModel:
        """The store's read model: every query these views make goes through it."""
        return ReadModel(self.store.engine)

    @property
    def signatures(self) -> Signatures:
        """The charities' signatures of their entries, checked here (ADR 0037), in the
        signing domain of now (the API sets it once the chain's registry is known)."""
        return Signatures(self.store, self.read, self.signing_domain)

    @contextmanager
    def one_read(self) -> Iterator[PublicViews]:
        """These views on one connection and one read transaction (ADR 0044), for reads
        that must see one snapshot: a page's version and the page (ADR 0046)."""
        if in_one_transaction(self.store.engine):
            yield self
            return
        with one_transaction(self.store.engine) as engine:
            yield replace(self, store=Store(engine))

    def read_only(self, database_url: str | None = None) -> PublicViews:
        """These views on a read-only engine: the explorer's (DESIGN §2).

        Args:
            database_url: the explorer's own URL (on PostgreSQL, a SELECT-only role such
                as the one ``explorer.roles.grant_read_only_role`` creates); None opens the
                same database read-only (SQLite ``mode=ro``, PostgreSQL
                ``default_transaction_read_only``).
        """
        url = database_url or self.store.engine.url.render_as_string(hide_password=False)
        copy = PublicViews(
            store=Store(make_engine(url, read_only=True)),
            public_url=self.public_url,
            anchor_interval_s=self.anchor_interval_s,
            lasting_chain=self.lasting_chain,
            signing_domain=self.signing_domain,
        )
        self._copies.append(copy)  # made at the start: a handful per process
        return copy

    def _balances(
        self, *, charity_id: str | None = None, project_id: str | None = None
    ) -> list[models.Balance]:
        return listings.balances(self.read.balances(charity_id=charity_id, project_id=project_id))

    def charity_view(self, charity_id: str) -> models.CharityPublic:
        charity = self.read.charity(charity_id)
        projects = self.read.find(ProjectState, charity_id=charity_id)
        return from_state(
            models.CharityPublic,
            charity,
            projects=[from_state(models.ProjectSummary, p) for p in projects],
            balances=self._balances(charity_id=charity_id),
        )

    def project_view(self, project_id: str) -> models.ProjectPublic:
        project = self.read.project(project_id)
        charity = self.read.charity(project.charity_id)
        return from_state(
            models.ProjectPublic,
            project,
            charity_name=charity.name,
            balances=self._balances(project_id=project_id),
        )

    def _evidence_public(self, items: Sequence[Any]) -> list[models.EvidencePublic]:
        base = f"{self.public_url}/api/v1/evidence"
        return [
            models.EvidencePublic(
                sha256=item["sha256"],
                media_type=item["media_type"],
                public=item["public"],
                url=f"{base}/{item['sha256']}" if item["public"] else None,
            )
            for item in items
        ]

    def _disbursement_summary(
        self, disbursement: DisbursementState, entry: Entry, signature: models.SignaturePublic
    ) -> models.DisbursementSummary:
        return from_state(
            models.DisbursementSummary,
            disbursement,
            at=entry.at,
            evidence=self._evidence_public(entry.body["evidence"]),  # type: ignore[arg-type]
            signature=signature,
        )

    def signer_at(self, charity_id: str, seq: int) -> tuple[str | None, int | None]:
        """The charity's signer when entry ``seq`` was appended, and the entry that set it."""
        return self.signatures.signer_at(self.read.charity(charity_id), seq)

    def donation_view(self, donation_id: str) -> models.DonationPublic:
        read = self.read.donation_read(donation_id)
        donation, charity = read.donation, read.charity
        received = read.timeline[0]
        # Allocations fund only their own charity's disbursements (DESIGN §3.2): one signer.
        funded = [
            models.Funding(
                allocation_id=f.allocation.allocation_id,
                seq=f.allocation.seq,
                amount=f.allocation.amount,
                disbursement=self._disbursement_summary(
                    f.disbursement,
                    f.entry,
                    self.signatures.signature(f.entry, charity, read.signer_entry),
                ),
            )
            for f in read.funded
        ]
        refunds = [
            models.RefundPublic(
                seq=e.seq,
                at=e.at,
                amount=_int(e.body["amount"]),
                reason=str(e.body["reason"]),
            )
            for e in read.timeline
            if e.kind == "donation.refunded"
        ]
        commitment = received.body.get("donor_commitment")
        return from_state(
            models.DonationPublic,
            donation,
            recorded_at=received.at,
            charity_name=charity.name,
            project_title=read.project.title if read.project else None,
            donor_commitment=None if commitment is None else str(commitment),
            unspent=donation.available,
            status=self.status(donation.seq),
            funded=funded,
            refunds=refunds,
            timeline=[models.EntryRef(seq=e.seq, kind=e.kind, at=e.at) for e in read.timeline],
            matches=[listings.match_public(m) for m in read.matches],
            # Matched money: the match entry created it (ADR 0040).
            matched_by=listings.match_public(read.matched_by) if read.matched_by else None,
        )

    # -- matching funds (ADR 0040) -------------------------------------------------------

    def pool_view(self, pool_id: str) -> models.PoolPublic:
        """A matching pool: its rules and what it matched.

        Raises:
            NotFoundError: no such pool.
        """
        pool = self.read.require(PoolState, pool_id)
        matcher = self.read.require(MatcherState, pool.matcher_id)
        projects = []
        for project_id in pool.project_ids.split(" "):
            project = self.read.get(ProjectState, project_id)
            projects.append(
                models.PoolProject(id=project_id, title=project.title if project else project_id)
            )
        return from_state(
            models.PoolPublic,
            pool,
            opened_at=self.store.entry(pool.seq).at,
            matcher_name=matcher.name,
            projects=projects,
        )

    def pool_page(self, pool_id: str) -> models.PoolPage:
        """A matching pool's page: its rules, what it spent and its latest matches.

        Raises:
            NotFoundError: no such pool.
        """
        view = self.pool_view(pool_id)
        recent = self.read.pool_matches(pool_id, PAGE_MATCHES)
        return models.PoolPage(pool=view, recent_matches=[listings.match_public(m) for m in recent])

    def disbursement_view(self, disbursement_id: str) -> models.DisbursementPublic:
        disbursement = self.read.disbursement(disbursement_id)
        charity = self.read.charity(disbursement.charity_id)
        entry = self.store.entry(disbursement.seq)
        allocations = self.read.find(AllocationState, disbursement_id=disbursement_id)
        return from_state(
            models.DisbursementPublic,
            disbursement,
            at=entry.at,
            charity_name=charity.name,
            evidence=self._evidence_public(entry.body["evidence"]),  # type: ignore[arg-type]
            allocations=[listings.allocation_public(a) for a in allocations],
            timeline=[
                models.EntryRef(seq=e.seq, kind=e.kind, at=e.at)
                for e in self.store.entries_about(disbursement_id)
            ],
            signature=self.signatures.signature(entry, charity),
        )

    def next_anchor_due(self) -> datetime | None:
        """When the worker will anchor next, at the latest (None without a chain)."""
        if self.anchor_interval_s is None:
            return None
        latest = self.checkpoints.latest()
        base = latest.anchored_at if latest else datetime.now(UTC)
        return max(base + timedelta(seconds=self.anchor_interval_s), datetime.now(UTC))

    def status(self, seq: int) -> models.DonationStatus:
        """Where entry ``seq`` stands: recorded, or anchored by its first checkpoint.

        The first checkpoint that covers an entry says when it was put on chain (every
        later one covers it too, and would date a donation of June by today's block).
        """
        checkpoint = self.checkpoints.first_covering(seq)
        if checkpoint is None:
            return models.DonationStatus(
                state="recorded", checkpoint=None, next_anchor_due=self.next_anchor_due()
            )
        return models.DonationStatus(
            state="confirmed" if checkpoint.confirmed else "anchored",
            checkpoint=checkpoint_public(checkpoint),
            next_anchor_due=None,
        )

    # -- the explorer's pages ------------------------------------------------------------------

    def totals(self) -> models.Totals:
        """Counts and balances of the whole journal, per currency."""
        return listings.totals(self.read.totals(), entries=self.store.size())

    def recent_donations(
        self,
        limit: int = RECENT_DONATIONS,
        *,
        charity_id: str | None = None,
        project_id: str | None = None,
    ) -> list[models.DonationSummary]:
        """The latest donations (of a charity, or of one of its projects), newest first."""
        found = self.read.recent_donations(limit, charity_id=charity_id, project_id=project_id)
        return listings.donation_summaries(found)

    def disbursements(
        self, *, charity_id: str, project_id: str | None = None, limit: int = PAGE_DISBURSEMENTS
    ) -> list[models.DisbursementBrief]:
        """The latest disbursements of a charity (or of one of its projects), newest first."""
        found = self.read.disbursements(limit, charity_id=charity_id, project_id=project_id)
        return listings.disbursement_briefs(found)

    def fund_flows(
        self, *, charity_id: str, project_id: str | None = None
    ) -> list[models.FundFlow]:
        """Where the money of a charity (or project) went, one graph per currency."""
        return fund_flows(self.read.flow_sums(charity_id=charity_id, project_id=project_id))

    def charities_page(self, page: int = 1, limit: int = INDEX_PAGE) -> models.CharitiesPage:
        """Every charity, in the order they registered, ``limit`` a page.

        Raises:
            NotFoundError: no such page (past the last; page 1 always exists).
        """
        listing = self.read.charities(offset=(page - 1) * limit, limit=limit)
        return listings.charities_page(listing, page=page, limit=limit)

    def projects_page(self, page: int = 1, limit: int = INDEX_PAGE) -> models.ProjectsPage:
        """Every project, in the order they opened, ``limit`` a page.

        Raises:
            NotFoundError: no such page (past the last; page 1 always exists).
        """
        listing = self.read.projects(offset=(page - 1) * limit, limit=limit)
        return listings.projects_page(listing, page=page, limit=limit)

    def home_page(self) -> models.HomePage:
        """Totals, the latest donations and the latest checkpoint."""
        latest = self.checkpoints.latest()
        return models.HomePage(
            totals=self.totals(),
            recent_donations=self.recent_donations(),
            latest_checkpoint=checkpoint_public(latest) if latest else None,
            next_anchor_due=self.next_anchor_due(),
        )

    def charity_page(self, charity_id: str) -> models.CharityPage:
        """A charity, its projects and balances, where its money went, its latest activity.

        Raises:
            NotFoundError: no such charity.
        """
        return models.CharityPage(
            charity=self.charity_view(charity_id),
            flows=self.fund_flows(charity_id=charity_id),
            recent_donations=self.recent_donations(PAGE_DONATIONS, charity_id=charity_id),
            disbursements=self.disbursements(charity_id=charity_id),
            correction_notes=self.reports.correction_notes(charity_id=charity_id),
        )

    def project_page(self, project_id: str) -> models.ProjectPage:
        """A project, its balances, where its money went, its latest activity.

        Raises:
            NotFoundError: no such project.
        """
        project = self.project_view(project_id)
        return models.ProjectPage(
            project=project,
            flows=self.fund_flows(charity_id=project.charity_id, project_id=project_id),
            recent_donations=self.recent_donations(
                PAGE_DONATIONS, charity_id=project.charity_id, project_id=project_id
            ),
            disbursements=self.disbursements(charity_id=project.charity_id, project_id=project_id),
            correction_notes=self.reports.correction_notes(project_id=project_id),
        )

    def donation_page(self, donation_id: str) -> models.DonationPage:
        """A donation (the receipt's QR target), with where to fetch its proof.

        Raises:
            NotFoundError: no such donation.
        """
        donation = self.donation_view(donation_id)
        checkpoint = donation.status.checkpoint
        # Against the checkpoint it went on chain with, once that is settled: the bundle
        # never changes then, and every cache may keep it (ADR 0036).
        pinned = checkpoint.index if checkpoint and self.settled(checkpoint) else None
        return models.DonationPage(
            donation=donation,
            proof_url=urls.api_proof(donation_id, pinned),
            chain_url=urls.api_chain(),
            correction_notes=self.reports.donation_notes(donation_id),
        )

    def donation_version(self, donation_id: str) -> Hashable | None:
        """Everything ``donation_page`` is drawn from, as a value that stays equal exactly as
        long as the page drawn afresh stays the same, the clock aside (``page_until``);
        None: no such donation, or a page that reads the clock whatever it reads else (ADR
        0046). Read it in the page's transaction (``one_read``).

        The projections' part in one indexed query (``page_reads.DonationVersion``); the
        first checkpoint that covers the donation, whole (its status, the proof it pins);
        before one does, the latest, when the next anchor is due; these views' settings.
        """
        found = self.read.donation_version(donation_id)
        if found is None:
            return None
        first = self.checkpoints.first_covering(found.seq)
        latest = None
        if first is None and self.anchor_interval_s is not None:
            latest = self.checkpoints.latest()
            if latest is None:  # the next anchor is due an interval from now, always
                return None
        return (
            found,
            first,
            latest,
            self.signing_domain,
            self.lasting_chain,
            self.anchor_interval_s,
            self.public_url,
        )

    @staticmethod
    def page_until(page: models.DonationPage) -> datetime | None:
        """The moment ``page`` stops being what drawing it afresh gives, its version held:
        when its next anchor is due (``next_anchor_due`` is the clock's after that); None:
        no such moment."""
        return page.donation.status.next_anchor_due

    def disbursement_page(self, disbursement_id: str) -> models.DisbursementPage:
        """A disbursement: payee, purpose, evidence, the donations that funded it.

        Raises:
            NotFoundError: no such disbursement.
        """
        view = self.disbursement_view(disbursement_id)
        title = self.read.project(view.project_id).title if view.project_id else None
        return models.DisbursementPage(
            disbursement=view,
            project_title=title,
            correction_notes=self.reports.disbursement_notes(disbursement_id),
        )

    def checkpoints_page(
        self, before: int | None = None, limit: int = CHECKPOINTS_PER_PAGE
    ) -> models.CheckpointsPage:
        """Anchored checkpoints, newest first, each with its consistency with the one before.

        Each checkpoint's tree must extend the previous checkpoint's, verified here
        (``explorer.checkpoint_pages``).
        """
        return checkpoint_pages.checkpoints_page(self.store, self.checkpoints, before, limit)

    def entry_page(self, seq: int) -> models.EntryPage:
        """Entry ``seq`` exactly as stored and hashed, and the first checkpoint that covers it.

        The first covering checkpoint is when the entry went on chain, and, unlike the
        latest, it stays the same as the journal grows: once it is confirmed and the next
        entry exists, the page is settled (``settled``).

        The text is shown as stored, even if it no longer parses: this is where an
        auditor looks when something is wrong.

        Raises:
            NotFoundError: no such entry.
        """
        row = self.read.stored_entry(seq)
        if row is None:
            raise NotFoundError("entry", str(seq))
        canonical: str = row.leaf
        checkpoint = self.checkpoints.first_covering(seq)
        size = self.store.size()
        return models.EntryPage(
            seq=seq,
            kind=row.kind,
            at=format_at(row.at),
            actor=row.actor,
            canonical=canonical,
            leaf_hash=to_hex(merkle.leaf_hash(canonical.encode("utf-8"))),
            stored_leaf_hash=to_hex(row.leaf_hash),
            checkpoint=checkpoint_public(checkpoint) if checkpoint else None,
            next_anchor_due=None if checkpoint else self.next_anchor_due(),
            refs=listings.entry_refs(canonical),
            previous=seq - 1 if seq > 0 else None,
            next=seq + 1 if seq + 1 < size else None,
            signature=self.signatures.of_entry(seq, row.kind),
        )

    def settled(self, checkpoint: models.CheckpointPublic | None) -> bool:
        """Whether what rests on ``checkpoint`` can never change (ADR 0036).

        True when it is confirmed on a lasting chain: its row is then never rewritten
        (the anchor worker trusts confirmed rows; only a new chain or contract, an
        operator's deliberate act, would drop them).
        """
        return self.lasting_chain and checkpoint is not None and checkpoint.confirmed

    def entry_settled(self, page: models.EntryPage) -> bool:
        """Whether an entry's page can never change: its checkpoint is settled and the
        entry after it exists (the page links to it)."""
        return page.next is not None and self.settled(page.checkpoint)

    def search_page(self, q: str) -> models.SearchPage:
        """What a search box query names, exactly, or by name.

        Ids (``dn_…``, ``ch_…``, ``pr_…``, ``db_…``, ``al_…``) find that thing; a number,
        that entry; ``0x`` and 64 hex digits, the checkpoint anchored by that transaction
        or with that root; anything else, charities, projects and disbursements whose
        name, title or payee holds it. Ids are case-sensitive: the exact spelling is tried
        first, then the lowercase one the platform makes; hashes match in any letter case.
        """
        q = q.strip()[:200]
        results: list[models.SearchResult] = []
        # No name or id holds a NUL (PostgreSQL text cannot even be asked for one).
        if q and "\x00" not in q:
            results = search.search(self.store, self.read, self.checkpoints, q)
        return models.SearchPage(q=q, results=results)


# Every view and page reads in one transaction of its own, or of the view that called it.
for _name in [name for name in vars(PublicViews) if name.endswith(("_view", "_page"))]:
    setattr(PublicViews, _name, _one_transaction(getattr(PublicViews, _name)))


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
