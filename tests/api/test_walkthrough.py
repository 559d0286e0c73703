"""A new user's walk through the API, over HTTP, on SQLite + the embedded chain and on
PostgreSQL + anvil: a charity, a project, donations, evidence, fund use, an anchor, and
every donation's proof checked by hand, by the Merkle code and by the contract.
"""

from __future__ import annotations

import hashlib
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import qrcode
import rfc8785
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger import merkle
from ledger.entries import canonical_bytes, donor_commitment, from_hex, to_hex
from tests.api.conftest import Api, ApiFactory, donation_body, new_key


@pytest.fixture(
    params=[
        "sqlite+embedded",
        pytest.param("postgres+anvil", marks=[pytest.mark.postgres, pytest.mark.anvil]),
    ]
)
def stack(request: pytest.FixtureRequest, make_api: ApiFactory) -> Api:
    """The app on SQLite with the embedded chain, and on PostgreSQL with a real anvil."""
    if request.param == "sqlite+embedded":
        chain = ChainClient.embedded(chain=EmbeddedChain())
        chain.deploy()
        return make_api(str(request.getfixturevalue("sqlite_url")), chain)
    node = request.getfixturevalue("anvil")
    chain = ChainClient.connect(node.rpc_url)
    chain.deploy()
    return make_api(
        str(request.getfixturevalue("pg_database")), chain, chain_rpc_public_url=node.rpc_url
    )


@dataclass
class Walk:
    """What the walkthrough made: ids, receipts and the answers along the way."""

    api: Api
    charity_id: str = ""
    charity_auth: dict[str, str] = field(default_factory=dict)
    project_id: str = ""
    donations: list[dict[str, Any]] = field(default_factory=list)
    evidence_sha256: str = ""
    disbursement: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)

    @property
    def chain(self) -> ChainClient:
        assert self.api.services.chain is not None
        return self.api.services.chain


INVOICE = b"%PDF-1.4\n% invoice 2026-118, Kunming Xinhua bookstore, 18 000.00 CNY\n%%EOF\n"


def walk(api: Api, *, anchor: bool = True) -> Walk:
    """Register, open a project, take three donations, upload an invoice, spend, anchor."""
    w = Walk(api)
    w.charity_id, w.charity_auth = api.register_charity()
    w.project_id = api.open_project(w.charity_id, w.charity_auth)
    # Two donations to the project and one to the general fund, in this order; the payment
    # channel sends the first one twice (a retry with its Idempotency-Key).
    for project_id, amount in ((w.project_id, 10_000), (None, 8_000), (w.project_id, 5_000)):
        body, key = donation_body(w.charity_id, project_id, amount), new_key()
        response = api.client.post("/api/v1/donations", json=body, headers=api.platform | key)
        assert response.status_code == 201, response.text
        w.donations.append(response.json())
        if len(w.donations) == 1:
            size = api.store.size()
            retry = api.client.post("/api/v1/donations", json=body, headers=api.platform | key)
            assert (retry.status_code, retry.json()) == (201, response.json())
            assert api.store.size() == size
    w.evidence_sha256 = api.upload(w.charity_auth, INVOICE)
    w.disbursement = api.disburse(
        w.charity_id,
        w.project_id,
        w.charity_auth,
        18_000,
        evidence=[{"sha256": w.evidence_sha256, "public": True}],
        allocate="fifo",
    )
    if anchor:
        w.checkpoint = api.anchor()
    return w


def check_bundle(w: Walk, bundle: dict[str, Any], donation: dict[str, Any]) -> None:
    """Verify a proof bundle as a donor would: by hand, with the Merkle code, on chain."""
    assert bundle["format"] == "shanlian-proof/v1"
    entry = bundle["entry"]
    assert entry["seq"] == donation["seq"]
    assert entry["kind"] == "donation.received"
    assert entry["body"]["donation_id"] == donation["id"]
    # The leaf: RFC 8785 of the entry (by the reference package, not only ours), hashed.
    leaf = rfc8785.dumps(entry)
    assert leaf == canonical_bytes(entry)
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    assert bundle["leaf_hash"] == to_hex(leaf_hash)
    # The donor's receipt secret opens the commitment in the entry.
    secret = bytes.fromhex(donation["receipt"]["secret"])
    assert entry["body"]["donor_commitment"] == to_hex(donor_commitment(secret, donation["id"]))
    # The inclusion proof leads to the checkpoint's root…
    checkpoint = bundle["checkpoint"]
    proof = [from_hex(h) for h in bundle["inclusion_proof"]]
    root = from_hex(checkpoint["root_hash"])
    merkle.verify_inclusion(entry["seq"], checkpoint["tree_size"], leaf_hash, proof, root)
    # …and the checkpoint is the one the contract holds, which says so in one eth_call.
    on_chain = w.chain.checkpoint_of(root)
    assert (on_chain.index, on_chain.tree_size) == (checkpoint["index"], checkpoint["tree_size"])
    assert w.chain.checkpoint_at(checkpoint["index"]) == on_chain
    assert w.chain.verify_inclusion(checkpoint["tree_size"], entry["seq"], leaf_hash, proof)
    anchor = bundle["anchor"]
    assert anchor["chain_id"] == w.chain.chain_id
    assert anchor["contract"].lower() == w.chain.ledger_anchor.address.lower()
    receipt = w.chain.w3.eth.get_transaction_receipt(anchor["tx_hash"])
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == anchor["block_number"]


