"""`shanlian receipt`: a donation's receipt, reissued."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from api.cli.runtime import (
    _runtime,
)
from api.cli.usage import DATABASE_NOTE, _command


def cmd_receipt(args: argparse.Namespace) -> int:
    from api import receipts
    from ledger.store.files import write_private_file

    services = _runtime(args, with_chain=False).services
    secret = services.receipt_secret(args.donation_id)
    url = services.receipt_url(args.donation_id, secret)
    print(url)
    print(f"receipt secret: {secret.hex()}")
    # The QR code holds the receipt's secret: readable by its owner only.
    if args.png:
        write_private_file(args.png, receipts.qr_png(url))
        print(f"QR code written to {args.png}")
    if args.svg:
        write_private_file(args.svg, receipts.qr_svg(url))
        print(f"QR code written to {args.svg}")
    return 0


def add_commands(commands: Any) -> None:
    """``receipt``."""
    receipt = _command(
        commands,
        "receipt",
        "reissue a donation's receipt (operator)",
        "Print a donation's receipt link (the donation page, with the receipt secret in the "
        "URL fragment, which no server sees) and its secret, for a donor who lost them; "
        "optionally write its QR code. The files are readable by their owner only: the code "
        "holds the secret.\n\n" + DATABASE_NOTE,
        "shanlian receipt dn_w2ylwc553d6f3mmzrjdj --png receipt.png",
    )
    receipt.add_argument("donation_id", metavar="DONATION_ID", help="the donation (dn_…)")
    receipt.add_argument("--png", type=Path, metavar="FILE", help="also write the QR code as PNG")
    receipt.add_argument("--svg", type=Path, metavar="FILE", help="also write the QR code as SVG")
    receipt.set_defaults(func=cmd_receipt)
