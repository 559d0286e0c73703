"""The audit report as one self-contained HTML page: no script, no external asset.

Every value from the journal or the chain is escaped (charity names are whatever a
charity registered, ``<script>`` included).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape

from audit.report import AuditReport, Balance, Check, amounts
from ledger.entries import to_hex

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;
margin:0 auto;max-width:72rem;padding:1rem;color:#1a1a1a}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
.verdict{padding:.8rem 1rem;border-radius:.4rem;font-weight:600}
.pass{background:#e6f4ea;color:#0d5a1f}.fail{background:#fdecea;color:#8a1c12}
.skip{background:#f1f1f1;color:#555}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.hash{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.badge{display:inline-block;min-width:3rem;text-align:center;border-radius:.3rem;
padding:0 .3rem;font-size:.85em}
ul.problems{margin:.3rem 0;padding-left:1.2rem}
td.check code{word-break:normal;white-space:nowrap}
@media (max-width:40rem){th,td{padding:.2rem .25rem;font-size:.9em}}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(status: str) -> str:
    label = {"pass": "pass", "fail": "FAIL", "skip": "skip"}.get(status, status)
    return f'<span class="badge {_e(status)}">{_e(label)}</span>'


def _rows(rows: Iterable[Iterable[str]]) -> str:
    return "".join("<tr>" + "".join(rows_cells) + "</tr>" for rows_cells in rows)


def _balance_cells(balance: Balance) -> list[str]:
    return [f"<td>{_e(balance.currency)}</td>"] + [
        f'<td class="num">{_e(amount)}</td>' for amount in amounts(balance)
    ]


_MONEY_HEAD = (
    "<th>currency</th><th>received</th><th>refunded</th><th>allocated</th>"
    "<th>disbursed</th><th>held</th>"
)


def _check_row(check: Check) -> list[str]:
    problems = ""
    if check.problems:
        items = "".join(
            f"<li><b>{_e(p.where)}</b>: {_e(p.detail)}</li>"
            for p in sorted(check.problems, key=lambda p: p.key)[:20]
        )
        more = (
            f"<li>… and {_e(f'{check.problem_count - 20:,}')} more</li>"
            if check.problem_count > 20
            else ""
        )
        problems = f'<ul class="problems">{items}{more}</ul>'
    return [
        f"<td>{_badge(check.status)}</td>",
        f'<td class="check"><code>{_e(check.name)}</code></td>',
        f"<td>{_e(check.title)}<br><small>{_e(check.summary)}</small>{problems}</td>",
    ]


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


def render_html(report: AuditReport) -> str:
    """The report as a complete HTML document (UTF-8, no external references).

    Args:
        report: what the audit found.

    Returns:
        The page's text.
    """
    failure = report.failure
    if failure is None:
        verdict = (
            f'<p class="verdict pass">PASSED: {_e(f"{report.entries:,}")} entries verified '
            f"against {_e(len(report.checkpoints))} anchored checkpoints.</p>"
        )
    else:
        verdict = (
            f'<p class="verdict fail">FAILED at {_e(failure.where)}: '
            f"<code>{_e(failure.check)}</code>: {_e(failure.detail)}</p>"
        )
    facts = [
        ("journal export", _e(report.journal)),
        ("entries", _e(f"{report.entries:,}")),
        ("Merkle root", f'<span class="hash">{_e(to_hex(report.root_hash))}</span>'),
        ("chain", f"{_e(report.chain_id)} via {_e(report.rpc)}, read at block {_e(report.block)}"),
        ("LedgerAnchor", f'<span class="hash">{_e(report.contract)}</span>'),
        (
            "CharityRegistry",
            f'<span class="hash">{_e(report.registry)}</span>' if report.registry else "—",
        ),
        ("kinds", _e(", ".join(f"{k} {v:,}" for k, v in sorted(report.kinds.items())) or "—")),
        ("audit time", _e(f"{report.elapsed_s:.1f} s")),
    ]
    checkpoints = _rows(
        [
            f'<td class="num">{_e(c.index)}</td>',
            f'<td class="num">{_e(f"{c.tree_size:,}")}</td>',
            f'<td class="hash">{_e(to_hex(c.root_hash))}</td>',
            f"<td>{_e(_when(c.anchored_at))}</td>",
            f"<td>{_badge('pass' if c.outcome == 'match' else 'fail')} {_e(c.outcome)}</td>",
        ]
        for c in report.checkpoints
    )
    totals = _rows(_balance_cells(b) for b in report.totals)
    charity_rows: list[list[str]] = []
    for charity in report.charities:
        registry = "not checked"
        if charity.registry is not None:
            record = charity.registry
            if not record.registered:
                registry = "NOT REGISTERED"
            elif record.revoked_at is not None:
                registry = f"revoked {_when(record.revoked_at)}"
            else:
                registry = "registered"
            if record.registered and not (record.metadata_matches and record.signer_matches):
                registry += ", RECORD DIFFERS"
        head = [
            f"<td>{_e(charity.name)}<br><code>{_e(charity.charity_id)}</code></td>",
            f'<td class="num">{_e(charity.seq)}</td>',
            f"<td>{_e(registry)}</td>",
            f'<td class="num">{_e(charity.projects)}</td>',
            f'<td class="num">{_e(charity.donations)}</td>',
        ]
        if not charity.balances:
            charity_rows.append(head + ["<td>—</td>"] * 6)
        for n, balance in enumerate(charity.balances):
            charity_rows.append((head if n == 0 else ["<td></td>"] * 5) + _balance_cells(balance))
    notes = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shanlian audit — {"passed" if report.ok else "FAILED"}</title>
<style>{_STYLE}</style></head>
<body>
<h1>善链 shanlian — audit of a journal export against the chain</h1>
{verdict}
<table>{_rows([f"<th>{_e(k)}</th>", f"<td>{v}</td>"] for k, v in facts)}</table>
<h2>Checks</h2>
<table><tr><th></th><th>check</th><th>what it verifies</th></tr>
{_rows(_check_row(c) for c in report.checks)}</table>
<h2>Checkpoints on chain</h2>
<table><tr><th>index</th><th>tree size</th><th>root on chain</th><th>anchored</th>
<th>export</th></tr>{checkpoints}</table>
<h2>Totals</h2>
<table><tr>{_MONEY_HEAD}</tr>{totals}</table>
<h2>Charities</h2>
<table><tr><th>charity</th><th>seq</th><th>on chain</th><th>projects</th><th>donations</th>
{_MONEY_HEAD}</tr>{_rows(charity_rows)}</table>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
<p><small>Generated by <code>shanlian audit</code>. Amounts are integers in minor
units. Only the chain and the published contract build were trusted.</small></p>
</body></html>
"""
