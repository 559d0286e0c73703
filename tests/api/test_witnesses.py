"""The log's side of C2SP tlog-witness, against real witnesses on 127.0.0.1 (ADR 0035).

Each witness is ``tests/tlog/witness.py``: a conformant witness written from the spec
alone, served over HTTP, with its own state, its own consistency check and its own
cosignature/v1 signing. The log's worker is driven round by round (``run_once``), and in
one test as the thread ``shanlian serve`` runs.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.witnesses import WitnessPolicyError, WitnessWorker, start_worker
from chain.client import ChainClient
from chain.embedded import EmbeddedChain
from ledger.signed_note import (
    CosignerKey,
    Signer,
    Verifier,
    open_checkpoint,
    parse_signature_line,
)
from ledger.store.journal import Store
from tests.api.conftest import Api, ApiFactory, Journal
from tests.tlog.witness import LogKey, RunningWitness, SpecWitness, WitnessRefusalError


class Clock:
    """The worker's clock, moved by the test (to pass a backoff without waiting)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def running() -> Iterator[Callable[[str], RunningWitness]]:
    started: list[RunningWitness] = []

    def start(name: str) -> RunningWitness:
        started.append(RunningWitness(SpecWitness(name, logs={})))
        return started[-1]

    yield start
    for witness in started:
        witness.witness.down = False
        witness.stop()


def policy(witnesses: list[RunningWitness], quorum: str) -> str:
    lines = [f"witness w{i + 1} {w.witness.vkey} {w.url}" for i, w in enumerate(witnesses)]
    return "# the log's witnesses\n" + "\n".join(lines) + f"\n{quorum}\n"


@pytest.fixture
def witnessed(
    make_api: ApiFactory, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[Api, Journal, WitnessWorker, Clock]]:
    """The app with a policy over the given witnesses, each made to follow this log
    (``/api/v1/chain`` reading the witnesses afresh each time), on SQLite and PostgreSQL."""
    monkeypatch.setattr("api.witnesses.SUMMARY_TTL_S", 0)

    def make(
        witnesses: list[RunningWitness], quorum: str, **settings: Any
    ) -> tuple[Api, Journal, WitnessWorker, Clock]:
        path = tmp_path / "witnesses.policy"
        path.write_text(policy(witnesses, quorum))
        chain = ChainClient.embedded(chain=EmbeddedChain())
        chain.deploy()
        api = make_api(
            database_url,
            chain,
            witness_policy_file=path,
            witness_allow_private=True,
            witness_interval_s=0,
            **settings,
        )
        log = api.services.log
        assert log is not None
        assert api.services.witnesses is not None
        log._interval_s = 0  # sign the journal's size at every round
        for w in witnesses:
            w.witness.logs[log.origin] = LogKey.from_vkey(log.vkey)
        clock = Clock()
        worker = WitnessWorker(
            api.store, log, api.services.witnesses, api.services.settings, clock=clock
        )
        return api, Journal(api.store), worker, clock

    return make


def chain_view(api: Api) -> dict[str, Any]:
    answer: dict[str, Any] = api.client.get("/api/v1/chain").json()
    return answer


def cosigners(note: str, witnesses: list[RunningWitness]) -> set[str]:
    """The witnesses whose cosignature of ``note`` verifies (checked here, independently)."""
    text = note[: note.index("\n\n") + 1]
    found = set()
    for line in note[note.index("\n\n") + 2 :].splitlines():
        name, raw = parse_signature_line(line)
        for w in witnesses:
            key = CosignerKey.parse(w.witness.vkey)
            if name == key.name and raw[:4] == key.key_id:
                key.open(text, raw)
                found.add(w.witness.name)
    return found


