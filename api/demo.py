"""A realistic demo data set, recorded through the same services as the API.

Three charities (water cellars, rural schools, disaster relief) with two projects each,
months of donations from named and anonymous donors, fortnightly disbursements with
generated invoices (a private PDF and a public redacted image), a refund and a voided
disbursement, anchored weekly when a chain is at hand; with a chain, each quarter's
disclosure reports published once a checkpoint reaches past it, the voided disbursement's
quarter published again with its correction note, and one project closed (ADR 0039).
Ids, amounts and dates are repeatable for a given seed; receipt secrets are random, as
they must be.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from api import models
from api.demo_data import (
    AMOUNTS,
    CHANNELS,
    CHARITIES,
    GIVEN,
    SURNAMES,
    ProjectSpec,
    daily_counts,
    invoice_pdf,
    redacted_photo,
)
from api.disclosure import ProjectClose, ReportPublish, end_project, publish_report
from api.errors import ApiError
from api.keys import PLATFORM, Principal
from api.services import Services
from api.signing import signed_request
from chain.typed_data import address_of
from ledger.accounting import MATCH_CHANNEL, DisbursementState, DonationState, MatchState
from ledger.disclosure import quarter_of
from ledger.entries import parse_at
from ledger.store import projections
from ledger.store.official_receipts import OfficialReceipt, OfficialReceipts

if TYPE_CHECKING:
    from chain.embedded import EmbeddedChain


@dataclass
class DemoSummary:
    """What the demo recorded."""

    entries: int = 0
    charities: int = 0
    projects: int = 0
    donations: int = 0
    disbursements: int = 0
    refunds: int = 0
    voids: int = 0
    reports: int = 0
    """Disclosure reports published (ADR 0039), a corrected one included."""
    matches: int = 0
    pool_id: str = ""
    checkpoints: int = 0
    sample_receipts: list[str] = field(default_factory=list)


class _Clock:
    """Simulated time: the demo records months of history in a few seconds."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# -- the charities sign their fund use (ADR 0037) ---------------------------------------------

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass
class _Signers:
    """The demo charities' signing keys (repeatable for a seed; a real charity keeps its own
    in a keystore: ``shanlian charity keygen``). None: the demo runs without a chain, and
    nothing can be signed."""

    seed: int
    keys: dict[str, bytes] = field(default_factory=dict)
    enabled: bool = True

    def new_key(self, label: str) -> bytes:
        return hashlib.sha256(f"shanlian demo signer {label} {self.seed}".encode()).digest()

    def signed(self, prepared: models.Prepared, model: type[_Model]) -> _Model:
        """The request a prepare answered, signed with the charity's key."""
        request = signed_request(prepared.model_dump(), self.keys[prepared.charity_id])
        signed: _Model = model.model_validate(request)
        return signed


def _rotate(services: Services, signers: _Signers, charity_id: str, label: str) -> None:
    """The charity changes its signer to a new key, signed by the one it replaces (if any)."""
    key = signers.new_key(label)
    charity = Principal("charity", charity_id)
    change = models.SignerChange(
        signer=address_of(key), reason="年度密钥轮换 · yearly key rotation"
    )
    if charity_id in signers.keys:
        prepared = services.prepare_signer_change(charity_id, change, charity)
        change = signers.signed(prepared, models.SignerChange)
    else:
        change = change.model_copy(update={"reason": "开始签名 · the charity starts signing"})
    services.change_signer(charity_id, change, charity, f"demo-signer-{label}")
    signers.keys[charity_id] = key


