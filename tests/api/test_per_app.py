"""What an app keeps for its process is made once, however many first requests race for it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from api.per_app import per_app


def test_racing_first_requests_get_one_object_made_once() -> None:
    app = SimpleNamespace(state=SimpleNamespace())
    made: list[object] = []

    def make() -> object:
        time.sleep(0.05)  # a window for the others to arrive while it is being made
        made.append(object())
        return made[-1]

    start = threading.Barrier(8)
    got: list[object] = []

    def first_request() -> None:
        start.wait()
        got.append(per_app(app, "gate", make))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(made) == 1
    assert got == made * 8
    assert app.state.gate is made[0]


def test_a_value_set_to_none_is_made_afresh() -> None:
    app = SimpleNamespace(state=SimpleNamespace())
    first = per_app(app, "rates", dict)
    assert per_app(app, "rates", dict) is first
    app.state.rates = None
    again = per_app(app, "rates", dict)
    assert again is not first
    assert per_app(app, "rates", dict) is again