def test_every_donation_of_the_walkthrough_proves_itself_against_the_anchored_checkpoint(
    stack: Api,
) -> None:
    w = walk(stack)
    size = stack.store.size()
    assert w.checkpoint["tree_size"] == size
    assert w.checkpoint["index"] == 0
    for donation in w.donations:
        response = stack.client.get(f"/api/v1/donations/{donation['id']}/proof")
        assert response.status_code == 200, response.text
        check_bundle(w, response.json(), donation)
        view = stack.client.get(f"/api/v1/donations/{donation['id']}").json()
        assert view["status"]["state"] == "confirmed"
        assert view["status"]["checkpoint"]["root_hash"] == w.checkpoint["root_hash"]


def test_a_tampered_bundle_does_not_verify_on_chain(stack: Api) -> None:
    w = walk(stack)
    donation = w.donations[0]
    bundle = stack.client.get(f"/api/v1/donations/{donation['id']}/proof").json()
    bundle["entry"]["body"]["amount"] += 1
    leaf_hash = merkle.leaf_hash(canonical_bytes(bundle["entry"]))
    proof = [from_hex(h) for h in bundle["inclusion_proof"]]
    checkpoint = bundle["checkpoint"]
    assert not w.chain.verify_inclusion(checkpoint["tree_size"], donation["seq"], leaf_hash, proof)
    with pytest.raises(merkle.RootMismatchError):
        merkle.verify_inclusion(
            donation["seq"],
            checkpoint["tree_size"],
            leaf_hash,
            proof,
            from_hex(checkpoint["root_hash"]),
        )


def test_fifo_funds_the_disbursement_from_the_projects_oldest_donations_then_the_general_fund(
    stack: Api,
) -> None:
    w = walk(stack, anchor=False)
    first, general, second = w.donations
    funded = [(a["donation_id"], a["amount"]) for a in w.disbursement["allocations"]]
    assert funded == [(first["id"], 10_000), (second["id"], 5_000), (general["id"], 3_000)]
    assert (w.disbursement["allocated"], w.disbursement["unfunded"]) == (18_000, 0)
    view = stack.client.get(f"/api/v1/donations/{general['id']}").json()
    assert (view["allocated"], view["unspent"]) == (3_000, 5_000)
    assert view["funded"][0]["disbursement"]["id"] == w.disbursement["id"]
    # The invoice is public evidence now: anyone downloads exactly the bytes hashed.
    (evidence,) = w.disbursement["evidence"]
    assert evidence["sha256"] == w.evidence_sha256 == to_hex(hashlib.sha256(INVOICE).digest())
    download = stack.client.get(evidence["url"].removeprefix("http://testserver"))
    assert download.status_code == 200
    assert download.content == INVOICE
    assert download.headers["content-type"] == "application/pdf"


def test_a_proof_before_anchoring_is_409_not_anchored_yet_with_when_it_is_due(
    stack: Api,
) -> None:
    w = walk(stack, anchor=False)
    donation = w.donations[0]
    response = stack.client.get(f"/api/v1/donations/{donation['id']}/proof")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "not_anchored_yet"
    due = datetime.fromisoformat(problem["next_anchor_due"])
    assert due.tzinfo is not None
    view = stack.client.get(f"/api/v1/donations/{donation['id']}").json()
    assert view["status"]["state"] == "recorded"
    stack.anchor()
    assert stack.client.get(f"/api/v1/donations/{donation['id']}/proof").status_code == 200


