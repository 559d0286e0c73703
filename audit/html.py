"""The audit report as one self-contained HTML page: no script, no external asset.

The page is the Jinja2 template ``audit/templates/report.html``, rendered with
autoescape on: every value from the journal or the chain is escaped (charity names are
whatever a charity registered, ``<script>`` included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from audit.report import AuditReport, Balance, RegistryRecord, amounts, count
from ledger.entries import to_hex

TEMPLATES = Path(__file__).resolve().parent / "templates"
SHOWN_PROBLEMS = 20
"""Problems the page lists per check (the JSON report keeps more, and counts all)."""


def _when(unix: int) -> str:
    """A block's Unix time in UTC; a time no date can hold (the chain said so) as it is."""
    try:
        moment = datetime.fromtimestamp(unix, UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return f"{unix} (Unix time)"
    # Not strftime: %Y writes years before 1000 with fewer than four digits on glibc.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} UTC"
    )


def _on_chain(record: RegistryRecord | None) -> str:
    """What the registry holds of a charity, in a few words."""
    if record is None:
        return "not checked"
    if not record.registered:
        return "NOT REGISTERED"
    status = "registered" if record.revoked_at is None else f"revoked {_when(record.revoked_at)}"
    if not (record.metadata_matches and record.signer_matches):
        status += ", RECORD DIFFERS"
    return status


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        auto_reload=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(count=count, hex=to_hex, when=_when, on_chain=_on_chain)
    environment.globals.update(
        SHOWN_PROBLEMS=SHOWN_PROBLEMS, no_balance=Balance("—"), amounts=amounts
    )
    return environment


def render_html(report: AuditReport) -> str:
    """The report as a complete HTML document (UTF-8, no external references).

    Args:
        report: what the audit found.

    Returns:
        The page's text.
    """
    return _environment().get_template("report.html").render(report=report) + "\n"
