"""Reading what one query finds, in a connection of its own, as the store's records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
R = TypeVar("R", bound="DataclassInstance")


def record_of(kind: type[R], row: Any) -> R:
    """The ``kind`` record of ``row``: each of its fields the row's column of that name, as is.

    The row may have more columns than the record has fields (a join's): they are left out.
    """
    return kind(**{field.name: getattr(row, field.name) for field in fields(kind)})


def first_row(engine: Engine, query: Executable, record: Callable[[Any], T]) -> T | None:
    """The first row ``query`` finds, made a record by ``record``; None when it finds none."""
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else record(row)


def all_rows(engine: Engine, query: Executable, record: Callable[[Any], T]) -> list[T]:
    """Every row ``query`` finds, in its order, each made a record by ``record``."""
    with engine.connect() as connection:
        return [record(row) for row in connection.execute(query)]
