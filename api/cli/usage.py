"""How the commands present themselves: help text, examples, the database note."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions wrap as usual, paragraph by paragraph; indented lines (the examples)
    are kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.append(
                    textwrap.fill(
                        " ".join(paragraph),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
                paragraph.clear()

        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line.startswith(" "):
                flush()
                out.append(indent + line)
            else:
                paragraph.append(line.strip())
        flush()
        return "\n".join(out)


def _examples(*lines: str) -> str:
    """An epilog: ``examples:`` and the command lines, indented (kept as written)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(
    commands: Any, name: str, help: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    """A subcommand with its one-line help, its description and examples."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=_examples(*examples) if examples else None,
        formatter_class=HelpFormatter,
    )
    return parser


def _group(commands: Any, name: str, help: str, description: str, *examples: str) -> Any:
    """A command of actions (``journal verify``): what their parsers are added to."""
    return _command(commands, name, help, description, *examples).add_subparsers(
        dest=f"{name}_command", required=True, metavar="ACTION"
    )


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """``HelpFormatter`` for ``parser`` and every subcommand under it (``audit`` too)."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _use_formatter(subparser)


DATABASE_NOTE = (
    "The journal is the one --database names (before the command), else API_DATABASE_URL, "
    "else the SQLite file var/shanlian.db."
)
