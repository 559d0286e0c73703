"""``python -m explorer grant-read-only``: the explorer's SELECT-only PostgreSQL role.

The password, if any, comes from ``EXPLORER_ROLE_PASSWORD`` (never from the command
line, where other users of the machine could read it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from explorer.roles import ROLE, grant_read_only_role


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m explorer")
    commands = parser.add_subparsers(dest="command", required=True)
    grant = commands.add_parser(
        "grant-read-only",
        help="create or update the explorer's SELECT-only role (run after each migration)",
    )
    grant.add_argument(
        "--database-url",
        default=os.environ.get("API_DATABASE_URL"),
        help="the database, as its owner (default: API_DATABASE_URL)",
    )
    grant.add_argument("--role", default=ROLE, help=f"the role (default: {ROLE})")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith(("postgresql", "postgres")):
        print("give --database-url postgresql://OWNER@HOST/DATABASE", file=sys.stderr)
        return 2
    result = grant_read_only_role(
        args.database_url, role=args.role, password=os.environ.get("EXPLORER_ROLE_PASSWORD")
    )
    print(
        f"role {result.role} {'created' if result.created else 'updated'}: SELECT on "
        f"{', '.join(result.tables)}; no access to {', '.join(result.withheld) or 'nothing'}"
    )
    print(
        "Give the explorer API_READ_ONLY_DATABASE_URL="
        f"postgresql://{result.role}:PASSWORD@HOST/DATABASE"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
