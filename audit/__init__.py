"""Independent verification: proof bundles and the full audit of a journal against the chain.

Needs no database and no server of ours (DESIGN.md §2): a journal export (a file or a
URL) and a JSON-RPC node are all it reads.

- ``audit.bundle``: build a ``shanlian-proof/v1`` bundle; verify one step by step
  (``audit.bundle_format``, ``audit.bundle_offline``, ``audit.bundle_onchain``).
- ``audit.auditor``: ``run_audit``, the whole journal against the contracts on chain.
- ``audit.journal``: the streaming pass over an export (tree, entries, rules), in one
  process; ``audit.journal_blocks`` cuts it into blocks and runs,
  ``audit.journal_findings`` holds its checks and findings; ``audit.checkpoints`` judges
  the anchored roots and their consistency, ``audit.earlier`` an auditor's earlier export.
- ``audit.scanner`` (the scanner in C, ``audit/_scan.c``) and ``audit.decoder`` (the
  ledger's own validation): the fast path and the reference path for reading a line,
  held equal by tests (ADR 0024).
- ``audit.export``, ``audit.onchain``: reading the export and the chain.
- ``audit.report``, ``audit.html``: the findings as text, JSON and HTML.
- ``audit.cli``: ``shanlian audit`` and ``shanlian verify``.
"""
