"""What every template sees besides its page: the names the pages give to codes (entry
kinds, payment channels, report statuses) and the helpers that format values.

``explorer.app`` puts ``TEMPLATE_GLOBALS`` in its Jinja environment once, at start.
"""

from __future__ import annotations

from typing import Any

from explorer import formatting, i18n, urls
from ledger.currencies import money
from ledger.entries import BODIES

ENTRY_KINDS = {kind: body.label for kind, body in BODIES.items()}
"""Entry kinds as the pages name them (messages of the catalog)."""
REF_KINDS = {
    "charity": "Charity",
    "project": "Project",
    "donation": "Donation",
    "disbursement": "Disbursement",
    "allocation": "Allocation",
    "pool": "Matching pool",
    "entry": "Entry",
    "checkpoint": "Checkpoint",
}
"""What an entry names, or a search found, as the pages name it."""
CHANNELS = {
    "alipay": "Alipay",
    "wechat_pay": "WeChat Pay",
    "wechat": "WeChat Pay",
    "card": "Bank card",
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "unionpay": "UnionPay",
    "match": "Matching funds",  # matched money (ADR 0040)
}
"""Payment channels as the pages name them; another code reads "Other channel" (the
code itself stays in the page's technical details)."""
REPORT_STATUSES = {
    "published": "Published",
    "published_late": "Published late",
    "due": "Due",
    "late": "Late",
    "upcoming": "In progress",
    "not_required": "Not required",
}
"""Where a disclosure report stands (ADR 0039), as the pages name it."""
REPORT_FIGURES = (
    ("Donations received", "received"),
    ("Refunded", "refunded"),
    ("Allocated to disbursements", "allocated"),
    ("Disbursed", "disbursed"),
)
"""A report's figures, in the order its table shows them (``ledger.disclosure.Flows``)."""


TEMPLATE_GLOBALS: dict[str, Any] = {
    "urls": urls,
    "money": money,
    "when": formatting.when,
    "iso": formatting.iso,
    "short_hash": formatting.short_hash,
    "languages": i18n.LANGUAGES,
    "language_names": i18n.LANGUAGE_NAMES,
    "entry_kinds": ENTRY_KINDS,
    "channels": CHANNELS,
    "ref_kinds": REF_KINDS,
    "status_names": REPORT_STATUSES,
    "figure_rows": REPORT_FIGURES,
}
"""The templates' globals that are the same for every explorer (``Explorer`` adds its
``asset`` URLs and the anchor contract's ``selector``)."""