def test_honest_witnesses_cosign_and_the_checkpoint_is_witnessed(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1, w2 = running("witness.example/w1"), running("witness.example/w2")
    api, journal, worker, _ = witnessed([w1, w2], "group both all w1 w2\nquorum both")
    log_key = Verifier.parse(api.services.log.vkey)
    journal.donate(10)
    api.anchor()  # size 12, signed before it is anchored
    worker.run_once()

    for w in (w1, w2):
        assert len(w.witness.requests) == 1
        first = w.witness.requests[0]
        assert first.startswith("old 0\n\n")  # no proof from the empty tree
        assert first.removeprefix("old 0\n\n").startswith(f"{log_key.name}\n12\n")
    served = api.client.get("/tlog/checkpoint").text
    assert open_checkpoint(served, log_key).tree_size == 12
    assert cosigners(served, [w1, w2]) == {"witness.example/w1", "witness.example/w2"}
    view = chain_view(api)
    assert view["witness_quorum"] == "2 of (w1, w2)"
    assert view["witnessed_size"] == 12
    assert [(w["name"], w["state"], w["lag_entries"]) for w in view["witnesses"]] == [
        ("w1", "cosigned", 0),
        ("w2", "cosigned", 0),
    ]
    assert view["witnesses"][0]["vkey"] == w1.witness.vkey

    # The journal grows: each witness is sent a proof from the size it cosigned.
    journal.donate(7)
    worker.run_once()
    second = w1.witness.requests[1]
    head, _, note = second.partition("\n\n")
    old, *proof = head.split("\n")
    assert old == "old 12"
    assert proof
    assert all(len(base64.b64decode(p)) == 32 for p in proof)
    assert note.startswith(f"{log_key.name}\n19\n")
    assert chain_view(api)["witnessed_size"] == 19
    assert cosigners(api.client.get("/tlog/checkpoint").text, [w1, w2]) == {
        "witness.example/w1",
        "witness.example/w2",
    }


def test_a_proof_bundle_carries_the_cosignatures_of_its_checkpoint(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, _, worker, _ = witnessed([w1], "quorum w1")
    charity, auth = api.register_charity()
    project = api.open_project(charity, auth)
    donation = api.donate(charity, project)
    api.anchor()
    worker.run_once()
    bundle = api.client.get(f"/api/v1/donations/{donation['id']}/proof").json()
    note = bundle["checkpoint_note"]
    size = bundle["checkpoint"]["tree_size"]
    assert open_checkpoint(note, Verifier.parse(api.services.log.vkey)).tree_size == size
    assert cosigners(note, [w1]) == {"witness.example/w1"}
    assert "\n— witness.example/w1 " in note


def test_a_witness_that_holds_another_size_answers_409_and_the_log_proves_again(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, journal, worker, _ = witnessed([w1], "quorum w1")
    journal.donate(3)
    # The witness cosigned size 5 already (another process of the log sent it; this one's
    # state does not know): the log's first request, from 0, is answered 409 with 5.
    early = api.services.log.sign_current()
    direct = httpx.post(f"{w1.url}/add-checkpoint", content=f"old 0\n\n{early.note}")
    assert direct.status_code == 200
    journal.donate(20)
    worker.run_once()

    sent = w1.witness.requests[1:]
    assert [s.split("\n", 1)[0] for s in sent] == ["old 0", "old 5"]
    assert len(sent[1].partition("\n\n")[0].split("\n")) > 1  # a proof from 5 to 25
    view = chain_view(api)["witnesses"][0]
    assert (view["state"], view["cosigned_size"], view["lag_entries"]) == ("cosigned", 25, 0)
    assert chain_view(api)["witnessed_size"] == 25


def test_a_409_naming_the_checkpoints_own_size_is_cosigned_without_a_proof(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, journal, worker, _clock = witnessed([w1], "quorum w1")
    journal.donate(20)
    late = api.services.log.sign_current()
    assert (
        httpx.post(f"{w1.url}/add-checkpoint", content=f"old 0\n\n{late.note}").status_code == 200
    )
    # This log's state forgot it, and its newest checkpoint is that size: 409 22 → cosigned
    # without a proof (same size, same root).
    worker.run_once()
    assert [r.split("\n", 1)[0] for r in w1.witness.requests[1:]] == ["old 0", "old 22"]
    assert chain_view(api)["witnesses"][0]["state"] == "cosigned"


def fork_of(api: Api, tmp_path: Path, entries: int) -> str:
    """A checkpoint of another journal signed with this log's key (a split view)."""
    from api.tlog import TransparencyLog

    other = Store.open(f"sqlite:///{tmp_path}/fork.db")
    Journal(other).donate(entries)
    assert api.services.log is not None
    note = TransparencyLog(other, api.services.log.signer).sign_current().note
    other.engine.dispose()
    return note


def test_a_witness_refuses_a_checkpoint_inconsistent_with_what_it_saw(
    running: Callable[[str], RunningWitness],
    witnessed: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w1, w2 = running("witness.example/w1"), running("witness.example/w2")
    api, journal, worker, _ = witnessed([w1, w2], "group both all w1 w2\nquorum both")
    # Someone with the log key showed w1 a forked journal of 5 entries first.
    fork = fork_of(api, tmp_path, 3)
    assert httpx.post(f"{w1.url}/add-checkpoint", content=f"old 0\n\n{fork}").status_code == 200
    journal.donate(10)
    with caplog.at_level(logging.ERROR, logger="shanlian.witnesses"):
        worker.run_once()

    # w1: 409 (it holds 5), the proof from 5 does not match its root: 422, not cosigned.
    assert [r.split("\n", 1)[0] for r in w1.witness.requests[1:]] == ["old 0", "old 5"]
    view = chain_view(api)
    w1_view, w2_view = view["witnesses"]
    assert w1_view["state"] == "refused"
    assert "HTTP 422" in w1_view["detail"]
    assert "consistency proof" in w1_view["detail"]
    assert w1_view["cosigned_size"] == 0
    assert w1_view["lag_entries"] == 12
    assert w2_view["state"] == "cosigned"
    assert view["witnessed_size"] is None  # the quorum (both) is not met
    assert "witness w1 did not cosign checkpoint 12 (refused" in caplog.text
    served = api.client.get("/tlog/checkpoint").text
    assert cosigners(served, [w1, w2]) == {"witness.example/w2"}


def test_a_witness_down_or_slow_delays_only_its_cosignature(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1, w2 = running("witness.example/w1"), running("witness.example/w2")
    api, _journal, worker, clock = witnessed(
        [w1, w2], "group any-one any w1 w2\nquorum any-one", witness_timeout_s=0.5
    )
    w1.witness.down = True
    w2.witness.delay_s = 1.5  # past the timeout
    charity, auth = api.register_charity()
    project = api.open_project(charity, auth)
    api.donate(charity, project)
    first_anchor = api.anchor()["tree_size"]
    worker.run_once()
    view = chain_view(api)
    assert [w["state"] for w in view["witnesses"]] == ["unreachable", "unreachable"]
    assert view["witnessed_size"] is None
    first_try = [len(w.witness.requests) for w in (w1, w2)]

    # Ingest and anchoring go on; the lag grows and shows in /metrics.
    for _ in range(3):
        api.donate(charity, project)
    size = api.anchor()["tree_size"]
    assert size == api.store.size() > first_anchor
    worker.run_once()  # within the backoff: not sent again
    assert [len(w.witness.requests) for w in (w1, w2)] == first_try
    metrics = api.client.get("/metrics").text
    assert f'shanlian_witness_lag_entries{{witness="w1"}} {size}.0' in metrics
    assert "shanlian_witnessed_entries 0.0" in metrics
    assert 'shanlian_witness_attempts_total{outcome="unreachable",witness="w1"}' in metrics
    pausing = chain_view(api)["witnesses"][0]
    assert pausing["next_attempt_at"] is not None
    assert pausing["lag_entries"] == size

    # Back up: after the pause, the witness catches up on the anchored checkpoints in order.
    w1.witness.down = False
    w2.witness.delay_s = 0
    clock.now += timedelta(minutes=10)
    worker.run_once()
    sent = [r.partition("\n\n")[2].split("\n")[1] for r in w1.witness.requests[-2:]]
    assert sent == [str(first_anchor), str(size)]  # the anchored one first, then the latest
    view = chain_view(api)
    assert view["witnessed_size"] == size
    assert [(w["state"], w["lag_entries"]) for w in view["witnesses"]] == [
        ("cosigned", 0),
        ("cosigned", 0),
    ]
    assert 'shanlian_witness_lag_entries{witness="w1"} 0.0' in api.client.get("/metrics").text


def test_the_worker_thread_never_holds_up_donations_or_anchoring(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, _journal, _, _ = witnessed([w1], "quorum w1", witness_timeout_s=30)
    gate = threading.Event()
    w1.witness.delay_s = 0
    original = w1.witness.add_checkpoint

    def held(body: bytes) -> str:
        gate.wait(30)
        return original(body)

    w1.witness.add_checkpoint = held  # type: ignore[method-assign]
    charity, auth = api.register_charity()
    project = api.open_project(charity, auth)
    stop = threading.Event()
    thread = start_worker(
        api.store, api.services.log, api.services.witnesses, api.services.settings, stop
    )
    assert thread is not None
    try:
        while not w1.witness.requests:  # the worker is now waiting for the witness
            threading.Event().wait(0.01)
        for _ in range(5):
            api.donate(charity, project)
        assert api.anchor()["tree_size"] == api.store.size() > 2
        assert chain_view(api)["witnessed_size"] is None
    finally:
        gate.set()
        stop.set()
        thread.join(timeout=30)


# -- the policy the service starts with ------------------------------------------------------


def test_a_policy_is_checked_when_the_service_starts(
    make_api: ApiFactory, sqlite_url: str, tmp_path: Path, running: Callable[[str], Any]
) -> None:
    w1 = running("witness.example/w1")
    path = tmp_path / "policy"
    cases = {
        f"witness w1 {w1.witness.vkey}\nquorum w1\n": "witness w1 has no URL",
        f"witness w1 {w1.witness.vkey} {w1.url}\nquorum w1\n": "must be https",
        f"witness w1 {w1.witness.vkey} https://10.0.0.8/w\nquorum w1\n": "not a public address",
        f"witness w1 {w1.witness.vkey} https://w.example\n": "no quorum line",
        "witness w1 example.org/w+00000000+AAAA https://w.example\nquorum w1\n": "line 1",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(WitnessPolicyError, match=message):
            make_api(sqlite_url, None, witness_policy_file=path)


def test_a_policy_for_another_log_is_refused(
    make_api: ApiFactory, sqlite_url: str, tmp_path: Path, running: Callable[[str], Any]
) -> None:
    w1 = running("witness.example/w1")
    other = Signer.generate("elsewhere.example/tlog").verifier.vkey
    path = tmp_path / "policy"
    path.write_text(f"log {other}\nwitness w1 {w1.witness.vkey} https://w.example\nquorum w1\n")
    with pytest.raises(WitnessPolicyError, match="the policy of another log"):
        make_api(sqlite_url, None, witness_policy_file=path)


def _answers_with_a_stranger_cosignature(witness: SpecWitness) -> None:
    stranger = SpecWitness(witness.name, logs={})  # its name, another key

    def answer(body: bytes) -> str:
        return stranger.cosign(body.decode().partition("\n\n")[2].partition("\n\n")[0] + "\n")

    witness.add_checkpoint = answer  # type: ignore[method-assign]


def _answers_409_with_a_size_beyond_bigint(witness: SpecWitness) -> None:
    def answer(body: bytes) -> str:
        raise WitnessRefusalError(409, f"{1 << 64}\n", "text/x.tlog.size")

    witness.add_checkpoint = answer  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("setup", "state", "detail"),
    [
        (lambda w, log: w.logs.clear(), "unknown_log", "HTTP 404: unknown log"),
        (
            lambda w, log: w.logs.update(
                {log.origin: LogKey.from_vkey(Signer.generate(log.origin).verifier.vkey)}
            ),
            "forbidden",
            "HTTP 403: no signature by the log's key",
        ),
        (lambda w, log: _answers_with_a_stranger_cosignature(w), "bad_answer", "200 without"),
        (lambda w, log: _answers_409_with_a_size_beyond_bigint(w), "bad_answer", "409 without"),
    ],
)
def test_a_witness_that_answers_otherwise_is_not_counted_and_says_why(
    running: Callable[[str], RunningWitness],
    witnessed: Callable[..., Any],
    setup: Callable[[SpecWitness, Any], None],
    state: str,
    detail: str,
) -> None:
    w1 = running("witness.example/w1")
    api, journal, worker, _ = witnessed([w1], "quorum w1")
    setup(w1.witness, api.services.log)
    journal.donate(4)
    worker.run_once()
    view = chain_view(api)
    assert view["witnesses"][0]["state"] == state
    assert view["witnesses"][0]["detail"].startswith(detail)
    assert view["witnessed_size"] is None
    assert cosigners(api.client.get("/tlog/checkpoint").text, [w1]) == set()


def test_a_witness_past_an_anchored_checkpoint_is_sent_the_newest_at_once(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, journal, worker, _ = witnessed([w1], "quorum w1")
    journal.donate(3)
    anchored = api.anchor()["tree_size"]  # 5
    journal.donate(3)
    between = api.services.log.sign_current()  # 8, which the witness has seen already
    sent = httpx.post(f"{w1.url}/add-checkpoint", content=f"old 0\n\n{between.note}")
    assert sent.status_code == 200
    journal.donate(3)
    worker.run_once()  # 5 (409: 8), then 11 from 8, in the same round
    asked = [
        r.split("\n", 1)[0] + " → " + r.partition("\n\n")[2].split("\n")[1]
        for r in w1.witness.requests[1:]
    ]
    assert asked == [f"old 0 → {anchored}", f"old 8 → {api.store.size()}"]
    view = chain_view(api)["witnesses"][0]
    assert (view["state"], view["lag_entries"], view["next_attempt_at"]) == ("cosigned", 0, None)


def test_two_processes_sending_at_once_end_cosigned_once(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    """Every process runs the worker: two that race get a 409 each way and prove again."""
    w1 = running("witness.example/w1")
    api, journal, worker, clock = witnessed([w1], "quorum w1")
    other = WitnessWorker(
        api.store, api.services.log, api.services.witnesses, api.services.settings, clock=clock
    )
    journal.donate(30)
    api.services.log.sign_current()
    threads = [threading.Thread(target=w.run_once) for w in (worker, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    size = api.store.size()
    assert w1.witness.state[api.services.log.origin].size == size
    view = chain_view(api)
    assert view["witnessed_size"] == size
    assert (view["witnesses"][0]["state"], view["witnesses"][0]["lag_entries"]) == ("cosigned", 0)


def test_the_checkpoint_served_is_the_newest_that_meets_the_quorum(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    w1 = running("witness.example/w1")
    api, journal, worker, _ = witnessed([w1], "quorum w1")
    log_key = Verifier.parse(api.services.log.vkey)
    journal.donate(5)
    worker.run_once()
    witnessed_size = api.store.size()
    w1.witness.down = True
    journal.donate(5)
    worker.run_once()  # signs the new size; the witness does not answer
    assert api.services.log.checkpoints.latest().tree_size == api.store.size() > witnessed_size
    served = api.client.get("/tlog/checkpoint").text
    assert open_checkpoint(served, log_key).tree_size == witnessed_size
    assert cosigners(served, [w1]) == {"witness.example/w1"}


def test_the_witnesses_command_prints_the_quorum_and_each_lag(
    running: Callable[[str], RunningWitness],
    witnessed: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main
    from api.settings import get_settings
    from api.tlog import log_key_path

    w1, w2 = running("witness.example/w1"), running("witness.example/w2")
    api, journal, worker, _ = witnessed([w1, w2], "group g any w1 w2\nquorum g")
    w2.witness.down = True
    journal.donate(3)
    worker.run_once()
    monkeypatch.setenv("API_LOG_KEY_FILE", str(log_key_path(api.services.settings)))
    monkeypatch.setenv("API_WITNESS_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    try:
        url = str(api.store.engine.url.render_as_string(hide_password=False))
        policy = str(tmp_path / "witnesses.policy")
        assert main(["--database", url, "witnesses", "--policy", policy]) == 0
        out = capsys.readouterr().out
        assert "quorum  1 of (w1, w2)" in out
        assert "cosigned  5 entries (lag 0 entries, 0 s)" in out
        assert "state     unreachable: RemoteProtocolError" in out
        (tmp_path / "bad.policy").write_text("quorum w9\n")
        assert main(["--database", url, "witnesses", "--policy", str(tmp_path / "bad.policy")]) == 2
        assert "line 1: quorum 'w9' is not defined above" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_shanlian_verify_checks_the_bundles_cosignatures_against_a_policy(
    running: Callable[[str], RunningWitness], witnessed: Callable[..., Any]
) -> None:
    from audit.bundle import verify_bundle_offline
    from audit.errors import CosignatureError
    from ledger.tlog_policy import parse_policy

    w1, w2 = running("witness.example/w1"), running("witness.example/w2")
    api, _, worker, _ = witnessed([w1, w2], "group g any w1 w2\nquorum g")
    w2.witness.down = True
    charity, auth = api.register_charity()
    donation = api.donate(charity, api.open_project(charity, auth))
    api.anchor()
    worker.run_once()
    bundle = api.client.get(f"/api/v1/donations/{donation['id']}/proof").json()
    log_key = Verifier.parse(api.services.log.vkey)
    any_one = parse_policy(policy([w1, w2], "group g any w1 w2\nquorum g"))
    steps = verify_bundle_offline(bundle, log_key=log_key, witnesses=any_one)
    assert steps[-1].name == "cosignatures"
    assert "cosigned by w1: the policy's quorum (1 of (w1, w2)) is met" in steps[-1].detail
    both = parse_policy(policy([w1, w2], "group g all w1 w2\nquorum g"))
    with pytest.raises(CosignatureError, match="cosigned by w1 of the policy; its quorum"):
        verify_bundle_offline(bundle, log_key=log_key, witnesses=both)
    line = bundle["checkpoint_note"].splitlines()[-1]
    changed = line[:-20] + ("A" if line[-20] != "A" else "B") + line[-19:]  # the signature
    bundle["checkpoint_note"] = bundle["checkpoint_note"].replace(line, changed)
    with pytest.raises(CosignatureError, match="witness w1: the cosignature by"):
        verify_bundle_offline(bundle, log_key=log_key, witnesses=any_one)
