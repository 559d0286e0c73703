"""Charity signatures (ADR 0037): prepare, sign, submit, and every refusal stores nothing."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.anchoring import AnchorSettings
from api.app import build_services
from api.cli import main as cli_main
from api.demo import load_demo
from api.settings import ApiSettings
from audit.auditor import run_audit
from audit.bundle import parse_bundle, verify_bundle_offline, verify_bundle_on_chain
from audit.fund_use import FundUseError, verify_fund_use
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from chain.typed_data import new_key, sign_typed_data
from ledger.entries import CHARITY_SIGNED_KINDS
from ledger.store.requests import Draft
from tests.api.conftest import Api, bearer, disbursement_body
from tests.api.conftest import new_key as idempotency

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Signer:
    """A charity's signing key, as the charity holds it."""

    def __init__(self) -> None:
        self.address, self.key = new_key()

    def sign(self, prepared: dict[str, Any]) -> dict[str, Any]:
        """The request of a prepare answer, with one signature per typed data."""
        request = dict(prepared["request"])
        request["signed"] = {
            "nonce": prepared["nonce"],
            "signatures": [sign_typed_data(t, self.key) for t in prepared["typed_data"]],
        }
        return request


def register_signing_charity(api: Api, signer: Signer) -> tuple[str, dict[str, str]]:
    response = api.client.post(
        "/api/v1/charities",
        json={
            "name": "贵州山区儿童阅读会",
            "registration_no": f"5352{uuid.uuid4().hex[:14].upper()}",
            "signer": signer.address,
        },
        headers=api.platform,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], bearer(response.json()["api_key"])


