"""Disclosure reports through the API and the explorer (ADR 0039): publish, close, the
schedule, correction notes, the CSV and the PDF."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.app import create_app
from audit import cli as audit_cli
from chain.devnet import free_port
from ledger.disclosure import report_digest
from tests.api.conftest import Api, bearer, new_key
from tests.serving import local_service, serve

T0 = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)


class Clock:
    """The journal's clock, moved by the test (the demo's way of writing the past)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    return build_world(api)


def build_world(api: Api) -> dict[str, Any]:
    """A project with a donation and a disbursement in 2026-Q1, the disbursement voided in
    Q2 (a correction of Q1), a donation in Q3, and everything anchored."""
    clock = Clock(T0)
    api.services.clock = clock
    charity_id, auth = api.register_charity()
    project_id = api.open_project(charity_id, auth)
    clock.now = datetime(2026, 2, 20, tzinfo=UTC)
    donation = api.donate(charity_id, project_id, 10_000, paid_at="2026-02-19T08:00:00Z")
    clock.now = datetime(2026, 3, 5, tzinfo=UTC)
    sha = api.upload(auth)
    disbursement = api.disburse(
        charity_id,
        project_id,
        auth,
        6_000,
        evidence=[{"sha256": sha, "public": True}],
        allocate="fifo",
    )
    clock.now = datetime(2026, 4, 8, tzinfo=UTC)
    voided = api.client.post(
        f"/api/v1/disbursements/{disbursement['id']}/void",
        json={"reason": "发票开错已作废重开"},
        headers=auth | new_key(),
    )
    assert voided.status_code == 201, voided.text
    clock.now = datetime(2026, 7, 3, tzinfo=UTC)
    api.donate(charity_id, project_id, 2_500, paid_at="2026-07-02T08:00:00Z")
    api.anchor()
    return {
        "clock": clock,
        "charity_id": charity_id,
        "project_id": project_id,
        "auth": auth,
        "donation_id": donation["id"],
        "disbursement_id": disbursement["id"],
        "sha": sha,
    }


def publish(api: Api, world: dict[str, Any], **body: Any) -> Any:
    return api.client.post(
        f"/api/v1/charities/{world['charity_id']}/reports",
        json={"project_id": world["project_id"]} | body,
        headers=world["auth"],
    )


def test_a_quarter_report_is_computed_from_the_journal_at_an_anchored_checkpoint(
    api: Api, world: dict[str, Any]
) -> None:
    page = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    report = page["report"]
    assert report["tree_size"] == page["checkpoint"]["tree_size"] == api.store.size()
    assert report["complete"] is True
    (flows,) = report["period_flows"]
    assert (flows["received"], flows["disbursed"], flows["allocated"]) == (10_000, 6_000, 6_000)
    (line,) = report["disbursements"]
    assert line["evidence"] == [{"sha256": world["sha"], "public": True}]
    assert line["voided_seq"] is not None
    # The void in Q2 corrects Q1: a correction note on Q1's report, with its reason.
    (note,) = [c for c in report["corrections"] if c["kind"] == "disbursement.voided"]
    assert note["reason"] == "发票开错已作废重开"
    assert note["corrected_period"] == "2026-Q1"
    q2 = api.client.get(f"/reports/{world['project_id']}/2026-Q2.json").json()["report"]
    (flows,) = q2["period_flows"]
    assert (flows["disbursed"], flows["voided"], flows["allocated"]) == (-6_000, 6_000, -6_000)
    (cumulative,) = q2["cumulative_flows"]
    assert cumulative["received"] - cumulative["refunded"] - cumulative["allocated"] == 10_000


