"""Reading what one query finds, in a connection of its own, as the store's records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Engine

T = TypeVar("T")


def first_row(engine: Engine, query: Executable, record: Callable[[Any], T]) -> T | None:
    """The first row ``query`` finds, made a record by ``record``; None when it finds none."""
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else record(row)


def all_rows(engine: Engine, query: Executable, record: Callable[[Any], T]) -> list[T]:
    """Every row ``query`` finds, in its order, each made a record by ``record``."""
    with engine.connect() as connection:
        return [record(row) for row in connection.execute(query)]
