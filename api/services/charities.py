"""Charities and their projects: registration (with the charity's key), projects, signers."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from api import models
from api.errors import ApiError
from api.keys import Principal
from api.services.signatures import SignableRequest, SignedWrites, preparing
from ledger.entries import Entry, registration_key
from ledger.errors import StoreError
from ledger.store.requests import Draft, new_id
from ledger.store.tables import CHARITY_REGISTRATION


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
                        {"charity_id": charity_id}
                        | body.model_dump(include={"name", "registration_no", "signer"}),
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
        request = self._project_request(charity_id, body, principal)
        self._append_signed(request, body, principal, key)
        return self.views.project_view(str(request.drafts[0].body["project_id"]))

    def _project_request(
        self, charity_id: str, body: models.ProjectCreate, principal: Principal
    ) -> SignableRequest:
        self.require_charity(principal, charity_id)
        self.accept_currency(body.currency)
        self.charity(charity_id)
        project_id = self._new_id("pr", charity_id, body.signed, 0)
        opened = {"project_id": project_id, "charity_id": charity_id}
        opened |= body.model_dump(include={"title", "goal_amount", "currency"})
        return SignableRequest(
            f"POST /charities/{charity_id}/projects",
            charity_id,
            [Draft("project.opened", opened, actor=principal.actor)],
        )

    def change_signer(
        self, charity_id: str, body: models.SignerChange, principal: Principal, key: str | None
    ) -> models.Recorded:
        """Replace (or revoke) a charity's signer: signed by the signer it replaces when the
        charity asks; the platform may do it unsigned (a lost key), and the journal says so."""
        request = self._signer_request(charity_id, body, principal)
        if self.signer_of(charity_id) is None or (
            principal.role == "platform" and body.signed is None
        ):
            result = self._append(
                request.drafts, **self._idempotency(request.route, principal, key, body)
            )
        else:
            result = self._append_signed(request, body, principal, key)
        return models.Recorded(id=charity_id, seqs=[e.seq for e in result.entries])

    def _signer_request(
        self, charity_id: str, body: models.SignerChange, principal: Principal
    ) -> SignableRequest:
        self.require_charity(principal, charity_id)
        charity = self.charity(charity_id)
        previous = charity.seq if charity.signer_seq is None else charity.signer_seq
        changed = {"charity_id": charity_id, "previous_seq": previous}
        changed |= body.model_dump(include={"signer", "reason"})
        return SignableRequest(
            f"POST /charities/{charity_id}/signer",
            charity_id,
            [Draft("charity.signer_changed", changed, actor=principal.actor)],
        )

    prepare_project = preparing(_project_request)
    """``prepare_project(charity_id, body, principal)``: what the charity signs to open it."""

    prepare_signer_change = preparing(_signer_request)
    """``prepare_signer_change(charity_id, body, principal)``: what the current signer signs."""
