"""What the donation page's in-browser verifier gets from the server, besides the bundle.

The browser has no keccak: the 4-byte selector of ``checkpointOf(bytes32)`` is computed
here from the committed ABI (``contracts/build/LedgerAnchor.json``) and put in the page.
The script decodes the answer as ``(uint256 index, uint64 treeSize, uint64 anchoredAt)``;
``checkpoint_of_selector`` refuses an ABI whose outputs differ.
"""

from __future__ import annotations

import functools

from chain.artifacts import LEDGER_ANCHOR, function_selector, load_artifact

CHECKPOINT_OF = "checkpointOf(bytes32)"
CHECKPOINT_OF_OUTPUTS = ("uint256", "uint64", "uint64")

MESSAGES: dict[str, str] = {
    "verify": "Verify",
    "running": "Checking…",
    "step_bundle": "Fetch the proof bundle",
    "step_bundle_ok": "Proof bundle received: entry #{seq}, checkpoint #{index}",
    "step_bundle_missing": "This donation is recorded but not anchored yet: {detail}",
    "step_bundle_error": "Could not fetch the proof bundle: {detail}",
    "step_entry": "The entry is this donation",
    "step_entry_bad": "The bundle's entry is not this donation's",
    "step_leaf": "Hash the entry: SHA-256(0x00 ‖ canonical JSON)",
    "step_leaf_ok": "The entry hashes to {hash}, as the bundle says",
    "step_leaf_bad": "The entry hashes to {hash}, but the bundle says {expected}",
    "step_inclusion": "Check the inclusion proof against the checkpoint",
    "step_inclusion_ok": "Entry #{seq} is in the tree of {size} entries with root {root}",
    "step_inclusion_bad": "The proof does not lead to the checkpoint's root: {detail}",
    "step_signature": "Check the log's signature on the checkpoint",
    "step_signature_ok": "The log {origin} signed this checkpoint of {size} entries",
    "step_signature_bad": "The checkpoint's signature does not hold: {detail}",
    "step_signature_unchecked": (
        "This browser cannot check the log's signature (Ed25519); the chain is asked below"
    ),
    "step_cosignatures": "Check the witnesses' cosignatures on the checkpoint",
    "step_cosignatures_ok": "{count} of {total} witnesses cosigned this checkpoint: {names}",
    "step_cosignatures_none": "None of the {total} witnesses has cosigned this checkpoint yet",
    "step_cosignatures_bad": "A witness's cosignature does not hold: {detail}",
    "step_chain": "Ask the chain which chain it is",
    "step_chain_ok": "The JSON-RPC endpoint serves chain {chain_id}",
    "step_chain_bad": "The endpoint serves chain {actual}, the bundle was anchored on {expected}",
    "step_anchor": "Read the checkpoint from the contract",
    "step_anchor_ok": "Contract {contract} holds checkpoint #{index}: {size} entries, root {root}",
    "step_anchor_bad": "The contract has no checkpoint #{index} as in the bundle: {detail}",
    # ADR 0037: who signed the donation's disbursements
    "step_fund_use": "Check who signed the disbursements this donation paid for",
    "step_fund_use_signed": "Disbursement {id} (entry #{seq}): signed by the charity's key "
    "{signer}, registered on chain at block {block}",
    "step_fund_use_unsigned": "Disbursement {id} (entry #{seq}): not signed by the charity (it "
    "had no signing key then: an older entry, or one the platform made)",
    "step_fund_use_bad": "Disbursement {id}: {detail}",
    "step_receipt": "Check your receipt code",
    "step_receipt_ok": "This is your donation: your receipt code matches it.",
    "step_receipt_bad": "The receipt code in this link does not match this donation.",
    "rpc_error": "The JSON-RPC endpoint did not answer: {detail}",
    "all_ok": "Verified: this donation is in the journal, and the journal is anchored on chain.",
    "failed": "Verification failed: the proof does not hold for this donation.",
    "receipt_mine": "This is your donation: the code in your receipt link matches it.",
    "receipt_damaged": (
        "Your receipt link seems damaged: its code does not match this donation, so this "
        "page cannot tell that it is yours. The donation itself is proven, as said above."
    ),
    "receipt_none": (
        "Opened without a receipt code: this proves the donation is recorded, not whose it "
        "is. Open the link or QR code of your receipt to see that it is yours."
    ),
    "receipt_notice": (
        "You opened this page from your receipt: it is checked as it opens; "
        "press Verify to check again."
    ),
    "crypto_fallback": "This page is not on HTTPS, so it hashes with its own SHA-256 code.",
}
"""The script's messages (``{name}`` is filled in by the script), translated per page."""


@functools.cache
def checkpoint_of_selector() -> str:
    """The selector of ``LedgerAnchor.checkpointOf(bytes32)`` as ``0x`` hex, from the ABI.

    Raises:
        ValueError: the ABI has no such function, its outputs are not the ones the
            page decodes, or it disagrees with the artifact's method identifiers.
    """
    artifact = load_artifact(LEDGER_ANCHOR)
    for item in artifact.abi:
        if item.get("type") != "function" or item.get("name") != "checkpointOf":
            continue
        inputs = tuple(i["type"] for i in item.get("inputs", []))
        if inputs != ("bytes32",):
            continue
        outputs = tuple(o["type"] for o in item.get("outputs", []))
        if outputs != CHECKPOINT_OF_OUTPUTS:
            raise ValueError(
                f"{CHECKPOINT_OF} returns {outputs}; the page decodes {CHECKPOINT_OF_OUTPUTS}"
            )
        selector = "0x" + function_selector(item).hex()
        listed = artifact.method_identifiers.get(CHECKPOINT_OF)
        if listed is not None and "0x" + listed.removeprefix("0x") != selector:
            raise ValueError(f"the ABI gives {selector}, the artifact lists 0x{listed}")
        return selector
    raise ValueError(f"the LedgerAnchor ABI has no {CHECKPOINT_OF}")
