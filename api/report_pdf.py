"""A disclosure report as PDF (ADR 0039): fpdf2, with a CJK font embedded as a subset.

Labels are in Chinese and English side by side (one file serves both readers); every
figure and hash is the report's own (``explorer.reports.ReportPage``), so the PDF's text
extracts back to the same numbers the page and the CSV show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from api.errors import ApiError
from explorer.reports import ReportPage
from ledger.disclosure import Correction

FONTS: tuple[tuple[Path, int], ...] = (
    # Debian's fonts-noto-cjk (scripts/setup installs it): index 2 of the collection is
    # Noto Sans CJK SC, simplified Chinese.
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
)
"""CJK fonts to embed, the first one found is used: (file, index in its collection)."""
FONT = "cjk"
STATUS = {True: "完整 complete", False: "未完整 incomplete: later entries may add to it"}


def font_file() -> tuple[Path, int]:
    """The CJK font to embed.

    Raises:
        ApiError: none is installed (503, naming the package).
    """
    for path, index in FONTS:
        if path.is_file():
            return path, index
    raise ApiError(
        503,
        "font_missing",
        "the PDF needs a CJK font: install Debian's fonts-noto-cjk (scripts/setup does)",
    )


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"shanlian · {self.page_no()}/{{nb}}", align="C")


def render(
    page: ReportPage,
    *,
    money: Callable[[int, str], str],
    parse_at: Callable[[str], datetime],
) -> bytes:
    """The report as PDF bytes (A4, the font subset embedded)."""
    report = page.report
    scope = report.scope
    path, index = font_file()
    pdf = _Document(format="A4")
    pdf.set_title(f"{scope.name} {report.period}")
    pdf.set_author(scope.charity_name)
    pdf.set_creator("shanlian")
    pdf.add_font(FONT, "", str(path), collection_font_number=index)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 9, height: float = 5.0) -> None:
        pdf.set_font(FONT, size=size)
        pdf.multi_cell(width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(text: str) -> None:
        pdf.ln(2)
        line(text, size=12, height=7)

    def section(title: str, lines: list[str], none: str | None = None) -> None:
        """A heading and a line each; when there are none, the line ``none`` or no section."""
        shown = lines or ([none] if none is not None else [])
        if shown:
            heading(title)
        for text in shown:
            line(text)

    def when(at: str) -> str:
        return parse_at(at).strftime("%Y-%m-%d %H:%M UTC")

    title = (
        "项目结项报告 Final report"
        if report.period == "final"
        else (f"项目进展报告 Progress report {report.period}")
    )
    line(title, size=16, height=9)
    line(scope.name, size=12, height=7)
    line(f"机构 Charity: {scope.charity_name} ({scope.charity_id})")
    if scope.project_id:
        line(f"项目 Project: {scope.project_id}")
    if report.period_start and report.period_end:
        line(
            f"期间 Period: {report.period_start[:10]} – {report.period_end[:10]} "
            "(北京时间, 不含结束日 Beijing time, end excluded)"
        )
    else:
        line("期间 Period: 项目全程 the project's whole life")
    line(f"账本条目 Journal entries: 0 – {report.tree_size - 1} ({report.tree_size})")
    line(f"检查点 Checkpoint #{page.checkpoint.index}, root {page.checkpoint.root_hash}", size=8)
    line(f"链 Chain {page.checkpoint.chain_id}, tx {page.checkpoint.tx_hash}", size=8)
    line(f"报告摘要 Digest: {report.digest}", size=8)
    line(f"状态 Status: {STATUS[report.complete]}")
    if page.publication is not None:
        line(f"发布 Published: {when(page.publication.at)}, entry #{page.publication.seq}")

    later = page.later_corrections
    section(
        "更正说明（本报告之后）Corrected after this report",
        [f"#{c.seq} {when(c.at)} {c.kind} {c.corrects}: {c.reason}" for c in later],
    )

    heading("资金 Figures")
    labels = (
        ("收到捐款 Donations received", "received"),
        ("退款 Refunded", "refunded"),
        ("已拨付使用 Allocated to disbursements", "allocated"),
        ("支出 Disbursed", "disbursed"),
    )
    columns = (width * 0.46, width * 0.27, width * 0.27)
    for cumulative in report.cumulative_flows or report.period_flows:
        currency = cumulative.currency
        period = next((f for f in report.period_flows if f.currency == currency), None)
        pdf.set_font(FONT, size=9)
        pdf.cell(columns[0], 6, currency, border="B")
        pdf.cell(columns[1], 6, "本期 This period", border="B", align="R")
        pdf.cell(columns[2], 6, "累计 Since the start", border="B", align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
        for label, field in labels:
            pdf.cell(columns[0], 6, label)
            pdf.cell(columns[1], 6, money(getattr(period, field) if period else 0, currency),
                     align="R")  # fmt: skip
            pdf.cell(columns[2], 6, money(getattr(cumulative, field), currency), align="R",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
        pdf.cell(columns[0] + columns[1], 6, "期末结余 Held at the end", border="T")
        pdf.cell(columns[2], 6, money(cumulative.held, currency), border="T", align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip

    section(
        "按用途 Disbursements by purpose",
        [f"{g.purpose}: {money(g.amount, g.currency)} ({g.count})" for g in report.categories],
    )

    heading("支出明细 Disbursements")
    if not report.disbursements:
        line("本期无支出 None in this period")
    for d in report.disbursements:
        voided = f" — 已作废 voided (#{d.voided_seq})" if d.voided_seq is not None else ""
        line(f"{when(d.at)} · {d.payee} · {money(d.amount, d.currency)}{voided}")
        line(f"{d.purpose} · {d.disbursement_id} · entry #{d.seq}", size=8)
        for e in d.evidence:
            line(f"凭证 evidence sha256 {e.sha256}", size=7, height=4)

    section(
        "退款 Refunds",
        [
            f"{when(r.at)} · {r.donation_id} · {money(r.amount, r.currency)}: {r.reason}"
            for r in report.refunds
        ],
    )

    def correction(c: Correction) -> str:
        amount = f" {money(c.amount, c.currency)}" if c.amount and c.currency else ""
        return f"#{c.seq} {when(c.at)} {c.kind} {c.corrects}{amount}: {c.reason}"

    corrections = [correction(c) for c in report.corrections]
    section("更正说明 Correction notes", corrections, none="无 None")

    heading("自行核验 Check it yourself")
    line(
        f"每个数字都由账本前 {report.tree_size} 条条目算出，其默克尔根已锚定在链上。"
        "Every figure derives from the "
        f"journal's first {report.tree_size} entries, whose Merkle root is anchored on chain: "
        "`shanlian audit-report` recomputes this report from an export.",
        size=8,
    )
    return bytes(pdf.output())
