"""Independent verification: proof bundles and the full audit of a journal against the chain.

Needs no database and no server of ours (DESIGN.md §2): a journal export (a file or a
URL) and a JSON-RPC node are all it reads.

- ``audit.bundle``: build a ``shanlian-proof/v1`` bundle; verify one step by step.
- ``audit.auditor``: ``run_audit``, the whole journal against the contracts on chain.
- ``audit.journal``: the streaming pass over an export (tree, entries, rules).
- ``audit.decoder``: lines to entries, the ledger's way and a fast path that agrees.
- ``audit.export``, ``audit.onchain``: reading the export and the chain.
- ``audit.report``, ``audit.html``: the findings as text, JSON and HTML.
- ``audit.cli``: ``shanlian audit`` and ``shanlian verify``.
"""