def prepare(api: Api, path: str, body: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    response = api.client.post(f"/api/v1{path}/prepare", json=body, headers=auth)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def open_signed_project(api: Api, charity_id: str, auth: dict[str, str], signer: Signer) -> str:
    body = {"title": "Textbooks", "goal_amount": 600_000, "currency": "CNY"}
    prepared = prepare(api, f"/charities/{charity_id}/projects", body, auth)
    response = api.client.post(
        f"/api/v1/charities/{charity_id}/projects", json=signer.sign(prepared), headers=auth
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def signing(api: Api) -> tuple[Api, Signer, str, dict[str, str], str]:
    signer = Signer()
    charity_id, auth = register_signing_charity(api, signer)
    project_id = open_signed_project(api, charity_id, auth, signer)
    api.donate(charity_id, project_id, 10_000)
    return api, signer, charity_id, auth, project_id


def test_a_signed_disbursement_with_fifo_is_appended_with_its_signatures(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    body = disbursement_body(charity_id, project_id) | {"allocate": "fifo"}
    prepared = prepare(api, "/disbursements", body, auth)
    assert prepared["signer"] == signer.address
    assert [t["primaryType"] for t in prepared["typed_data"]] == [
        "DisbursementMade",
        "AllocationMade",
    ]
    assert prepared["request"]["allocate"][0]["amount"] == 6_000
    domain = prepared["typed_data"][0]["domain"]
    assert domain["chainId"] == api.services.chain.chain_id  # type: ignore[union-attr]
    size = api.store.size()
    response = api.client.post(
        "/api/v1/disbursements", json=signer.sign(prepared), headers=auth | idempotency()
    )
    assert response.status_code == 201, response.text
    entries = [api.store.entry(seq) for seq in range(size, api.store.size())]
    assert [e.kind for e in entries] == ["disbursement.made", "allocation.made"]
    assert all(e.sig is not None and e.actor == f"charity:{charity_id}" for e in entries)
    assert entries[0].body["disbursement_id"] == response.json()["id"]


def refused(api: Api, path: str, body: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    before = api.stored()
    response = api.client.post(f"/api/v1{path}", json=body, headers=auth | idempotency())
    assert response.status_code in (403, 409, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert api.stored() == before
    answer: dict[str, Any] = response.json()
    return answer


def test_a_charity_with_a_signer_must_sign(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, _signer, charity_id, auth, project_id = signing
    problem = refused(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    assert problem["code"] == "signature_required"
    assert problem["status"] == 403
    # nor may the platform append it for the charity unsigned
    problem = refused(
        api, "/disbursements", disbursement_body(charity_id, project_id), api.platform
    )
    assert problem["code"] == "signature_required"


def test_a_signature_by_another_key_is_refused(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    prepared = prepare(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    problem = refused(api, "/disbursements", Signer().sign(prepared), auth)
    assert problem["code"] == "signature_mismatch"
    assert signer.address in problem["detail"]


def test_a_signature_over_other_data_is_refused(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    prepared = prepare(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    request = signer.sign(prepared)
    request["amount"] = 60_000  # the platform (or anyone) changes what the charity signed
    problem = refused(api, "/disbursements", request, auth)
    assert problem["code"] == "signature_mismatch"
    assert problem["field"] == "signed.signatures[0]"


def test_a_replayed_signature_is_refused(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    prepared = prepare(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    request = signer.sign(prepared)
    key = idempotency()
    first = api.client.post("/api/v1/disbursements", json=request, headers=auth | key)
    assert first.status_code == 201, first.text
    # a retry with the same idempotency key is the same request: the first answer again
    again = api.client.post("/api/v1/disbursements", json=request, headers=auth | key)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    problem = refused(api, "/disbursements", request, auth)  # a new idempotency key
    assert problem["code"] == "signature_replayed"
    problem = refused(api, "/disbursements", request, api.platform)
    assert problem["code"] == "signature_replayed"


def test_a_malformed_signature_is_refused(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    prepared = prepare(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    request = signer.sign(prepared)
    request["signed"]["signatures"] = ["0x1234"]
    problem = refused(api, "/disbursements", request, auth)
    assert problem["code"] == "signature_invalid"


def test_void_and_reversal_are_signed(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    body = disbursement_body(charity_id, project_id) | {"allocate": "fifo"}
    request = signer.sign(prepare(api, "/disbursements", body, auth))
    made = api.client.post("/api/v1/disbursements", json=request, headers=auth | idempotency())
    assert made.status_code == 201, made.text
    disbursement_id = made.json()["id"]
    path = f"/disbursements/{disbursement_id}/void"
    unsigned = refused(api, path, {"reason": "booked twice"}, auth)
    assert unsigned["code"] == "signature_required"
    prepared = prepare(api, path, {"reason": "booked twice"}, auth)
    assert [t["primaryType"] for t in prepared["typed_data"]] == [
        "AllocationReversed",
        "DisbursementVoided",
    ]
    response = api.client.post(
        f"/api/v1{path}", json=signer.sign(prepared), headers=auth | idempotency()
    )
    assert response.status_code == 201, response.text
    last = api.store.entry(api.store.size() - 1)
    assert last.kind == "disbursement.voided"
    assert last.sig is not None


# -- the audit: signatures against the signer history on chain -----------------------------------


def audit_of(api: Api) -> dict[str, Any]:
    """Anchor, mirror the registry, and audit the journal's export against the chain."""
    worker, chain = api.services.worker, api.services.chain
    assert worker is not None
    assert chain is not None
    worker.anchor_now()
    worker.sync_registry()
    worker.sync_signers()
    lines = [api.store.entry(seq).leaf_bytes for seq in range(api.store.size())]
    report = run_audit(
        iter(lines),
        chain,
        contract=chain.ledger_anchor.address,
        registry=chain.charity_registry.address,
    )
    answer: dict[str, Any] = report.to_json()
    return answer


def check_named(report: dict[str, Any], name: str) -> dict[str, Any]:
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == name)
    return check


def signed_disbursement(
    api: Api, signer: Signer, charity_id: str, auth: dict[str, str], project_id: str
) -> str:
    body = disbursement_body(charity_id, project_id, 1_000) | {"allocate": "fifo"}
    request = signer.sign(prepare(api, "/disbursements", body, auth))
    made = api.client.post("/api/v1/disbursements", json=request, headers=auth | idempotency())
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_the_audit_passes_signed_fund_use_and_names_a_forged_entry(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    signed_disbursement(api, signer, charity_id, auth, project_id)
    report = audit_of(api)
    signatures = check_named(report, "signatures")
    assert report["ok"], report
    assert signatures["status"] == "pass"
    assert signatures["summary"].startswith("3 fund-use entries signed")  # project, db, al

    # The platform forges a disbursement in the charity's name: straight into its own store,
    # a valid hash chain, anchored on chain; but the charity never signed it.
    forged = api.store.append(
        [
            Draft(
                "disbursement.made",
                {
                    "disbursement_id": "db_forged0000000000001",
                    "charity_id": charity_id,
                    "project_id": project_id,
                    "amount": 500,
                    "currency": "CNY",
                    "payee": "某某咨询公司",
                    "purpose": "consulting",
                    "evidence": [],
                },
                actor=f"charity:{charity_id}",
            )
        ]
    ).entries[0]
    report = audit_of(api)
    signatures = check_named(report, "signatures")
    assert not report["ok"]
    assert signatures["status"] == "fail"
    assert [p["seq"] for p in signatures["problems"]] == [forged.seq]
    assert "carries no signature" in signatures["problems"][0]["detail"]
    assert all(c["status"] != "fail" for c in report["checks"] if c["name"] != "signatures")


def test_a_signature_copied_from_another_entry_fails_the_audit(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    signed_disbursement(api, signer, charity_id, auth, project_id)
    genuine = next(
        api.store.entry(seq)
        for seq in range(api.store.size())
        if api.store.entry(seq).kind == "disbursement.made"
    )
    body = dict(genuine.body) | {"disbursement_id": "db_forged0000000000002", "amount": 900}
    forged = api.store.append(
        [Draft("disbursement.made", body, actor=genuine.actor, sig=genuine.sig)]
    ).entries[0]
    signatures = check_named(audit_of(api), "signatures")
    assert [p["seq"] for p in signatures["problems"]] == [forged.seq]
    assert "is not by the charity's signer" in signatures["problems"][0]["detail"]


def test_a_rotation_in_the_middle_of_a_project(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, old, charity_id, auth, project_id = signing
    signed_disbursement(api, old, charity_id, auth, project_id)
    new = Signer()
    change = {"signer": new.address, "reason": "yearly key rotation"}
    unsigned = refused(api, f"/charities/{charity_id}/signer", change, auth)
    assert unsigned["code"] == "signature_required"
    prepared = prepare(api, f"/charities/{charity_id}/signer", change, auth)
    assert prepared["typed_data"][0]["primaryType"] == "SignerChanged"
    by_new = refused(api, f"/charities/{charity_id}/signer", new.sign(prepared), auth)
    assert by_new["code"] == "signature_mismatch"
    rotated = api.client.post(
        f"/api/v1/charities/{charity_id}/signer", json=old.sign(prepared), headers=auth
    )
    assert rotated.status_code == 201, rotated.text
    # The old key is revoked: its new signatures are refused; the new key signs.
    body = disbursement_body(charity_id, project_id, 1_000)
    problem = refused(
        api, "/disbursements", old.sign(prepare(api, "/disbursements", body, auth)), auth
    )
    assert problem["code"] == "signature_mismatch"
    signed_disbursement(api, new, charity_id, auth, project_id)
    # The replayed rotation is refused: the signer it replaced is no longer the signer.
    replayed = refused(api, f"/charities/{charity_id}/signer", old.sign(prepared), auth)
    assert replayed["code"] in ("signature_mismatch", "invalid_field", "accounting_rule")
    # The audit checks each signature against the signer of its time, from the chain.
    report = audit_of(api)
    assert report["ok"], [c["problems"] for c in report["checks"] if c["status"] == "fail"]
    history = api.services.chain.signer_history()  # type: ignore[union-attr]
    assert [r.signer for r in history if r.charity_id == charity_id] == [old.address, new.address]
    assert check_named(report, "signatures")["summary"].startswith("5 fund-use entries signed")


# -- the charity's tooling: keygen and sign --------------------------------------------------------


def test_keygen_writes_an_encrypted_keystore_that_sign_uses(
    signing: tuple[Api, Signer, str, dict[str, str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, old, charity_id, auth, project_id = signing
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    keystore = tmp_path / "charity-key.json"
    assert (
        cli_main(["charity", "keygen", "--out", str(keystore), "--password-file", str(password)])
        == 0
    )
    out = capsys.readouterr().out
    assert "correct horse" not in out
    address = out.split()[1]
    assert keystore.stat().st_mode & 0o777 == 0o600
    document = json.loads(keystore.read_text())
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert address[2:] == document["address"].lower()
    # rotate to the new key, signed by the old one, then sign a disbursement with the CLI
    change = {"signer": address, "reason": "a keystore of our own"}
    prepared = prepare(api, f"/charities/{charity_id}/signer", change, auth)
    rotated = api.client.post(
        f"/api/v1/charities/{charity_id}/signer", json=old.sign(prepared), headers=auth
    )
    assert rotated.status_code == 201, rotated.text
    prepared = prepare(api, "/disbursements", disbursement_body(charity_id, project_id), auth)
    answer = tmp_path / "prepared.json"
    answer.write_text(json.dumps(prepared))
    monkeypatch.setenv("SHANLIAN_KEYSTORE_PASSWORD", "correct horse battery staple")
    assert cli_main(["charity", "sign", "--keystore", str(keystore), str(answer)]) == 0
    request = json.loads(capsys.readouterr().out)
    made = api.client.post("/api/v1/disbursements", json=request, headers=auth | idempotency())
    assert made.status_code == 201, made.text
    # a wrong password opens nothing
    monkeypatch.setenv("SHANLIAN_KEYSTORE_PASSWORD", "wrong password")
    assert cli_main(["charity", "sign", "--keystore", str(keystore), str(answer)]) == 2


# -- the demo's charities sign -------------------------------------------------------------------


def test_the_demo_charities_sign_their_fund_use_and_the_audit_checks_it(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token="demo-test-platform-token-0123456789abcdef",
        evidence_dir=tmp_path / "evidence",
    )
    chain = ChainClient.embedded(chain=EmbeddedChain())
    services = build_services(
        settings, chain=chain, anchor_settings=AnchorSettings(interval_s=3600)
    ).services
    load_demo(services, donations=90, days=30)
    assert services.worker is not None
    services.worker.sync_registry()
    services.worker.sync_signers()
    entries = list(services.store.entries())
    kinds = {e.kind for e in entries}
    assert "charity.signer_changed" in kinds
    fund_use = [e for e in entries if e.kind in CHARITY_SIGNED_KINDS]
    signed = [e for e in fund_use if e.sig is not None]
    assert signed
    assert len(signed) < len(fund_use)  # the third charity signs from halfway on
    report = run_audit(
        services.store.leaves(),
        chain,
        contract=chain.ledger_anchor.address,
        registry=chain.charity_registry.address,
    )
    assert report.ok, report.to_text()
    summary = report.check("signatures").summary
    assert summary.startswith(f"{len(signed):,} fund-use entries signed"), summary


# -- a second EIP-712 implementation: ethers, in node -----------------------------------------


def ethers_signatures(prepared: dict[str, Any], key: bytes) -> list[str]:
    """The signatures of a prepare answer made by ethers' Wallet.signTypedData in node."""
    devnet = Path(__file__).resolve().parents[2] / "hardhat-free-devnet"
    result = subprocess.run(
        ["node", "bin/sign-typed-data.mjs"],
        cwd=devnet,
        input=json.dumps(prepared),
        capture_output=True,
        text=True,
        env={**os.environ, "SIGNER_PRIVATE_KEY": "0x" + key.hex()},
        check=True,
        timeout=60,
    )
    signatures: list[str] = json.loads(result.stdout)
    return signatures


def test_signatures_made_by_ethers_in_node_are_accepted(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    body = disbursement_body(charity_id, project_id) | {
        "evidence": [{"sha256": api.upload(auth), "public": True}],
        "allocate": "fifo",
    }
    prepared = prepare(api, "/disbursements", body, auth)
    by_ethers = ethers_signatures(prepared, signer.key)
    assert len(by_ethers) == 2
    # The same signatures as eth-account's (RFC 6979 signing is deterministic): one encoding.
    assert [s.lower() for s in by_ethers] == signer.sign(prepared)["signed"]["signatures"]
    request = dict(prepared["request"]) | {
        "signed": {"nonce": prepared["nonce"], "signatures": by_ethers}
    }
    made = api.client.post("/api/v1/disbursements", json=request, headers=auth | idempotency())
    assert made.status_code == 201, made.text


# -- the explorer marks what the charity signed, in both languages --------------------------------


def test_the_explorer_shows_who_signed_and_marks_unsigned_and_forged_entries(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    disbursement_id = signed_disbursement(api, signer, charity_id, auth, project_id)
    page = api.client.get(f"/disbursements/{disbursement_id}?lang=en").text
    assert f"Signed by the charity&#39;s key {signer.address}" in page
    page = api.client.get(f"/disbursements/{disbursement_id}?lang=zh-CN").text
    assert f"由该慈善组织的密钥 {signer.address} 签名" in page
    twin = api.client.get(f"/disbursements/{disbursement_id}.json").json()
    assert twin["disbursement"]["signature"]["status"] == "signed"
    # a charity without a signer: plainly unsigned
    plain_id, plain_auth = api.register_charity("无签名基金会")
    plain = api.disburse(plain_id, None, plain_auth, amount=100)
    page = api.client.get(f"/disbursements/{plain['id']}?lang=en").text
    assert "Not signed by the charity: it had no signing key then" in page
    page = api.client.get(f"/disbursements/{plain['id']}?lang=zh-CN").text
    assert "未经该慈善组织签名" in page
    # the platform forges one: the page says the charity did not make it
    forged = api.store.append(
        [
            Draft(
                "disbursement.made",
                disbursement_body(charity_id, project_id, 500)
                | {"disbursement_id": "db_forged0000000000003", "evidence": []},
                actor=f"charity:{charity_id}",
            )
        ]
    ).entries[0]
    page = api.client.get("/disbursements/db_forged0000000000003?lang=en").text
    assert "the charity did not make this entry" in page
    entry = api.client.get(f"/entries/{forged.seq}.json").json()
    assert entry["signature"]["status"] == "missing"


# -- shanlian verify: a donation's disbursements, and who signed them --------------------------


def test_a_donations_proof_bundle_shows_who_signed_its_disbursements(
    signing: tuple[Api, Signer, str, dict[str, str], str],
) -> None:
    api, signer, charity_id, auth, project_id = signing
    disbursement_id = signed_disbursement(api, signer, charity_id, auth, project_id)
    donation_id = next(
        str(e.body["donation_id"]) for e in api.store.entries() if e.kind == "donation.received"
    )
    api.anchor()
    worker, chain = api.services.worker, api.services.chain
    assert worker is not None
    assert chain is not None
    worker.sync_registry()
    document = api.client.get(f"/api/v1/donations/{donation_id}/proof").json()
    assert [i["entry"]["body"]["disbursement_id"] for i in document["fund_use"]["items"]] == [
        disbursement_id
    ]
    bundle = parse_bundle(document)
    verify_bundle_offline(bundle)
    verify_bundle_on_chain(bundle, chain)
    steps = verify_fund_use(bundle, chain)
    assert len(steps) == 1
    assert f"signed by the charity's key {signer.address}, registered on chain at block" in (
        steps[0].detail
    )
    # a bundle whose disbursement was swapped for another body fails
    forged = json.loads(json.dumps(document))
    forged["fund_use"]["items"][0]["entry"]["body"]["amount"] = 999
    with pytest.raises(FundUseError):
        verify_fund_use(parse_bundle(forged), chain)
