"""Every URL of the explorer, in one place: templates, JSON twins and QR codes use these.

Paths are relative to the site's root (``/donations/dn_…``); ``absolute`` puts the public
base URL in front, for QR codes and receipts. A page's ``.json`` twin is the same path
with ``.json`` appended (the home page's twin is ``/.json``).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

API = "/api/v1"
STATIC = "/static"
JSON_SUFFIX = ".json"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _twin(path: str, json: bool) -> str:
    return path + JSON_SUFFIX if json else path


def home(*, json: bool = False) -> str:
    """The home page: totals, recent donations, the latest checkpoint."""
    return "/.json" if json else "/"


def _paged(path: str, page: int | None) -> str:
    return f"{path}?{urlencode({'page': page})}" if page is not None and page > 1 else path


def charities(*, json: bool = False, page: int | None = None) -> str:
    """Every charity, a page at a time."""
    return _paged(_twin("/charities", json), page)


def projects(*, json: bool = False, page: int | None = None) -> str:
    """Every project, a page at a time."""
    return _paged(_twin("/projects", json), page)


def charity(charity_id: str, *, json: bool = False) -> str:
    """A charity's page."""
    return _twin(f"/charities/{_segment(charity_id)}", json)


def project(project_id: str, *, json: bool = False) -> str:
    """A project's page."""
    return _twin(f"/projects/{_segment(project_id)}", json)


def pool(pool_id: str, *, json: bool = False) -> str:
    """A matching pool's page: its rules and what it matched (ADR 0040)."""
    return _twin(f"/pools/{_segment(pool_id)}", json)


def donation(donation_id: str, *, json: bool = False) -> str:
    """A donation's page: the receipt's QR code leads here."""
    return _twin(f"/donations/{_segment(donation_id)}", json)


def disbursement(disbursement_id: str, *, json: bool = False) -> str:
    """A disbursement's page."""
    return _twin(f"/disbursements/{_segment(disbursement_id)}", json)


# -- disclosure reports (ADR 0039) ----------------------------------------------------------


def reports(scope_id: str, *, json: bool = False) -> str:
    """A project's or a charity's disclosure reports and their schedule."""
    return _twin(f"/reports/{_segment(scope_id)}", json)


def report(scope_id: str, period: str, *, json: bool = False, at: int | None = None) -> str:
    """One report (``period``: ``2026-Q3`` or ``final``), as of the checkpoint of size ``at``
    (default: its latest publication's, else the latest anchored one)."""
    path = _twin(f"/reports/{_segment(scope_id)}/{_segment(period)}", json)
    return f"{path}?{urlencode({'at': at})}" if at is not None else path


def api_report_file(scope_id: str, period: str, form: str, at: int) -> str:
    """A report as a file: ``form`` is ``csv`` or ``pdf``."""
    query = urlencode({"at": at})
    return f"{API}/reports/{_segment(scope_id)}/{_segment(period)}.{form}?{query}"


# -- end of disclosure reports ---------------------------------------------------------------


def checkpoints(*, json: bool = False, before: int | None = None) -> str:
    """The anchored checkpoints, newest first (``before``: the page older than that index)."""
    path = _twin("/checkpoints", json)
    return f"{path}?{urlencode({'before': before})}" if before is not None else path


def checkpoint(index: int) -> str:
    """One checkpoint, as an anchor on the checkpoints page."""
    return f"/checkpoints#checkpoint-{index}"


def entry(seq: int, *, json: bool = False) -> str:
    """One journal entry, exactly as hashed."""
    return _twin(f"/entries/{seq}", json)


def my() -> str:
    """The donor's own list of donations, kept in their browser only."""
    return "/my"


def search(q: str | None = None, *, json: bool = False) -> str:
    """The search page (with a query, its results)."""
    path = _twin("/search", json)
    return f"{path}?{urlencode({'q': q})}" if q else path


def static(name: str) -> str:
    """A file of ``explorer/static``."""
    return f"{STATIC}/{name}"


_LEADING_SLASHES = re.compile(r"^[/\\\s]+")


def local(path: str) -> str:
    """``path`` (a request's, decoded) as a link that stays on this site.

    One leading slash, whatever the request had: ``//evil.example/x`` or ``/\\evil`` would
    be a scheme-relative link to another host (browsers read a backslash as a slash,
    and drop tabs and newlines). The rest is percent-encoded, so neither a backslash, a
    control character nor a quote reaches the link as it is.
    """
    rest = _LEADING_SLASHES.sub("", path)
    return "/" + quote(rest, safe="/:@!$&'()*+,;=-._~")


def with_language(path: str, language: str) -> str:
    """``path`` with ``?lang=`` set, to switch the language (the choice is kept in a cookie)."""
    separator = "&" if "?" in path else "?"
    return f"{path}{separator}{urlencode({'lang': language})}"


# -- the API, which the explorer's pages link to and the verifier fetches -------------------


def api_proof(donation_id: str, checkpoint: int | None = None) -> str:
    """The donation's proof bundle (DESIGN §6): against its latest checkpoint, or the one
    with index ``checkpoint`` (settled once that is confirmed, ADR 0036)."""
    url = f"{API}/donations/{_segment(donation_id)}/proof"
    return url if checkpoint is None else f"{url}?checkpoint={checkpoint}"


def api_official_receipt_reveal(donation_id: str) -> str:
    """The donation's official e-receipt for its donor, asked with the receipt code (POST)."""
    return f"{API}/donations/{_segment(donation_id)}/official-receipt/reveal"


def api_transfer_qr() -> str:
    """The QR code of a link that moves a donor's list to another device (POST)."""
    return f"{API}/receipts/transfer-qr"


def api_chain() -> str:
    """Chain id, contract addresses and a JSON-RPC URL a browser may use."""
    return f"{API}/chain"


def api_consistency(first: int, second: int) -> str:
    """The consistency proof between two tree sizes."""
    return f"{API}/checkpoints/consistency?{urlencode({'first': first, 'second': second})}"


def api_journal(after: int | None = None, limit: int = 1000) -> str:
    """The journal as JSON Lines, exactly as hashed."""
    query = {"limit": limit} if after is None else {"after": after, "limit": limit}
    return f"{API}/entries?{urlencode(query)}"


# -- absolute URLs ---------------------------------------------------------------------------


def absolute(public_url: str, path: str) -> str:
    """``path`` under the public base URL (for QR codes, receipts, links shared elsewhere)."""
    return public_url.rstrip("/") + path


def receipt(public_url: str, donation_id: str, secret: bytes) -> str:
    """What a receipt's QR code holds: the donation page, the secret in the fragment.

    The fragment (``#s=<32 hex>``) is never sent to any server; the page's script reads
    it to show the donor that the donation is theirs.
    """
    return f"{absolute(public_url, donation(donation_id))}#s={secret.hex()}"
