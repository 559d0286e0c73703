"""Witnesses: the log's side of C2SP tlog-witness (ADR 0035).

The operator lists the witnesses and the quorum in a C2SP tlog-policy file
(``API_WITNESS_POLICY_FILE``: ``witness <name> <vkey> <url>`` lines, groups, one
``quorum``). A worker thread of ``shanlian serve`` (never the ingest path) sends each
witness the log's newest signed checkpoints — the anchored ones it has not seen, oldest
first, then the latest — as ``POST <url>/add-checkpoint``:

    old <size the witness last cosigned>\\n
    <consistency proof from that size, one base64 hash a line>\\n …
    \\n
    <the signed checkpoint note>

A 200 answer is note signature lines: those by the witness's configured key are checked
(cosignature/v1: Ed25519 over ``cosignature/v1\\ntime <t>\\n`` and the checkpoint) and kept
(``ledger.store.witnesses``); others are ignored. A 409 (``text/x.tlog.size``) says which
size the witness holds: the log proves again from there. 403, 404 and 422 are refusals the
operator must look at (422: the witness holds a view this checkpoint is not consistent
with). A witness down or slow only delays its cosignatures, with a growing pause between
attempts; anchoring and ingest do not wait for it, and its lag is in ``/metrics`` and
``GET /api/v1/chain``.

``/tlog/checkpoint`` then serves the newest checkpoint that meets the quorum, with the
cosignature lines appended to the log's signature (C2SP notes may carry any number of
signatures; verifiers ignore keys they do not know); proof bundles carry their
checkpoint's cosignatures the same way.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api.outbound import UnsafeUrlError, check_url
from api.outbound_worker import OutboundWorker
from api.settings import ApiSettings, ProductionSettingsError
from api.tlog import TransparencyLog
from ledger.signed_note import NoteError, parse_signature_line
from ledger.store.journal import Store
from ledger.store.tlog import SignedCheckpointRecord
from ledger.store.witnesses import Cosignature, Standing, Witnessing
from ledger.tlog_policy import Policy, PolicyError, PolicyWitness, parse_policy

log = logging.getLogger("shanlian.witnesses")

ATTEMPTS = Counter(
    "shanlian_witness_attempts_total",
    "add-checkpoint requests to witnesses, by witness and outcome",
    ["witness", "outcome"],
)

USER_AGENT = "shanlian-log/1"
MAX_POLICY_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024
"""More than any answer of a witness: 16 signature lines of ML-DSA are under 64 KiB."""
MAX_PROOF_LINES = 63
"""tlog-witness: a client sends at most 63 consistency proof lines."""
CATCH_UP_ANCHORED = 8
"""Anchored checkpoints a witness has not seen that are sent before the latest one."""
BACKOFF_MAX_S = 300.0
CONFLICT_RETRIES = 2
"""Proofs sent again from the size a 409 names, within one attempt."""
SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_SIZE = (1 << 63) - 1
"""A size a 409 may name: the journal's sizes are BIGINT."""


class WitnessPolicyError(ProductionSettingsError):
    """The witness policy cannot be used: the service refuses to start and says why."""


@dataclass(frozen=True)
class WitnessSetup:
    """The policy the log follows, and its witnesses (each with a URL)."""

    policy: Policy

    @property
    def witnesses(self) -> tuple[PolicyWitness, ...]:
        return tuple(self.policy.witnesses.values())

    def by_key(self) -> dict[str, PolicyWitness]:
        return {w.key.vkey: w for w in self.witnesses}

    def cosigned_note(self, witnessing: Witnessing, record: SignedCheckpointRecord) -> str:
        """The log's note of ``record`` with the kept cosignatures of its size appended."""
        kept = witnessing.cosignatures(record.tree_size, self.by_key())
        return record.note + "".join(c.line for c in kept)

    def witnessed_size(self, witnessing: Witnessing) -> int | None:
        """The largest signed size whose cosignatures meet the quorum (None: none yet)."""
        names = self.by_key()
        # Only sizes cosigned by as many witnesses as the quorum needs at the least: one
        # witness's many cosignatures do not push the witnessed ones out of the window.
        fewest = max(self.policy.fewest(), 1)
        found = witnessing.cosigned_sizes(names, at_least=fewest)
        for size, keys in sorted(found.items(), reverse=True):
            if self.policy.satisfied(names[k].name for k in keys):
                return size
        return None

    def served(self, witnessing: Witnessing, latest: SignedCheckpointRecord) -> str:
        """What ``/tlog/checkpoint`` serves: the newest checkpoint that meets the quorum
        with its cosignatures; before any does, the latest signed one with what it has."""
        if self.policy.satisfied(()):  # quorum none: nothing to wait for
            return self.cosigned_note(witnessing, latest)
        size = self.witnessed_size(witnessing)
        if size is not None and size != latest.tree_size:
            record = witnessing.signed(size)
            if record is not None:
                return self.cosigned_note(witnessing, record)
        return self.cosigned_note(witnessing, latest)


