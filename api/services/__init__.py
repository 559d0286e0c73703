"""The service layer: every write of the API, on the store and the chain.

Routes parse and authorize; these functions own the logic (STYLE.md habit 6), and the
CLI and the demo call the same ones. The reads (lookups, proofs, exports) are in
``api.reads``, the base of ``Services``; they ask the store's read model (ADR 0026).

``Services`` is one object made of a part per resource: ``charities`` (and projects and
signers), ``donations`` (and receipts and refunds), ``matching``, ``fund_use``
(disbursements and allocations); ``signatures`` is how charities sign their writes, and
``base`` what all of them share.
"""

from api.services.base import REGISTRATIONS_KEPT, ServiceCore, idempotency_key, request_hash
from api.services.charities import CharityWrites
from api.services.donations import DonationWrites
from api.services.fund_use import FIFO_PLAN_LIMIT, FundUseWrites
from api.services.matching import MatchingWrites


class Services(CharityWrites, DonationWrites, MatchingWrites, FundUseWrites):
    """Everything the API, the CLI and the worker share, built once per process."""


__all__ = [
    "FIFO_PLAN_LIMIT",
    "REGISTRATIONS_KEPT",
    "ServiceCore",
    "Services",
    "idempotency_key",
    "request_hash",
]