def test_publishing_anchors_the_digest_and_a_second_publication_needs_a_reason(
    api: Api, world: dict[str, Any]
) -> None:
    answer = publish(api, world, period="2026-Q1")
    assert answer.status_code == 201, answer.text
    published = answer.json()
    entry = api.store.entry(published["seq"])
    assert entry.kind == "report.published"
    assert entry.body["digest"] == published["digest"]
    page = api.client.get(published["url"] + "&lang=en")
    assert page.status_code == 200
    twin = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    assert twin["publication"]["seq"] == published["seq"]
    assert twin["digest_matches"] is True
    again = publish(api, world, period="2026-Q1")
    assert (again.status_code, again.json()["code"]) == (409, "already_published")
    api.anchor()
    again = publish(api, world, period="2026-Q1")
    assert (again.status_code, again.json()["code"]) == (422, "reason_required")
    again = publish(api, world, period="2026-Q1", reason="重新核对了发票")
    assert again.status_code == 201, again.text
    # The report page lists both publications, the second with its reason, each a link to
    # the report at its own checkpoint.
    html = api.client.get(f"/reports/{world['project_id']}/2026-Q1?lang=en").text
    assert "Publications of this period" in html
    assert "重新核对了发票" in html
    assert f"at={published['tree_size']}" in html
    twin = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    assert [p["reason"] for p in twin["publications"]] == [None, "重新核对了发票"]
    assert twin["report"]["tree_size"] == again.json()["tree_size"]  # the latest publication's


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"period": "2026-Q4"}, 422, "period_not_over"),
        ({"period": "2026-Q5"}, 422, "invalid_field"),
        ({"period": "final"}, 422, "project_not_closed"),
        ({"period": "2026-Q1", "project_id": "pr_nosuchproject"}, 404, "not_found"),
    ],
)
def test_a_report_that_cannot_be_published_is_refused_and_nothing_is_stored(
    api: Api, world: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    size = api.store.size()
    answer = publish(api, world, **body)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert api.store.size() == size


def test_another_charity_may_not_publish_or_close(api: Api, world: dict[str, Any]) -> None:
    _, other = api.register_charity("另一家机构")
    answer = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/reports",
        json={"project_id": world["project_id"], "period": "2026-Q1"},
        headers=other,
    )
    assert answer.status_code == 403
    answer = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/projects/{world['project_id']}/close",
        json={"reason": "done"},
        headers=other,
    )
    assert answer.status_code == 403


def test_closing_a_project_makes_its_final_report_due_and_publishable(
    api: Api, world: dict[str, Any]
) -> None:
    world["clock"].now = datetime(2026, 8, 15, tzinfo=UTC)
    closed = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/projects/{world['project_id']}/close",
        json={"reason": "课本已全部送达"},
        headers=world["auth"],
    )
    assert closed.status_code == 200, closed.text
    again = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/projects/{world['project_id']}/close",
        json={"reason": "twice"},
        headers=world["auth"],
    )
    assert again.status_code == 422
    api.anchor()
    answer = publish(api, world, period="final")
    assert answer.status_code == 201, answer.text
    schedule = api.client.get(f"/reports/{world['project_id']}.json").json()["schedule"]
    final = schedule[-1]
    assert (final["period"], final["due_by"], final["status"]) == (
        "final",
        "2026-11-15",
        "published",
    )


def test_the_schedule_says_which_reports_are_due_or_late(api: Api, world: dict[str, Any]) -> None:
    page = api.client.get(f"/reports/{world['project_id']}.json").json()
    rows = {row["period"]: row for row in page["schedule"]}
    # Opened 10 Feb 2026: by 30 Apr (Q1's deadline) it had lasted under six months, so Q1
    # and Q2 (due 31 Jul, 5.7 months) are not required; Q3 is (due 31 Oct, 8.7 months).
    assert rows["2026-Q1"]["required"] is False
    assert rows["2026-Q2"]["required"] is False
    assert rows["2026-Q3"]["required"] is True
    assert rows["2026-Q3"]["due_by"] == "2026-10-31"
    # The wall clock (December 2026) says how they stand now.
    assert rows["2026-Q3"]["status"] == "late"
    assert rows["2026-Q4"]["status"] == "upcoming"
    html = api.client.get(f"/reports/{world['project_id']}?lang=zh-CN").text
    assert "逾期" in html
    assert "信息公开报告" in html


def test_correction_notes_are_on_every_page_the_correction_affects(
    api: Api, world: dict[str, Any]
) -> None:
    reason = "发票开错已作废重开"
    for path in (
        f"/projects/{world['project_id']}",
        f"/charities/{world['charity_id']}",
        f"/disbursements/{world['disbursement_id']}",
        f"/donations/{world['donation_id']}",  # the donation whose money it had used
        f"/reports/{world['project_id']}",
        f"/reports/{world['project_id']}/2026-Q1",
        f"/reports/{world['project_id']}/2026-Q2",
    ):
        page = api.client.get(path + "?lang=zh-CN")
        assert page.status_code == 200, path
        assert reason in page.text, path
        assert "更正说明" in page.text, path
    twin = api.client.get(f"/donations/{world['donation_id']}.json").json()
    assert [n["kind"] for n in twin["correction_notes"]] == [
        "allocation.reversed",
        "disbursement.voided",
    ]
    assert {n["reason"] for n in twin["correction_notes"]} == {reason}
    # A donation whose money nothing corrected carries no notes.
    untouched = api.donate(
        world["charity_id"], world["project_id"], 100, paid_at="2026-07-02T09:00:00Z"
    )
    assert api.client.get(f"/donations/{untouched['id']}.json").json()["correction_notes"] == []