def load_witnesses(
    settings: ApiSettings, transparency_log: TransparencyLog | None
) -> WitnessSetup | None:
    """The witness policy of ``API_WITNESS_POLICY_FILE``, checked; None when unset.

    Raises:
        WitnessPolicyError: unreadable, not a tlog-policy, a witness without a URL or with
            one the platform will not send to, no log key, or a policy for another log.
    """
    path: Path | None = settings.witness_policy_file
    if path is None:
        return None
    where = f"API_WITNESS_POLICY_FILE ({path})"
    if transparency_log is None:
        raise WitnessPolicyError(
            f"{where} lists witnesses, but there is no log key to sign checkpoints for them "
            "(`shanlian keys log create`)"
        )
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        raise WitnessPolicyError(f"{where} cannot be read: {error.strerror}") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise WitnessPolicyError(f"{where} is longer than {MAX_POLICY_BYTES} bytes")
    try:
        policy = parse_policy(raw.decode("utf-8"))
    except (UnicodeDecodeError, PolicyError) as error:
        raise WitnessPolicyError(f"{where}: {error}") from None
    for witness in policy.witnesses.values():
        if witness.url is None:
            raise WitnessPolicyError(
                f"{where}: witness {witness.name} has no URL: the log sends it checkpoints at "
                "<url>/add-checkpoint (witness <name> <vkey> <url>)"
            )
        try:
            check_url(witness.url, allow_private=settings.witness_allow_private, resolve=False)
        except UnsafeUrlError as error:
            raise WitnessPolicyError(f"{where}: witness {witness.name}: {error}") from None
    if policy.logs and transparency_log.vkey not in {key.vkey for key in policy.logs}:
        raise WitnessPolicyError(
            f"{where} is the policy of another log: its log lines do not list this log's "
            f"key {transparency_log.vkey}"
        )
    return WitnessSetup(policy)


# -- the worker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A witness's answer, read up to ``MAX_ANSWER_BYTES``."""

    status: int
    media_type: str
    body: bytes


