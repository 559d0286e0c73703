"""Charities and their projects: registration (with the charity's key), projects, signers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from api import models
from api.errors import ApiError
from api.keys import Principal
from api.services.signatures import SignedWrites
from ledger.entries import Entry, registration_key
from ledger.errors import StoreError
from ledger.store.journal import Draft, new_id
from ledger.store.tables import CHARITY_REGISTRATION

if TYPE_CHECKING:  # api.witnesses imports the webhooks' URL check, which imports this
    pass


class CharityWrites(SignedWrites):
    """Registering charities, opening their projects, changing their signers."""

    def register_charity(
        self, body: models.CharityCreate, principal: Principal
    ) -> models.CharityCreated:
        """Register a charity and issue its API key (shown once)."""
        self.require_platform(principal)
        charity_id = new_id("ch")
        issued: list[str] = []
        number = registration_key(body.registration_no)
        if not number:
            raise ApiError(
                422,
                "invalid_field",
                "registration_no: has no letters or digits",
                field="registration_no",
            )
        self._refuse_taken_registration(number, body.registration_no)

        def issue_key(connection: Connection, _entries: list[Entry]) -> None:
            # The primary key refuses the number if a registration racing this one took it.
            connection.execute(
                CHARITY_REGISTRATION.insert().values(registration_key=number, charity_id=charity_id)
            )
            issued.append(
                self.keys.issue("charity", body.name, charity_id=charity_id, connection=connection)
            )

        try:
            result = self._append(
                [
                    Draft(
                        "charity.registered",
                        {
                            "charity_id": charity_id,
                            "name": body.name,
                            "registration_no": body.registration_no,
                            "signer": body.signer,
                        },
                    )
                ],
                alongside=issue_key,
            )
        except StoreError:
            self._refuse_taken_registration(number, body.registration_no)
            raise
        entry = result.entries[0]
        return models.CharityCreated(
            id=charity_id, seq=entry.seq, name=str(entry.body["name"]), api_key=issued[0]
        )

    def _refuse_taken_registration(self, number: str, registration_no: str) -> None:
        holder = self.read.registration_holder(number)
        if holder is not None:
            raise ApiError(
                409,
                "registration_taken",
                f"registration_no: charity {holder} is registered with {registration_no!r} "
                f"(compared as {number!r}: full-width forms, case, spaces and hyphens do not "
                "make another number); a registration number belongs to one charity",
                field="registration_no",
                charity_id=holder,
            )

    def open_project(
        self,
        charity_id: str,
        body: models.ProjectCreate,
        principal: Principal,
        key: str | None = None,
    ) -> models.ProjectPublic:
        """Open a project of ``charity_id``."""
        drafts = self._project_drafts(charity_id, body, principal)
        route = f"POST /charities/{charity_id}/projects"
        self._append_signed(route, charity_id, drafts, body, principal, key)
        return self.views.project_view(str(drafts[0].body["project_id"]))

    def prepare_project(
        self, charity_id: str, body: models.ProjectCreate, principal: Principal
    ) -> models.Prepared:
        return self._prepared(
            f"POST /charities/{charity_id}/projects",
            body,
            lambda body: (charity_id, self._project_drafts(charity_id, body, principal)),
        )

    def _project_drafts(
        self, charity_id: str, body: models.ProjectCreate, principal: Principal
    ) -> list[Draft]:
        self.require_charity(principal, charity_id)
        self.accept_currency(body.currency)
        self.charity(charity_id)
        return [
            Draft(
                "project.opened",
                {
                    "project_id": self._new_id("pr", charity_id, body.signed, 0),
                    "charity_id": charity_id,
                    "title": body.title,
                    "goal_amount": body.goal_amount,
                    "currency": body.currency,
                },
                actor=principal.actor,
            )
        ]

    def _signer_drafts(
        self, charity_id: str, body: models.SignerChange, principal: Principal
    ) -> list[Draft]:
        self.require_charity(principal, charity_id)
        charity = self.charity(charity_id)
        previous = charity.seq if charity.signer_seq is None else charity.signer_seq
        return [
            Draft(
                "charity.signer_changed",
                {
                    "charity_id": charity_id,
                    "signer": body.signer,
                    "previous_seq": previous,
                    "reason": body.reason,
                },
                actor=principal.actor,
            )
        ]

    def change_signer(
        self, charity_id: str, body: models.SignerChange, principal: Principal, key: str | None
    ) -> models.Recorded:
        """Replace (or revoke) a charity's signer: signed by the signer it replaces when the
        charity asks; the platform may do it unsigned (a lost key), and the journal says so."""
        drafts = self._signer_drafts(charity_id, body, principal)
        if self.signer_of(charity_id) is not None and (
            principal.role != "platform" or body.signed is not None
        ):
            drafts = self._signed(charity_id, drafts, body.signed)
        route = f"POST /charities/{charity_id}/signer"
        result = self._append(drafts, **self._idempotency(route, principal, key, body))
        return models.Recorded(id=charity_id, seqs=[e.seq for e in result.entries])

    def prepare_signer_change(
        self, charity_id: str, body: models.SignerChange, principal: Principal
    ) -> models.Prepared:
        return self._prepared(
            f"POST /charities/{charity_id}/signer",
            body,
            lambda body: (charity_id, self._signer_drafts(charity_id, body, principal)),
        )
