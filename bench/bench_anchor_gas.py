"""Gas per anchor, and per donation, against one transaction per donation.

    .venv/bin/python bench/bench_anchor_gas.py [--anvil] [--max-size N]

For a log of N entries (1 … 1,000,000) it anchors the checkpoint at N on a fresh
LedgerAnchor whose latest checkpoint is at N/2 — a real consistency proof from N/2 to N,
built with ``ledger.merkle.MemoryTree`` over synthetic leaves — and reads the gas from the
receipt. Both kinds of anchor are measured: one at an odd checkpoint index (it writes a
fresh slot for the root) and one at an even index (it also archives the previous pair of
size/time records into a fresh slot); their mean is what an operator pays per anchor.

The baseline, measured in the same run on the same chain: ``NaiveDonationLog``, compiled
by the same compiler with the same settings, storing each donation's record in a
transaction of its own. Gas is deterministic, so one run suffices; the embedded chain and
anvil give the same figures (``--anvil`` checks that).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_typing import Hash32
from eth_utils.address import to_checksum_address

from chain.artifacts import Artifact
from chain.client import ChainClient
from chain.compiler import compile_contracts
from chain.devnet import Devnet, free_port, start_devnet
from ledger.merkle import MemoryTree, consistency_plan, leaf_hash

SIZES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
NAIVE_DONATIONS = 25
GAS_BUDGET = 80_000
INTRINSIC_GAS = 21_000


@dataclass(frozen=True)
class Row:
    size: int
    new_entries: int
    proof_hashes: int
    odd_gas: int
    even_gas: int | None
    odd_calldata_gas: int

    @property
    def mean_gas(self) -> float:
        return statistics.mean([self.odd_gas, self.even_gas or self.odd_gas])

    @property
    def max_gas(self) -> int:
        return max(self.odd_gas, self.even_gas or 0)


def calldata_gas(data: bytes) -> int:
    """EIP-2028 intrinsic gas of a transaction's input: 4 per zero byte, 16 per other."""
    return sum(4 if b == 0 else 16 for b in data)


def anchor_gas(client: ChainClient, tree: MemoryTree, sizes: Sequence[int]) -> tuple[int, int]:
    """Deploy a fresh LedgerAnchor, anchor ``sizes`` in turn; gas and calldata gas of the last."""
    client.deploy()
    previous = 0
    outcome = None
    for size in sizes:
        proof = tree.consistency_proof(previous, size) if previous else []
        outcome = client.anchor(size, tree.root(size), proof)
        previous = size
    assert outcome is not None
    tx = client.w3.eth.get_transaction(Hash32(outcome.tx_hash))
    return outcome.gas_used, calldata_gas(bytes(tx["input"]))