def test_a_report_published_before_a_correction_shows_it_as_corrected_later(
    api: Api, world: dict[str, Any]
) -> None:
    # Q3's report published, then a refund... no: a void of a Q3 disbursement in Q4.
    clock = world["clock"]
    clock.now = datetime(2026, 7, 10, tzinfo=UTC)
    made = api.disburse(world["charity_id"], world["project_id"], world["auth"], 1_000)
    clock.now = datetime(2026, 10, 2, tzinfo=UTC)
    api.donate(world["charity_id"], world["project_id"], 100, paid_at="2026-10-01T08:00:00Z")
    api.anchor()
    published = publish(api, world, period="2026-Q3").json()
    voided = api.client.post(
        f"/api/v1/disbursements/{made['id']}/void",
        json={"reason": "重复记账"},
        headers=world["auth"] | new_key(),
    )
    assert voided.status_code == 201
    api.anchor()
    page = api.client.get(f"/reports/{world['project_id']}/2026-Q3.json").json()
    assert page["report"]["tree_size"] == published["tree_size"]  # the published one
    assert [c["reason"] for c in page["later_corrections"]] == ["重复记账"]
    html = api.client.get(f"/reports/{world['project_id']}/2026-Q3?lang=en").text
    assert "Corrected after this report" in html


def test_the_csv_holds_the_figures_and_neutralizes_formulas(
    api: Api, world: dict[str, Any]
) -> None:
    page = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    answer = api.client.get(page["csv_url"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert ["digest", page["report"]["digest"]] in rows
    period = next(r for r in rows if r[:2] == ["period", "CNY"])
    assert period[2] == "10000"
    assert any(r and r[0] == "correction" and r[-1] == "发票开错已作废重开" for r in rows)


def test_a_payee_that_looks_like_a_formula_is_text_in_the_csv(
    api: Api, world: dict[str, Any]
) -> None:
    world["clock"].now = datetime(2026, 7, 5, tzinfo=UTC)
    api.disburse(
        world["charity_id"], world["project_id"], world["auth"], 100, payee="=HYPERLINK(1)"
    )
    api.anchor()
    url = api.client.get(f"/reports/{world['project_id']}/2026-Q3.json").json()["csv_url"]
    text = api.client.get(url).content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text


def test_the_pdf_embeds_its_cjk_font_and_its_text_extracts_back(
    api: Api, world: dict[str, Any]
) -> None:
    page = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    answer = api.client.get(page["pdf_url"])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    # pypdf reads fpdf2's two-byte glyph codes with a NUL between characters: drop them.
    text = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in reader.pages))
    for expected in ("项目进展报告", "收到捐款", "¥100.00", "¥60.00", page["report"]["digest"]):
        assert expected in text, expected
    assert "发票开错已作废重开" in text
    fonts = [font.get_object() for p in reader.pages for font in p["/Resources"]["/Font"].values()]
    descendants = [d.get_object() for font in fonts for d in font.get("/DescendantFonts", [])]
    descriptors = [d["/FontDescriptor"].get_object() for d in descendants]
    assert descriptors
    assert all("/FontFile2" in d or "/FontFile3" in d or "/FontFile" in d for d in descriptors)
    # A subset: the embedded font is far smaller than the 20 MB collection.
    assert len(answer.content) < 400_000


def test_report_files_and_pages_of_what_does_not_exist_are_404(
    api: Api, world: dict[str, Any]
) -> None:
    for path in (
        "/reports/pr_nosuch",
        f"/reports/{world['project_id']}/2026-Q9",
        f"/reports/{world['project_id']}/final",
        f"/reports/{world['project_id']}/2026-Q1?at=3",
        f"/api/v1/reports/{world['project_id']}/2026-Q9.csv",
        f"/api/v1/reports/{world['project_id']}/2026-Q1.pdf?at=2",
    ):
        assert api.client.get(path).status_code == 404, path


# -- the audit recomputes a report ---------------------------------------------------------


def _export(api: Api, path: Path) -> Path:
    path.write_bytes(b"".join(leaf + b"\n" for leaf in api.store.leaves()))
    return path


def _audit(tmp_path: Path, document: dict[str, Any], export: Path) -> tuple[int, str]:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = audit_cli.main(["audit-report", str(report), "--journal", str(export)])
    return status, out.getvalue()


def test_the_audit_recomputes_a_report_from_an_export_and_says_it_matches(
    api: Api, world: dict[str, Any], tmp_path: Path
) -> None:
    document = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    status, out = _audit(tmp_path, document, _export(api, tmp_path / "journal.jsonl"))
    assert status == 0, out
    assert "MATCHES" in out
    assert document["report"]["digest"] in out


