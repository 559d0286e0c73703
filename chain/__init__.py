"""Everything that speaks to an EVM chain: the only package that imports web3 (ADR 0025).

eth-hash picks its keccak backend when it is first imported, and prefers pycryptodome,
which eth-keyfile installs, over safe-pysha3, which is pinned for speed: about 100 µs a
hash against 7 µs here. Every import of web3 and eth_* comes through this package, so
naming the backend here, before any of them, makes pysha3 the one used (a deployment can
still choose with ``ETH_HASH_BACKEND``).
"""

import os

os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
