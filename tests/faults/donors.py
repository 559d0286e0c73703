"""Donors paying through the HTTP API while the tests break things underneath.

Each donor is a thread that records donations one after another, the way a payment
channel would: every donation has its own ``Idempotency-Key`` and ``payment_ref``, and
on a connection error, a timeout or a 5xx it sends the very same request again (same
key, same body) — to the next API process, as a proxy would — until it is acknowledged
(201) or its retry budget is spent. Some donations are sent a second time even after a
201, as a client whose answer got lost would.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import paid_now

RETRY_BUDGET_S = 90.0
"""How long a donor keeps retrying one donation (longer than any fault lasts)."""


@dataclass(frozen=True)
class Acknowledged:
    """A donation the API acknowledged with 201."""

    payment_ref: str
    donation_id: str
    seq: int
    attempts: int


@dataclass
class Outcome:
    """What the donors saw."""

    acknowledged: list[Acknowledged] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    """Every payment_ref sent at least once, acknowledged or not."""
    retried: int = 0
    """Requests sent again after an error (same key, same body)."""
    repeated: int = 0
    """Requests sent again after a 201, on purpose."""
    given_up: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """4xx answers: never expected, each one a bug."""


class Donors:
    """``count`` donor threads posting donations round-robin to ``urls``."""

    def __init__(
        self,
        urls: Sequence[str],
        token: str,
        charity_id: str,
        project_id: str,
        *,
        count: int = 6,
        seed: int = 7,
    ) -> None:
        self.urls = list(urls)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.charity_id = charity_id
        self.project_id = project_id
        self.count = count
        self.seed = seed
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Donors:
        for index in range(self.count):
            thread = threading.Thread(target=self._donor, args=(index,), name=f"donor-{index}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> Outcome:
        """Let each donor finish the donation it is on, then stop them all."""
        self._stop.set()
        for thread in self._threads:
            thread.join(RETRY_BUDGET_S + 30)
        assert not any(t.is_alive() for t in self._threads), "a donor thread hangs"
        return self.outcome

    @property
    def acknowledged(self) -> int:
        with self._lock:
            return len(self.outcome.acknowledged)

    def wait_for(self, more: int, timeout_s: float = 60.0) -> None:
        """Block until ``more`` donations beyond those acknowledged now are acknowledged."""
        target = self.acknowledged + more
        deadline = time.monotonic() + timeout_s
        while self.acknowledged < target:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the donors got {self.acknowledged} of {target} acknowledgements "
                    f"in {timeout_s} s"
                )
            time.sleep(0.05)

    def _body(self, rng: random.Random, payment_ref: str) -> dict[str, Any]:
        return {
            "charity_id": self.charity_id,
            "project_id": self.project_id if rng.random() < 0.8 else None,
            "amount": rng.randint(1, 10**6),
            "currency": "CNY",
            "channel": rng.choice(["card", "wechat", "alipay", "bank"]),
            "paid_at": paid_now(),
            "payment_ref": payment_ref,
            "donor": {"name": "王小明", "phone": "+86-138-0000-0000", "anonymous": False},
        }

    def _donor(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        turn = index
        with httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
            while not self._stop.is_set():
                payment_ref = f"PAY-{index}-{uuid.UUID(int=rng.getrandbits(128)).hex}"
                body = self._body(rng, payment_ref)
                headers = self.headers | {"Idempotency-Key": uuid.uuid4().hex}
                with self._lock:
                    self.outcome.sent.append(payment_ref)
                answer, attempts, turn = self._send(client, body, headers, turn)
                if answer is None:
                    with self._lock:
                        self.outcome.given_up.append(payment_ref)
                    continue
                if answer.status_code != 201:
                    with self._lock:
                        self.outcome.refused.append(f"{answer.status_code} {answer.text[:300]}")
                    continue
                created = answer.json()
                acknowledged = Acknowledged(
                    payment_ref, created["id"], int(created["seq"]), attempts
                )
                with self._lock:
                    self.outcome.acknowledged.append(acknowledged)
                if rng.random() < 0.1:  # the answer "got lost": the channel asks again
                    again, _, turn = self._send(client, body, headers, turn + 1)
                    with self._lock:
                        self.outcome.repeated += 1
                        if again is None or again.status_code != 201:
                            status = "no answer" if again is None else again.status_code
                            self.outcome.refused.append(f"repeat of {payment_ref}: {status}")
                        elif again.json()["id"] != created["id"]:
                            self.outcome.refused.append(
                                f"repeat of {payment_ref} answered another donation"
                            )

    def _send(
        self, client: httpx.Client, body: dict[str, Any], headers: dict[str, str], turn: int
    ) -> tuple[httpx.Response | None, int, int]:
        """POST until an answer that is not an error to retry; (answer, attempts, turn)."""
        deadline = time.monotonic() + RETRY_BUDGET_S
        attempts = 0
        pause = 0.05
        while True:
            url = self.urls[turn % len(self.urls)]
            attempts += 1
            try:
                answer = client.post(f"{url}/api/v1/donations", json=body, headers=headers)
                if answer.status_code < 500:
                    return answer, attempts, turn
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                return None, attempts, turn
            with self._lock:
                self.outcome.retried += 1
            turn += 1
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
