"""The background workers that send to URLs they were given: webhooks and witnesses.

Each holds one HTTP client that never follows a redirect (a redirect could lead past
``api.outbound.check_url`` to a private address) and says who is asking, runs rounds in a
daemon thread of its own until told to stop, and takes a database fault as a delay: the
next round tries again.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

import httpx
import sqlalchemy.exc

from api.settings import ApiSettings


class OutboundWorker(ABC):
    """A round (``run_once``), a pause (``pause_s``), again, until stopped."""

    name: str
    """The thread's name, and the log's (``shanlian.<name>``)."""

    def __init__(self, settings: ApiSettings, *, timeout_s: float, user_agent: str) -> None:
        self.settings = settings
        self._http = httpx.Client(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": user_agent}
        )

    def close(self) -> None:
        self._http.close()

    @abstractmethod
    def run_once(self) -> object:
        """One round of sending."""

    @abstractmethod
    def pause_s(self) -> float:
        """How long to wait between rounds."""

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; a database fault only delays."""
        while not stop.is_set():
            try:
                self.run_once()
            except sqlalchemy.exc.SQLAlchemyError as error:
                logging.getLogger(f"shanlian.{self.name}").warning(
                    "%s: the database failed (%s); trying again", self.name, error
                )
            stop.wait(self.pause_s())
        self.close()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread until ``stop`` is set."""
        thread = threading.Thread(target=self.run, args=(stop,), name=self.name, daemon=True)
        thread.start()
        return thread
