"""What an app keeps for the life of its process (rate limiters, gates, caches), made on first use.

Two first requests can ask at the same moment: sync routes run on a thread pool, and each
call of a test client runs an event loop of its own. Made twice, one object would be
dropped with what it had counted: a chain gate admitted twice as many as its limit, and
a rate limiter forgot the clients it had seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MAKING = threading.Lock()


def per_app(app: Any, name: str, make: Callable[[], T]) -> T:
    """``app.state.<name>``, made by ``make`` the first time it is asked for, exactly once.

    A value set to ``None`` (as a test does to start afresh) is made again.
    """
    state = app.state
    made: T | None = getattr(state, name, None)
    if made is None:
        with _MAKING:
            made = getattr(state, name, None)
            if made is None:
                made = make()
                setattr(state, name, made)
    return made
