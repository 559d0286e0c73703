"""C2SP tlog-policy files: which witnesses a log's checkpoints need, k of n (ADR 0035).

Pure: text in, a ``Policy`` or a ``PolicyError`` naming the line out. Follows
c2sp.org/tlog-policy: lines ``log <vkey> [<url>]``, ``witness <name> <vkey> [<url>]``,
``group <name> all|any|<k> <member>…`` and exactly one ``quorum <name>`` (or
``quorum none``); items separated by spaces and tabs; blank lines and ``#`` comments
ignored; a group or the quorum names only what earlier lines defined, and each name is a
member at most once. Witness keys are Ed25519 cosignature/v1 keys (signature type 0x04).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from ledger.signed_note import CosignerKey, NoteError, Verifier

MAX_LOGS = 32
MAX_WITNESSES = 32
MAX_GROUPS = 32
"""The spec's recommended minimum limits; a policy beyond them is refused."""
NONE = "none"
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"[ \t]+")
_THRESHOLD = re.compile(r"[1-9][0-9]{0,3}")


class PolicyError(ValueError):
    """A policy file that breaks c2sp.org/tlog-policy, with the line at fault."""


@dataclass(frozen=True)
class PolicyWitness:
    """A witness of the policy.

    Attributes:
        name: its name in the policy (for groups and the quorum).
        key: its cosignature key.
        url: its submission prefix, if given (``<url>/add-checkpoint``).
    """

    name: str
    key: CosignerKey
    url: str | None


@dataclass(frozen=True)
class Group:
    """At least ``threshold`` of ``members`` (witnesses or groups) must have witnessed."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed policy: logs, witnesses, groups and the quorum.

    Attributes:
        logs: the logs' verifier keys (may be empty).
        witnesses: by policy name, in the file's order.
        groups: by name.
        quorum: the witness or group that must witness a checkpoint, or ``none``.
    """

    logs: tuple[Verifier, ...]
    witnesses: dict[str, PolicyWitness]
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NONE

    def satisfied(self, witnessed: Iterable[str]) -> bool:
        """Whether the witnesses named ``witnessed`` (policy names) meet the quorum."""
        cosigned = set(witnessed)

        def met(name: str) -> bool:
            if name == NONE:
                return True
            if name in self.witnesses:
                return name in cosigned
            group = self.groups[name]
            return sum(met(member) for member in group.members) >= group.threshold

        return met(self.quorum)

    def fewest(self) -> int:
        """The fewest witnesses whose cosignatures can meet the quorum (0 for ``none``)."""

        def least(name: str) -> int:
            if name == NONE:
                return 0
            if name in self.witnesses:
                return 1
            group = self.groups[name]
            return sum(sorted(least(member) for member in group.members)[: group.threshold])

        return least(self.quorum)

    def describe(self) -> str:
        """The quorum in words: ``2 of (a, b, c)``, ``all of (…)``, ``none``."""

        def words(name: str) -> str:
            if name == NONE or name in self.witnesses:
                return name
            group = self.groups[name]
            inner = ", ".join(words(member) for member in group.members)
            return f"{group.threshold} of ({inner})"

        return words(self.quorum)


def parse_policy(text: str) -> Policy:
    """Read a tlog-policy file.

    Raises:
        PolicyError: the first line that breaks the format, named by its number.
    """
    logs: list[Verifier] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, Group] = {}
    quorum: str | None = None
    members_used: set[str] = set()
    keys_seen: set[bytes] = set()
    for number, raw_line in enumerate(text.split("\n"), start=1):
        where = f"line {number}"
        if _FORBIDDEN.search(raw_line):
            raise PolicyError(f"{where}: a control character (only tab and newline are allowed)")
        items = _WHITESPACE.split(raw_line.strip(" \t"))
        if items == [""] or items[0].startswith("#"):
            continue
        keyword, arguments = items[0], items[1:]
        if keyword == "log":
            if not 1 <= len(arguments) <= 2:
                raise PolicyError(f"{where}: log <vkey> [<url>]")
            logs.append(_new_key(Verifier.parse, arguments[0], keys_seen, where))
            if len(logs) > MAX_LOGS:
                raise PolicyError(f"{where}: more than {MAX_LOGS} logs")
        elif keyword == "witness":
            if not 2 <= len(arguments) <= 3:
                raise PolicyError(f"{where}: witness <name> <vkey> [<url>]")
            name = arguments[0]
            _new_name(name, witnesses, groups, where)
            key = _new_key(CosignerKey.parse, arguments[1], keys_seen, f"{where}: witness {name}")
            url = arguments[2] if len(arguments) == 3 else None
            witnesses[name] = PolicyWitness(name, key, url)
            if len(witnesses) > MAX_WITNESSES:
                raise PolicyError(f"{where}: more than {MAX_WITNESSES} witnesses")
        elif keyword == "group":
            if len(arguments) < 3:
                raise PolicyError(f"{where}: group <name> all|any|<k> <member>…")
            name, threshold_text, members = arguments[0], arguments[1], arguments[2:]
            _new_name(name, witnesses, groups, where)
            for member in members:
                if member not in witnesses and member not in groups:
                    raise PolicyError(f"{where}: group {name}: {member!r} is not defined above")
                if member in members_used:
                    raise PolicyError(f"{where}: group {name}: {member!r} is a member already")
                members_used.add(member)
            if threshold_text == "all":
                threshold = len(members)
            elif threshold_text == "any":
                threshold = 1
            elif _THRESHOLD.fullmatch(threshold_text) and int(threshold_text) <= len(members):
                threshold = int(threshold_text)
            else:
                raise PolicyError(
                    f"{where}: group {name}: the threshold is all, any or 1 to {len(members)}"
                )
            groups[name] = Group(name, threshold, tuple(members))
            if len(groups) > MAX_GROUPS:
                raise PolicyError(f"{where}: more than {MAX_GROUPS} groups")
        elif keyword == "quorum":
            if len(arguments) != 1:
                raise PolicyError(f"{where}: quorum <name>")
            if quorum is not None:
                raise PolicyError(f"{where}: a second quorum line")
            name = arguments[0]
            if name != NONE and name not in witnesses and name not in groups:
                raise PolicyError(f"{where}: quorum {name!r} is not defined above")
            quorum = name
        else:
            raise PolicyError(f"{where}: {keyword!r} is not log, witness, group or quorum")
    if quorum is None:
        raise PolicyError("the policy has no quorum line (quorum none: no witness needed)")
    return Policy(tuple(logs), witnesses, groups, quorum)


def _new_name(
    name: str, witnesses: dict[str, PolicyWitness], groups: dict[str, Group], where: str
) -> None:
    if name == NONE:
        raise PolicyError(f"{where}: {NONE!r} is predefined and names nothing else")
    if name in witnesses or name in groups:
        raise PolicyError(f"{where}: {name!r} is defined twice")


_Key = TypeVar("_Key", Verifier, CosignerKey)


def _new_key(parse: Callable[[str], _Key], vkey: str, keys_seen: set[bytes], where: str) -> _Key:
    """The key ``vkey`` reads as, if no line before listed it (a log's or a witness's).

    Raises:
        PolicyError: prefixed by ``where``: the key does not parse, or is listed twice.
    """
    try:
        key = parse(vkey)
    except NoteError as error:
        raise PolicyError(f"{where}: {error}") from None
    if key.public_key in keys_seen:
        raise PolicyError(f"{where}: its key is listed twice")
    keys_seen.add(key.public_key)
    return key