def load_demo(
    services: Services,
    *,
    donations: int = 2000,
    days: int = 182,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Record the demo data set through ``services`` (anchoring weekly if it has a worker).

    Args:
        services: the service layer to record through.
        donations: how many donations, spread over ``days``.
        days: how far back the history starts.
        seed: makes names, amounts and dates repeatable.
        progress: called with the number of donations recorded so far.
    """
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not secrets
    # The history ends yesterday evening: the journal refuses entries dated ahead of the
    # clock, and one such entry would drag every later one into the future with it.
    # Days start at 08:00 in Beijing (00:00 UTC): donations come in until 18:00 there.
    start = (datetime.now(UTC) - timedelta(days=days + 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # The charities register an hour before the first donation, which may have been paid
    # up to 30 minutes before it is recorded (paid_at is never before registration).
    clock = _Clock(start - timedelta(hours=1))
    services.clock = clock
    summary = DemoSummary()
    size_before = services.store.size()
    embedded = _date_blocks_by(services, clock, start)
    try:
        projects: list[tuple[str, Principal, str, ProjectSpec]] = []
        # The first two charities sign from the start; the third starts signing halfway
        # through (its older entries stay unsigned), and the first rotates its key.
        signers = _Signers(seed, enabled=services.chain is not None)
        for number, charity_spec in enumerate(CHARITIES):
            key = signers.new_key(f"charity-{number}") if signers.enabled and number < 2 else None
            created = services.register_charity(
                models.CharityCreate(
                    name=charity_spec.name,
                    registration_no=charity_spec.registration_no,
                    signer=None if key is None else address_of(key),
                ),
                PLATFORM,
            )
            if key is not None:
                signers.keys[created.id] = key
            charity = Principal("charity", created.id)
            summary.charities += 1
            for project_spec in charity_spec.projects:
                body = models.ProjectCreate(
                    title=project_spec.title,
                    goal_amount=project_spec.goal_amount,
                    currency="CNY",
                )
                if created.id in signers.keys:
                    prepared = services.prepare_project(created.id, body, charity)
                    body = signers.signed(prepared, models.ProjectCreate)
                project = services.open_project(created.id, body, charity)
                projects.append((created.id, charity, project.id, project_spec))
                summary.projects += 1
        if services.worker is not None:
            services.worker.sync_registry()
        summary.pool_id = _matching_pool(services, start, days, projects)
        payers = random.Random(seed + 1)  # noqa: S311 - the main sequence stays as it was

        invoice_no = 1000
        quarters_over: list[str] = []  # to publish once a checkpoint reaches past them
        for day, count in enumerate(daily_counts(rng, donations, days)):
            morning = start + timedelta(days=day)
            if day and quarter_of(morning) != quarter_of(morning - timedelta(days=1)):
                quarters_over.append(quarter_of(morning - timedelta(days=1)))
            for i in range(count):
                charity_id, _charity, project_id, _spec = rng.choice(projects)
                clock.now = morning + timedelta(seconds=int(36_000 * (i + rng.random()) / count))
                anonymous = rng.random() < 0.3
                name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
                created_donation = services.record_donation(
                    models.DonationCreate(
                        charity_id=charity_id,
                        project_id=project_id if rng.random() < 0.75 else None,
                        amount=rng.choice(AMOUNTS),
                        currency="CNY",
                        channel=rng.choice(CHANNELS),
                        paid_at=clock.now - timedelta(minutes=rng.randint(1, 30)),
                        payment_ref=f"PAY-{clock.now:%Y%m%d}-{rng.randrange(10**8):08d}",
                        donor=models.DonorIn(
                            name=None if anonymous else name,
                            phone=None
                            if anonymous
                            else f"1{rng.randint(30, 89)}{rng.randrange(10**8):08d}",
                            anonymous=anonymous,
                        ),
                        payer_ref=f"wxpay-openid-{payers.randrange(400):04d}",
                    ),
                    PLATFORM,
                    key=f"demo-{seed}-{summary.donations}",
                )
                summary.donations += 1
                if not summary.sample_receipts:  # its donor sees the official e-receipt
                    _official_receipt(services, created_donation.id, charity_id, clock.now)
                summary.matches += len(created_donation.matches)
                if created_donation.matches and not summary.refunds:
                    # The demo's refund: a matched donation paid twice, returned at once;
                    # its match goes back to the pool first (match.reversed, ADR 0040).
                    services.refund(
                        created_donation.id,
                        models.RefundCreate(
                            amount=created_donation_amount(services, created_donation.id),
                            reason="重复扣款，已退回 · duplicate card payment, returned",
                        ),
                        PLATFORM,
                        key=f"demo-refund-{created_donation.id}",
                    )
                    summary.refunds += 1
                if len(summary.sample_receipts) < 3:
                    summary.sample_receipts.append(created_donation.receipt.url)
                if progress is not None:
                    progress(summary.donations)
            clock.now = morning + timedelta(hours=11)
            if signers.enabled and day == days // 2:
                _rotate(services, signers, projects[0][0], "charity-0-rotated")
                _rotate(services, signers, projects[-1][0], "charity-2")
                if services.worker is not None:
                    services.worker.sync_signers()
            if day % 14 == 13:
                for spending in projects:
                    invoice_no += 1
                    _disburse(services, rng, spending, invoice_no, clock.now, signers)
                    summary.disbursements += 1
            if day % 7 == 6 and services.worker is not None:
                services.worker.anchor_now()
                while quarters_over:  # the week's checkpoint reaches past the quarter
                    summary.reports += _publish(services, projects, quarters_over.pop(0))
        clock.now = start + timedelta(days=days, hours=12)
        services.close_pool(
            summary.pool_id,
            models.PoolClose(reason="配捐活动结束 · the giving days are over"),
            PLATFORM,
            key="demo-pool-close",
        )
        refunds, summary.voids = _corrections(services, rng, signers, refund=not summary.refunds)
        summary.refunds += refunds
        if not signers.enabled:
            # No chain, nothing signed: the third charity registers its signer for what
            # comes next (every kind of entry is in the demo all the same).
            _rotate(services, signers, projects[-1][0], "charity-2")
        if services.worker is not None:
            services.worker.anchor_now()
            summary.reports += _republish(services, projects)
        _close(services, projects[-1], clock)
        if services.worker is not None:
            services.worker.anchor_now()
            summary.checkpoints = len(services.checkpoints.all())
    finally:
        services.clock = None
        if embedded is not None:
            embedded.clock = None
    summary.entries = services.store.size() - size_before
    return summary


def _official_receipt(services: Services, donation_id: str, charity_id: str, now: datetime) -> None:
    """The official e-receipt the charity issued for a donation, attached a day later (ADR
    0041): the first sample receipt's page shows it beside the traceability receipt."""
    OfficialReceipts(services.store).attach(
        OfficialReceipt(
            donation_id=donation_id,
            version=1,
            charity_id=charity_id,
            code="53060126",
            number=f"{int(now.timestamp()) % 10**10:010d}",
            check_code="7C2E9A",
            reason=None,
            attached_by=f"charity:{charity_id}",
            attached_ms=int((now + timedelta(days=1)).timestamp() * 1000),
        )
    )


def _date_blocks_by(services: Services, clock: _Clock, start: datetime) -> EmbeddedChain | None:
    """On the embedded chain, date the demo's blocks by its clock, so that a checkpoint
    reads as anchored in the week it covers (not on the day the demo was loaded).

    Only for an empty journal: the embedded chain starts over from a genesis before the
    demo's history, with the contracts deployed again (blocks cannot go back in time).
    """
    chain = services.chain
    embedded = chain.embedded_chain if chain is not None else None
    if chain is None or embedded is None:
        return None
    if services.worker is None or services.store.size() or services.worker.checkpoints.all():
        return None  # a journal already under way: its blocks keep the wall clock's dates
    embedded.clock = clock
    embedded.restart(genesis_at=start - timedelta(days=1))
    chain.deploy()
    return embedded


def _disburse(
    services: Services,
    rng: random.Random,
    project: tuple[str, Principal, str, ProjectSpec],
    invoice_no: int,
    day: datetime,
    signers: _Signers,
) -> None:
    charity_id, charity, project_id, spec = project
    amount = rng.randrange(30, 120) * 10_000
    number = f"FP{day:%Y%m}{invoice_no:05d}"
    private = services.evidence.save_bytes(
        invoice_pdf(number, spec.payee_en, amount, day, spec.purpose.split(" · ")[-1]),
        media_type="application/pdf",
        charity_id=charity_id,
        filename=f"{number}.pdf",
    )
    public = services.evidence.save_bytes(
        redacted_photo(number, amount, day),
        media_type="image/png",
        charity_id=charity_id,
        filename=f"{number}-redacted.png",
    )
    body = models.DisbursementCreate(
        charity_id=charity_id,
        project_id=project_id,
        amount=amount,
        currency="CNY",
        payee=spec.payee,
        purpose=spec.purpose,
        evidence=[
            models.EvidenceIn(sha256="0x" + private.sha256.hex(), public=False),
            models.EvidenceIn(sha256="0x" + public.sha256.hex(), public=True),
        ],
        allocate="fifo",
    )
    if charity_id in signers.keys:
        body = signers.signed(
            services.prepare_disbursement(body, charity), models.DisbursementCreate
        )
    services.record_disbursement(body, charity, key=f"demo-{number}")


GIVING_DAYS = 3
"""The matching pool's window: three days, as 99 公益日 (ADR 0040)."""


def _matching_pool(
    services: Services,
    start: datetime,
    days: int,
    projects: list[tuple[str, Principal, str, ProjectSpec]],
) -> str:
    """A matcher and its pool over three giving days a month before the history ends:
    1:1, at most ¥100 a donation and ¥300 a payer a day, ¥1,500 in all (about what three
    days of the full demo's donations ask: it may run out)."""
    matcher = services.register_matcher(
        models.MatcherCreate(name="云岭科技有限公司", registration_no="91530100MA6K000001"),
        PLATFORM,
        key="demo-matcher",
    )
    opens = start + timedelta(days=max(0, days - 30))
    pool = services.open_pool(
        matcher.id,
        models.PoolCreate(
            title="九九公益日配捐 · Giving-day matching",
            currency="CNY",
            total=150_000,
            ratio_percent=100,
            cap_per_donation=10_000,
            cap_per_payer_per_day=30_000,
            min_interval_s=15,
            starts_at=opens,
            ends_at=opens + timedelta(days=GIVING_DAYS),
            day_offset_minutes=480,
            project_ids=[project_id for _charity, _principal, project_id, _spec in projects],
        ),
        PLATFORM,
        key="demo-pool",
    )
    return pool.id


def created_donation_amount(services: Services, donation_id: str) -> int:
    """A donation's amount, as recorded."""
    return services.read.donation(donation_id).amount


def _corrections(
    services: Services, rng: random.Random, signers: _Signers, *, refund: bool = True
) -> tuple[int, int]:
    """A refund of an untouched donation (unless one was refunded already), and a
    disbursement entered twice, voided."""
    refunds = voids = 0
    with services.connect() as connection:
        donations = projections.find(connection, DonationState)
        disbursements = projections.find(connection, DisbursementState, voided=False)
        matched = {m.donation_id for m in projections.find(connection, MatchState)}
    # Matched money goes back to its pool, not to a donor: it is not refunded; and the
    # refund picked is of a donation without a match (ADR 0040).
    donations = [
        d for d in donations if d.channel != MATCH_CHANNEL and d.donation_id not in matched
    ]
    untouched = [d for d in donations if d.allocated == 0 and d.refunded == 0]
    # A small demo may have spent every donation: then the unspent rest of one is refunded.
    partly = [d for d in donations if d.available > 0]
    if refund and (untouched or partly):
        donation = rng.choice(untouched or partly)
        services.refund(
            donation.donation_id,
            models.RefundCreate(
                amount=donation.available,
                reason="重复扣款，已退回 · duplicate card payment, returned",
            ),
            PLATFORM,
            key=f"demo-refund-{donation.donation_id}",
        )
        refunds += 1
    if disbursements:
        # A disbursement of a quarter whose report is published, when there is one: its
        # void is then a correction note on that report (ADR 0039).
        reported = {
            (entry.body["project_id"], entry.body["period"])
            for entry in services.views.read.entries_of_kind("report.published")
        }
        wrong = next(
            (
                d
                for d in reversed(disbursements)
                if (d.project_id, quarter_of(parse_at(services.store.entry(d.seq).at))) in reported
            ),
            disbursements[-1],
        )
        charity = Principal("charity", wrong.charity_id)
        reason = models.Reason(reason="发票重复录入 · invoice entered twice")
        if wrong.charity_id in signers.keys:
            prepared = services.prepare_void(wrong.disbursement_id, reason, charity)
            reason = signers.signed(prepared, models.Reason)
        services.void_disbursement(
            wrong.disbursement_id, reason, charity, key=f"demo-void-{wrong.disbursement_id}"
        )
        voids += 1
    return refunds, voids


# -- disclosure reports (ADR 0039) -------------------------------------------------------------


def _publish(
    services: Services,
    projects: list[tuple[str, Principal, str, ProjectSpec]],
    period: str,
    reason: str | None = None,
) -> int:
    """Each project's report of ``period``, published by its charity; how many were."""
    published = 0
    for charity_id, charity, project_id, _spec in projects:
        try:
            publish_report(
                services,
                charity_id,
                ReportPublish(project_id=project_id, period=period, reason=reason),
                charity,
            )
        except ApiError:  # e.g. the project opened after the quarter
            continue
        published += 1
    return published


def _republish(services: Services, projects: list[tuple[str, Principal, str, ProjectSpec]]) -> int:
    """After the void: the corrected quarter's report published again, with its reason."""
    voided = services.views.read.entries_of_kind("disbursement.voided")
    if not voided:
        return 0
    disbursement = services.views.read.disbursement(str(voided[-1].body["disbursement_id"]))
    period = quarter_of(parse_at(services.store.entry(disbursement.seq).at))
    corrected = [p for p in projects if p[2] == disbursement.project_id]
    reports = services.views.reports
    if not corrected or not any(
        p.period == period for p in reports.publications(reports.scope(corrected[0][2]))
    ):
        return 0
    return _publish(
        services,
        corrected,
        period,
        reason="更正：一张发票重复录入，已作废 · corrected: an invoice entered twice was voided",
    )


def _close(
    services: Services, project: tuple[str, Principal, str, ProjectSpec], clock: _Clock
) -> None:
    """The project closes at the end of the history: its final report is due (the schedule
    shows it)."""
    charity_id, charity, project_id, _spec = project
    clock.now += timedelta(minutes=30)
    end_project(
        services,
        charity_id,
        project_id,
        ProjectClose(reason="救灾阶段结束 · the relief phase is over"),
        charity,
    )
