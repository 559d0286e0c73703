"""Slots: at most so many of something at once, counted across threads.

The write admission (``api.gateway``) and the chain's JSON-RPC endpoint (``api.rpc``)
each refuse new work when their slots are taken, rather than queue it without bound.
"""

from __future__ import annotations

import threading


class Slots:
    """A count of slots taken, never over ``limit`` (safe from any thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken = 0
        # One event loop in production; a test client, or a thread pool's callbacks, may
        # take and give back from other threads.
        self._lock = threading.Lock()

    @property
    def taken(self) -> int:
        """Slots taken and not yet given back."""
        with self._lock:
            return self._taken

    def take(self) -> bool:
        """Take a slot if one is free; False when all ``limit`` are taken."""
        with self._lock:
            if self._taken >= self.limit:
                return False
            self._taken += 1
            return True

    def give_back(self, _: object = None) -> None:
        """Free a slot taken before (usable as a future's done callback)."""
        with self._lock:
            self._taken -= 1