def test_a_repeated_idempotency_key_records_the_donation_once_and_another_body_conflicts(
    stack: Api,
) -> None:
    charity_id, _ = stack.register_charity()
    body = donation_body(charity_id, None, 2_500)
    headers = stack.platform | new_key()
    first = stack.client.post("/api/v1/donations", json=body, headers=headers)
    assert first.status_code == 201
    size = stack.store.size()
    again = stack.client.post("/api/v1/donations", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()  # same id, seq and receipt secret
    assert stack.store.size() == size
    assert len(stack.donors()) == 1
    other = stack.client.post("/api/v1/donations", json=body | {"amount": 2_501}, headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert (other.json()["code"], other.json()["field"]) == (
        "idempotency_conflict",
        "Idempotency-Key",
    )
    assert stack.store.size() == size


def test_the_journal_export_pages_by_after_and_limit_and_hashes_to_the_anchored_root(
    stack: Api,
) -> None:
    w = walk(stack)
    response = stack.client.get("/api/v1/entries")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = response.content.splitlines()
    assert len(lines) == w.checkpoint["tree_size"]
    assert [json.loads(line)["seq"] for line in lines] == list(range(len(lines)))
    for line in lines:  # every line is its entry exactly as hashed
        assert rfc8785.dumps(json.loads(line)) == line
    tree = merkle.MemoryTree.from_leaf_hashes(merkle.leaf_hash(line) for line in lines)
    assert to_hex(tree.root()) == w.checkpoint["root_hash"]

    page = stack.client.get("/api/v1/entries", params={"after": 2, "limit": 3})
    assert [json.loads(line)["seq"] for line in page.content.splitlines()] == [3, 4, 5]
    assert page.content.splitlines() == lines[3:6]
    tail = stack.client.get("/api/v1/entries", params={"after": len(lines) - 1})
    assert (tail.status_code, tail.content) == (200, b"")
    assert stack.client.get("/api/v1/entries", params={"limit": 10_000}).status_code == 200
    for bad in ({"limit": 10_001}, {"limit": 0}, {"after": -1}):
        refused = stack.client.get("/api/v1/entries", params=bad)
        assert refused.status_code == 422
        assert refused.json()["field"] == next(iter(bad))


def test_checkpoints_are_listed_and_linked_by_consistency_proofs(stack: Api) -> None:
    w = walk(stack)
    assert stack.client.get("/api/v1/checkpoints/latest").json() == w.checkpoint
    stack.donate(w.charity_id, w.project_id, 700)
    second = stack.anchor()
    assert (second["index"], second["tree_size"]) == (1, w.checkpoint["tree_size"] + 1)
    listed = stack.client.get("/api/v1/checkpoints").json()
    assert listed["count"] == 2
    assert listed["data"] == [w.checkpoint, second]
    assert stack.client.get("/api/v1/checkpoints/latest").json() == second

    first_size, second_size = w.checkpoint["tree_size"], second["tree_size"]
    response = stack.client.get(
        "/api/v1/checkpoints/consistency", params={"first": first_size, "second": second_size}
    )
    assert response.status_code == 200
    answer = response.json()
    assert (answer["first_root"], answer["second_root"]) == (
        w.checkpoint["root_hash"],
        second["root_hash"],
    )
    merkle.verify_consistency(
        first_size,
        second_size,
        w.chain.checkpoint_at(0).root_hash,
        w.chain.checkpoint_at(1).root_hash,
        [from_hex(h) for h in answer["proof"]],
    )
    backwards = stack.client.get(
        "/api/v1/checkpoints/consistency", params={"first": second_size, "second": first_size}
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_size")


def test_chain_names_the_contracts_and_a_json_rpc_endpoint_a_browser_may_use(stack: Api) -> None:
    w = walk(stack)
    chain = stack.client.get("/api/v1/chain").json()
    assert chain["chain_id"] == w.chain.chain_id
    assert chain["ledger_anchor"] == w.chain.ledger_anchor.address.lower()
    assert chain["charity_registry"] == w.chain.charity_registry.address.lower()
    assert chain["embedded"] is w.chain.is_embedded
    if not w.chain.is_embedded:
        # A real node: the operator names its public endpoint; ours serves none.
        assert chain["rpc_url"] == stack.services.settings.chain_rpc_public_url
        refused = stack.client.post(
            "/api/v1/chain/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}
        )
        assert refused.status_code == 404
        return
    assert chain["rpc_url"] == "http://testserver/api/v1/chain/rpc"
    answer = rpc(stack, "eth_chainId")
    assert int(answer["result"], 16) == w.chain.chain_id
    assert int(rpc(stack, "eth_blockNumber")["result"], 16) == w.chain.block_number()
    refused = rpc(stack, "eth_sendRawTransaction", ["0x02"])
    assert refused["error"]["code"] == -32601
    assert "result" not in refused
    assert rpc(stack, "eth_sendTransaction", [{}])["error"]["code"] == -32601
    batch = stack.client.post(
        "/api/v1/chain/rpc",
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "personal_sign", "params": []},
        ],
    ).json()
    assert [("result" in a, a.get("error", {}).get("code")) for a in batch] == [
        (True, None),
        (False, -32601),
    ]


def test_the_browsers_json_rpc_verifies_a_donation_with_one_eth_call(stack: Api) -> None:
    """As the explorer's Verify button does, at the rpc_url of /chain: an eth_call with no
    sender (our read-only endpoint on the embedded chain, the node itself on anvil)."""
    w = walk(stack)
    rpc_url = stack.client.get("/api/v1/chain").json()["rpc_url"]
    donation = w.donations[1]
    bundle = stack.client.get(f"/api/v1/donations/{donation['id']}/proof").json()
    call = w.chain.ledger_anchor.functions.verifyInclusion(
        bundle["checkpoint"]["tree_size"],
        bundle["entry"]["seq"],
        from_hex(bundle["leaf_hash"]),
        [from_hex(h) for h in bundle["inclusion_proof"]],
    )
    data = call._encode_transaction_data()
    to = bundle["anchor"]["contract"]
    answer = browser_rpc(stack, rpc_url, "eth_call", [{"to": to, "data": data}, "latest"])
    assert int(answer["result"], 16) == 1, answer
    receipt = browser_rpc(
        stack, rpc_url, "eth_getTransactionReceipt", [bundle["anchor"]["tx_hash"]]
    )
    assert int(receipt["result"]["blockNumber"], 16) == bundle["anchor"]["block_number"]
    assert int(receipt["result"]["status"], 16) == 1
    chain_id = browser_rpc(stack, rpc_url, "eth_chainId", [])
    assert int(chain_id["result"], 16) == bundle["anchor"]["chain_id"]


def rpc(api: Api, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    return browser_rpc(api, "http://testserver/api/v1/chain/rpc", method, params or [])


def browser_rpc(api: Api, url: str, method: str, params: list[Any]) -> dict[str, Any]:
    """One JSON-RPC request, to our app (in process) or to a node."""
    payload = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    if url.startswith("http://testserver/"):
        response = api.client.post(url.removeprefix("http://testserver"), json=payload)
    else:
        response = httpx.post(url, json=payload, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert (answer["jsonrpc"], answer["id"]) == ("2.0", 7)
    return answer


# -- receipts -------------------------------------------------------------------------------------


def qr_text(png: bytes, expected: str) -> str:
    """What the QR code in ``png`` says.

    With zxing-cpp installed it is decoded for real. Without it, the picture is compared
    module by module with the QR code of ``expected`` (same version, level and mask), which
    tells whether it says ``expected`` just as well.
    """
    image = Image.open(io.BytesIO(png))
    try:
        import zxingcpp
    except ImportError:
        pass
    else:
        (barcode,) = zxingcpp.read_barcodes(image)
        return str(barcode.text)
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(expected)
    code.make(fit=True)
    matrix = code.get_matrix()
    pixels = image.convert("L")
    box = pixels.width // len(matrix)
    assert pixels.width == pixels.height == box * len(matrix)
    drawn = [
        [pixels.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(len(row))]
        for y, row in enumerate(matrix)
    ]
    return expected if drawn == matrix else "<another QR code>"


def test_the_receipt_qr_code_leads_to_the_donation_with_the_donors_secret(stack: Api) -> None:
    w = walk(stack, anchor=False)
    donation = w.donations[0]
    receipt = donation["receipt"]
    secret = receipt["secret"]
    assert len(secret) == 32
    assert secret == secret.lower()
    assert receipt["url"] == f"http://testserver/donations/{donation['id']}#s={secret}"

    png = stack.client.get(
        receipt["qr_png"].removeprefix("http://testserver"), headers=stack.platform
    )
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert qr_text(png.content, receipt["url"]) == receipt["url"]
    fragment = qr_text(png.content, receipt["url"]).split("#s=", 1)[1]
    entry = stack.store.entry(donation["seq"])
    assert entry.body["donor_commitment"] == to_hex(
        donor_commitment(bytes.fromhex(fragment), donation["id"])
    )

    svg = stack.client.get(
        receipt["qr_svg"].removeprefix("http://testserver"), headers=stack.platform
    )
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    assert any(element.tag.endswith("path") for element in root.iter())

    page = stack.client.get(
        receipt["page"].removeprefix("http://testserver"), headers=stack.platform
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert secret in page.text
    assert "<svg" in page.text