def _printable(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _now() -> datetime:
    return datetime.now(UTC)


class WitnessWorker(OutboundWorker):
    """Sends the log's checkpoints to each witness and keeps their cosignatures."""

    name = "witnesses"

    def __init__(
        self,
        store: Store,
        transparency_log: TransparencyLog,
        setup: WitnessSetup,
        settings: ApiSettings,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.log = transparency_log
        self.setup = setup
        self.clock = clock
        self.witnessing = Witnessing(store.engine)
        super().__init__(settings, timeout_s=settings.witness_timeout_s, user_agent=USER_AGENT)

    def run_once(self) -> None:
        """One round: sign the journal's size if it grew, and bring each witness up to it."""
        latest = self.log.latest()
        for witness in self.setup.witnesses:
            self.bring_up_to(witness, latest)

    def pause_s(self) -> float:
        return max(self.settings.witness_interval_s, 0.05)

    def standing(self, witness: PolicyWitness) -> Standing:
        key = witness.key.vkey
        kept = self.witnessing.standing(key)
        if kept is not None:
            return kept
        return Standing(key, 0, None, None, "new", None, None, 0)

    def bring_up_to(self, witness: PolicyWitness, latest: SignedCheckpointRecord) -> None:
        """Send ``witness`` the anchored checkpoints it lacks, then ``latest``, unless it is
        pausing after failures or holds them already."""
        standing = self.standing(witness)
        if standing.known_size >= latest.tree_size:
            return
        if standing.next_attempt_at is not None and self.clock() < standing.next_attempt_at:
            return
        targets = [
            r
            for r in self.witnessing.anchored_after(standing.known_size, CATCH_UP_ANCHORED)
            if r.tree_size < latest.tree_size
        ]
        for record in [*targets, latest]:
            if record.tree_size < standing.known_size and record is not latest:
                continue  # a 409 said the witness is past it: it cannot go back
            standing = self.submit(witness, record, standing)
            if standing.outcome == "conflict" and standing.known_size > record.tree_size:
                continue  # the next checkpoint may reach the size it holds
            if standing.outcome != "cosigned":
                return

    def submit(
        self, witness: PolicyWitness, record: SignedCheckpointRecord, standing: Standing
    ) -> Standing:
        """One add-checkpoint of ``record`` (and up to two more after a 409); the new
        standing, saved."""
        outcome, detail = "not_sent", ""
        for _ in range(1 + CONFLICT_RETRIES):
            old = standing.known_size
            if old > record.tree_size:
                # Not a failure: a newer checkpoint of this log may reach that size.
                return self._record(
                    witness,
                    replace(
                        standing,
                        outcome="conflict",
                        detail=f"the witness holds size {old}, above checkpoint "
                        f"{record.tree_size}: it is sent the next one that reaches it",
                    ),
                    attempted=False,
                )
            proof = self.store.consistency_proof(old, record.tree_size) if old else []
            if len(proof) > MAX_PROOF_LINES:  # a tree of 2**63 entries needs at most 63
                raise AssertionError("a consistency proof longer than 63 hashes")
            body = f"old {old}\n" + "".join(base64_line(h) for h in proof) + "\n" + record.note
            try:
                answer = self._post(witness, body.encode())
            except UnsafeUrlError as error:
                outcome, detail = "not_sent", str(error)
                break
            except httpx.HTTPError as error:
                outcome = "unreachable"
                detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                break
            if answer.status == 409:
                size = _size(answer)
                if size is None or size == old:
                    outcome = "bad_answer"
                    detail = f"409 without a new size ({_printable(answer.body)!r})"
                    break
                standing = replace(standing, known_size=size)
                outcome, detail = "conflict", f"the witness holds size {size}"
                continue
            if answer.status == 200:
                kept = self._keep(witness, record, answer.body)
                if kept:
                    return self._record(
                        witness,
                        replace(
                            standing,
                            known_size=record.tree_size,
                            cosigned_at=self.clock(),
                            outcome="cosigned",
                            detail=None,
                            failures=0,
                            next_attempt_at=None,
                        ),
                    )
                outcome = "bad_answer"
                detail = "200 without a valid cosignature by the configured key"
                break
            outcome = {403: "forbidden", 404: "unknown_log", 422: "refused"}.get(
                answer.status, "bad_answer"
            )
            detail = f"HTTP {answer.status}: {_printable(answer.body)}"
            break
        failures = standing.failures + 1
        pause = min(max(self.settings.witness_interval_s, 1.0) * 2**failures, BACKOFF_MAX_S)
        level = (
            logging.ERROR if outcome in ("refused", "forbidden", "unknown_log") else logging.WARNING
        )
        log.log(
            level,
            "witness %s did not cosign checkpoint %d (%s: %s); next attempt in %.0f s",
            witness.name,
            record.tree_size,
            outcome,
            detail,
            pause,
        )
        return self._record(
            witness,
            replace(
                standing,
                outcome=outcome,
                detail=detail,
                failures=failures,
                next_attempt_at=self.clock() + timedelta(seconds=pause),
            ),
        )

    def _record(
        self, witness: PolicyWitness, standing: Standing, *, attempted: bool = True
    ) -> Standing:
        if attempted:
            standing = replace(standing, attempted_at=self.clock())
            ATTEMPTS.labels(witness.name, standing.outcome).inc()
        self.witnessing.save_standing(standing)
        return standing

    def _post(self, witness: PolicyWitness, body: bytes) -> Answer:
        assert witness.url is not None  # load_witnesses requires one
        url = witness.url.rstrip("/") + "/add-checkpoint"
        check_url(url, allow_private=self.settings.witness_allow_private, resolve=True)
        deadline = time.monotonic() + self.settings.witness_timeout_s
        with self._http.stream("POST", url, content=body) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                    raise httpx.ReadError("the answer is too long or too slow")
                chunks.append(chunk)
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            return Answer(response.status_code, media_type, b"".join(chunks))

    def _keep(self, witness: PolicyWitness, record: SignedCheckpointRecord, body: bytes) -> bool:
        """Check the answer's signature lines; keep the witness's valid cosignature."""
        try:
            lines = body.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            return False
        if lines[-1] != "" or len(lines) > 17:  # newline-ended lines, at most 16
            return False
        text = record.note[: record.note.index("\n\n") + 1]
        key = witness.key
        for line in lines[:-1]:
            try:
                name, raw = parse_signature_line(line)
                if name != key.name or raw[:4] != key.key_id:
                    continue  # another key's: ignored (tlog-witness)
                timestamp = key.open(text, raw)
            except NoteError as error:
                log.warning("witness %s: %s", witness.name, error)
                return False
            self.witnessing.add_cosignature(
                Cosignature(record.tree_size, key.vkey, key.line(raw), timestamp, self.clock())
            )
            return True
        return False


def base64_line(value: bytes) -> str:
    return base64.b64encode(value).decode() + "\n"


def _size(answer: Answer) -> int | None:
    """The size of a 409 answer (``text/x.tlog.size``: a decimal and a newline)."""
    text = answer.body.decode("ascii", "replace")
    digits = text.removesuffix("\n")
    if answer.media_type != SIZE_MEDIA_TYPE or not digits.isdigit() or len(digits) > 20:
        return None
    if digits != str(int(digits)) or int(digits) > MAX_SIZE:
        return None
    return int(digits)


def start_worker(
    store: Store,
    transparency_log: TransparencyLog | None,
    setup: WitnessSetup | None,
    settings: ApiSettings,
    stop: threading.Event,
) -> threading.Thread | None:
    """The witness worker in a daemon thread until ``stop`` is set (none without witnesses)."""
    if setup is None or transparency_log is None:
        return None
    return WitnessWorker(store, transparency_log, setup, settings).start(stop)


# -- what the operator sees ----------------------------------------------------------------


@dataclass(frozen=True)
class WitnessStatus:
    name: str
    vkey: str
    cosigned_size: int
    lag_entries: int
    lag_seconds: float
    outcome: str
    detail: str | None
    attempted_at: datetime | None
    next_attempt_at: datetime | None


def statuses(store: Store, setup: WitnessSetup) -> list[WitnessStatus]:
    """Each witness's latest cosigned size and lag behind the journal, and its last outcome."""
    witnessing = Witnessing(store.engine)
    size = store.size()
    now = datetime.now(UTC)
    found = []
    for witness in setup.witnesses:
        key = witness.key.vkey
        cosigned = witnessing.latest_cosigned(key)
        standing = witnessing.standing(key)
        lag_s = 0.0
        if size > cosigned:
            at = witnessing.entry_time(cosigned)
            lag_s = 0.0 if at is None else max(0.0, (now - at).total_seconds())
        found.append(
            WitnessStatus(
                name=witness.name,
                vkey=key,
                cosigned_size=cosigned,
                lag_entries=size - cosigned,
                lag_seconds=lag_s,
                outcome=standing.outcome if standing else "new",
                detail=standing.detail if standing else None,
                attempted_at=standing.attempted_at if standing else None,
                next_attempt_at=standing.next_attempt_at if standing else None,
            )
        )
    return found


SUMMARY_TTL_S = 1.0
"""How long a process reuses the witnesses' summary for ``/api/v1/chain`` (every donor's
browser asks it): a few queries a witness, at most once a second."""


@dataclass(frozen=True)
class WitnessSummary:
    witnessed_size: int | None
    statuses: list[WitnessStatus]


_summaries: dict[int, tuple[float, WitnessSummary]] = {}
_summarizing = threading.Lock()


def summary(store: Store, setup: WitnessSetup) -> WitnessSummary:
    """The witnessed size and each witness's status, at most ``SUMMARY_TTL_S`` old."""
    key = id(setup)
    now = time.monotonic()
    kept = _summaries.get(key)
    if kept is not None and now - kept[0] < SUMMARY_TTL_S:
        return kept[1]
    with _summarizing:
        kept = _summaries.get(key)
        if kept is not None and now - kept[0] < SUMMARY_TTL_S:
            return kept[1]
        made = WitnessSummary(
            setup.witnessed_size(Witnessing(store.engine)), statuses(store, setup)
        )
        _summaries[key] = (time.monotonic(), made)
        return made


class WitnessLag(Collector):
    """Each witness's lag (entries, and the age of the oldest entry it has not cosigned)
    and the largest checkpoint that meets the quorum, read at each scrape."""

    def __init__(self, store: Store, setup: WitnessSetup) -> None:
        self.store = store
        self.setup = setup

    def collect(self) -> Iterable[GaugeMetricFamily]:
        entries = GaugeMetricFamily(
            "shanlian_witness_lag_entries",
            "Entries not covered by a checkpoint the witness cosigned",
            labels=["witness"],
        )
        seconds = GaugeMetricFamily(
            "shanlian_witness_lag_seconds",
            "Age of the oldest entry not covered by a checkpoint the witness cosigned (0: none)",
            labels=["witness"],
        )
        for status in statuses(self.store, self.setup):
            entries.add_metric([status.name], status.lag_entries)
            seconds.add_metric([status.name], status.lag_seconds)
        witnessed = self.setup.witnessed_size(Witnessing(self.store.engine))
        yield entries
        yield seconds
        yield GaugeMetricFamily(
            "shanlian_witnessed_entries",
            "Entries covered by the largest checkpoint whose cosignatures meet the quorum",
            witnessed or 0,
        )