def measure_anchor(client: ChainClient, tree: MemoryTree, size: int) -> Row:
    if size == 1:
        gas, calldata = anchor_gas(client, tree, [1])
        return Row(size, 1, 0, gas, None, calldata)
    previous = size // 2
    odd_gas, calldata = anchor_gas(client, tree, [previous, size])  # index 1
    even_gas = (
        anchor_gas(client, tree, [previous // 2, previous, size])[0]  # index 2
        if previous >= 2
        else None
    )
    return Row(
        size,
        size - previous,
        len(consistency_plan(previous, size)),
        odd_gas,
        even_gas,
        calldata,
    )


def measure_naive(client: ChainClient, artifact: Artifact) -> list[int]:
    """Gas of each of ``NAIVE_DONATIONS`` donations recorded one transaction each."""
    address, _ = client.deploy_contract(artifact, client.address)
    naive = client.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
    gas = []
    for i in range(NAIVE_DONATIONS):
        donation_id = hashlib.sha256(b"dn_%d" % i).digest()
        function = naive.functions.recordDonation(
            donation_id,
            b"ch_bench".ljust(32, b"\x00"),
            hashlib.sha256(b"secret %d" % i).digest(),
            10_000 + i,
            b"CNY",
        )
        tx_hash = client._send(function, "recording a donation")
        gas.append(int(client.wait_for_receipt(tx_hash)["gasUsed"]))
    return gas


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anvil", action="store_true", help="measure on anvil, not embedded")
    parser.add_argument("--max-size", type=int, default=max(SIZES))
    args = parser.parse_args(argv)
    sizes = [n for n in SIZES if n <= args.max_size]

    started = time.monotonic()
    naive_artifact = Artifact.from_json(
        compile_contracts({"NaiveDonationLog": "contracts/bench/NaiveDonationLog.sol"})[
            "NaiveDonationLog"
        ]
    )
    tree = MemoryTree.from_leaf_hashes(
        leaf_hash(b'{"seq":%d,"v":1}' % i) for i in range(max(sizes))
    )
    print(f"built a {tree.size:,}-leaf tree in {time.monotonic() - started:.1f} s", file=sys.stderr)

    devnet: Devnet | None = None
    try:
        if args.anvil:
            devnet = start_devnet(port=free_port(), state_file=None)
            client = ChainClient.connect(devnet.rpc_url)
            chain = f"anvil (chain id {client.chain_id})"
        else:
            client = ChainClient.embedded()
            chain = "embedded eth-tester/py-evm"
        naive = measure_naive(client, naive_artifact)
        rows = [measure_anchor(client, tree, n) for n in sizes]
    finally:
        if devnet is not None:
            devnet.stop()

    naive_per_donation = statistics.median(naive)
    print(f"\nLedgerAnchor gas on {chain}, Prague rules; previous checkpoint at N/2")
    print(
        f"baseline NaiveDonationLog: {naive_per_donation:,.0f} gas per donation "
        f"(median of {len(naive)}, min {min(naive):,}, max {max(naive):,})\n"
    )
    header = (
        f"{'entries N':>10} {'new':>8} {'proof':>5} {'odd idx':>8} {'even idx':>8} "
        f"{'mean':>8} {'gas/donation':>12} {'naive/don.':>10} {'ratio':>12} {'< 80k':>5}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ours = row.mean_gas / row.new_entries
        print(
            f"{row.size:>10,} {row.new_entries:>8,} {row.proof_hashes:>5} {row.odd_gas:>8,} "
            f"{(f'{row.even_gas:,}' if row.even_gas else '-'):>8} {row.mean_gas:>8,.0f} "
            f"{ours:>12,.2f} {naive_per_donation:>10,.0f} {naive_per_donation / ours:>11,.0f}x "
            f"{'yes' if row.max_gas < GAS_BUDGET else 'NO':>5}"
        )
    worst = max(rows, key=lambda r: r.max_gas)
    odd_worst = max(r.odd_gas for r in rows)
    print(
        f"\nworst anchor: {worst.max_gas:,} gas at N = {worst.size:,}; odd-index anchors at most "
        f"{odd_worst:,}. Every gas figure includes the {INTRINSIC_GAS:,} of any transaction "
        f"and its calldata (N = {rows[-1].size:,}: {rows[-1].odd_calldata_gas:,} gas for "
        f"{rows[-1].proof_hashes} proof hashes); an even-index anchor also pays 22,100 for "
        f"the fresh slot that archives two checkpoints' sizes and times "
        "(docs/adr/0005-checkpoint-storage-layout.md)."
    )
    print(f"measured in {time.monotonic() - started:.1f} s", file=sys.stderr)
    last = rows[-1]
    print(
        "SUMMARY "
        + json.dumps(
            {
                "benchmark": f"anchor gas, trees of 1 to {last.size:,} entries ({chain})",
                "project": f"{worst.max_gas:,} gas worst anchor (odd index at most "
                f"{odd_worst:,}); {last.mean_gas / last.new_entries:,.2f} gas per donation "
                f"at {last.size:,}",
                "baseline": f"{naive_per_donation:,.0f} gas per donation, one transaction each",
                "ratio": f"{naive_per_donation / (last.mean_gas / last.new_entries):,.0f}x less",
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