def test_the_audit_catches_a_tampered_figure_even_with_a_matching_digest(
    api: Api, world: dict[str, Any], tmp_path: Path
) -> None:
    document = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    export = _export(api, tmp_path / "journal.jsonl")
    report = document["report"]
    report["period_flows"][0]["received"] += 100  # ¥1 more received than the journal says
    status, out = _audit(tmp_path, document, export)
    assert status == 1
    assert "differs from the journal: period_flows[0].received" in out
    assert "digest is not the digest of its own figures" in out
    # A forger who also recomputes the digest is caught all the same.
    report["digest"] = report_digest({k: v for k, v in report.items() if k != "digest"})
    status, out = _audit(tmp_path, document, export)
    assert status == 1
    assert "period_flows[0].received" in out
    assert "digest" in out  # the recomputed digest differs too


def test_the_audit_refuses_an_export_whose_root_is_not_the_checkpoints(
    api: Api, world: dict[str, Any], tmp_path: Path
) -> None:
    document = api.client.get(f"/reports/{world['project_id']}/2026-Q1.json").json()
    lines = [leaf + b"\n" for leaf in api.store.leaves()]
    # An export written again with one amount changed: canonical, but not the anchored journal.
    lines[2] = lines[2].replace(b'"amount":10000', b'"amount":10001')
    assert b"10001" in lines[2]
    export = tmp_path / "forged.jsonl"
    export.write_bytes(b"".join(lines))
    status, out = _audit(tmp_path, document, export)
    assert status == 1
    assert "the export's root at" in out


def test_the_audit_reads_the_report_export_and_checkpoint_over_http_and_from_the_chain(
    tmp_path: Path,
) -> None:
    """End to end: the served report's .json twin, the served export and the contract read
    through the served JSON-RPC; then the same report with one figure changed."""
    port = free_port()
    runtime = local_service(tmp_path, "disclosure-audit-platform-token-0123456789", port)
    services = runtime.services
    api = Api(services, TestClient(create_app(services)))
    api.platform = bearer("disclosure-audit-platform-token-0123456789")
    world = build_world(api)
    with serve(create_app(services), port, "disclosure-audit-server") as base:
        contract = httpx.get(f"{base}/api/v1/chain").json()["ledger_anchor"]
        report_url = f"{base}/reports/{world['project_id']}/2026-Q1.json"
        chain = ["--rpc", f"{base}/api/v1/chain/rpc", "--contract", contract]
        journal = ["--journal", f"{base}/api/v1/entries"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = audit_cli.main(["audit-report", report_url, *journal, *chain])
        assert status == 0, out.getvalue()
        assert "is anchored on chain" in out.getvalue()
        assert "MATCHES" in out.getvalue()
        document = httpx.get(report_url).json()
        document["report"]["refunds"] = [
            {"seq": 3, "at": "2026-02-20T00:00:00.000Z", "donation_id": world["donation_id"],
             "amount": 100, "currency": "CNY", "reason": "made up"}
        ]  # fmt: skip
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps(document), "utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = audit_cli.main(["audit-report", str(forged), *journal, *chain])
        assert status == 1
        assert "differs from the journal: refunds (1 items, expected 0)" in out.getvalue()
        document["checkpoint"]["root_hash"] = "0x" + "00" * 32
        forged.write_text(json.dumps(document), "utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = audit_cli.main(["audit-report", str(forged), *journal, *chain])
        assert status == 1
        assert "not anchored on chain" in out.getvalue()
    api.client.close()


def test_a_charitys_own_report_covers_all_its_money_and_owes_nothing(
    api: Api, world: dict[str, Any]
) -> None:
    answer = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/reports",
        json={"period": "2026-Q1"},
        headers=world["auth"],
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["project_id"] is None
    page = api.client.get(f"/reports/{world['charity_id']}.json").json()
    assert page["scope"]["kind"] == "charity"
    assert {row["required"] for row in page["schedule"]} == {False}
    assert next(r for r in page["schedule"] if r["period"] == "2026-Q1")["status"] == "published"
    report = api.client.get(f"/reports/{world['charity_id']}/2026-Q1.json").json()["report"]
    assert report["scope"]["project_id"] is None
    assert report["period_flows"][0]["received"] == 10_000
    assert report["digest"] == answer.json()["digest"]
    final = api.client.post(
        f"/api/v1/charities/{world['charity_id']}/reports",
        json={"period": "final"},
        headers=world["auth"],
    )
    assert final.status_code == 422
    html = api.client.get(f"/charities/{world['charity_id']}?lang=en").text
    assert f'href="/reports/{world["charity_id"]}"' in html
