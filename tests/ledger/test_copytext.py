"""Text the store writes for PostgreSQL: COPY rows (``ledger.store.copytext``) and the
batch's array literal of keys (``copytext.array_literal``), each read back as written.

``bulk_insert`` converts a column at a time; the property holds it to the value-by-value
conversion (``_COPY_TEXT``), byte for byte, and the round trip to what PostgreSQL stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.engine import Engine

from ledger.store.copytext import _COPY_TEXT, _rows_text, array_literal, bulk_insert
from ledger.store.engine import make_engine

AWKWARD = ["", "\\", "\\N", "a\tb", "a\nb", "a\rb", "\\x00ff", "王小明", "é\u0301", "\U0001f600"]
"""Strings COPY text must escape, or must not mistake for NULL or bytea."""
MOMENTS = [
    datetime(2026, 12, 6, 11, 22, 3, 123456, tzinfo=UTC),
    datetime(2026, 12, 6, 11, 22, 3, tzinfo=UTC),  # no microseconds: isoformat drops them
    datetime(2026, 12, 6, 19, 22, 3, 500, tzinfo=timezone(timedelta(hours=8))),
    datetime(1, 1, 1, tzinfo=UTC),
]

SCRATCH = Table(
    "copy_scratch",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", Text),
    Column("secret", LargeBinary),
    Column("flag", Boolean),
    Column("amount", BigInteger),
    Column("moment", DateTime(timezone=True)),
)


def reference_text(rows: list[Mapping[str, Any]]) -> str:
    """COPY text value by value, each converted by its own type (the contract)."""
    return "".join(
        "\t".join(_COPY_TEXT[type(value)](value) for value in row.values()) + "\n" for row in rows
    )


texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
values = st.one_of(
    st.none(),
    texts,
    st.sampled_from(AWKWARD),
    st.binary(max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(MOMENTS),
    st.datetimes(timezones=st.just(UTC)),
)


@given(
    rows=st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.lists(
            st.lists(values, min_size=width, max_size=width), min_size=1, max_size=30
        )
    )
)
def test_rows_text_writes_each_value_as_its_own_type_would(rows: list[list[Any]]) -> None:
    as_dicts: list[Mapping[str, Any]] = [{f"c{i}": v for i, v in enumerate(r)} for r in rows]
    assert _rows_text(as_dicts) == reference_text(as_dicts)


@pytest.mark.parametrize(
    "column",
    [
        AWKWARD,
        ["\\", "\\N", "\\x00ff"],  # only backslashes to escape
        ["plain", "ids", "only"],
        [b"", b"\x00\xff", b"\\"],
        [True, False, True],
        [None, None],
        [0, -1, 2**63 - 1],
        MOMENTS,
        ["mixed", None, "a\tb"],
    ],
)
def test_a_column_of_one_type_is_written_as_each_value_alone(column: list[Any]) -> None:
    rows: list[Mapping[str, Any]] = [{"value": value} for value in column]
    assert _rows_text(rows) == reference_text(rows)


def test_a_value_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(KeyError):
        _rows_text([{"value": 1.5}, {"value": 2.5}])


def test_rows_of_different_widths_are_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        _rows_text([{"a": 1, "b": 2}, {"a": 1}])


@pytest.fixture
def scratch(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database)
    SCRATCH.create(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_bulk_insert_round_trips_awkward_values_on_postgres(scratch: Engine) -> None:
    # Each column of one type (converted a column at a time)...
    alike = [
        {
            "id": index,
            "label": label,
            "secret": bytes([index, 0, 92, 9, 255])[: index % 6],
            "flag": index % 2 == 0,
            "amount": -(2**63) + index,
            "moment": MOMENTS[index % len(MOMENTS)],
        }
        for index, label in enumerate(AWKWARD)
    ]
    # ...and with NULLs among them (value by value).
    mixed = [
        {"id": 100, "label": None, "secret": None, "flag": None, "amount": None, "moment": None},
        {"id": 101, "label": "a\\tb\r", "secret": b"\\", "flag": True, "amount": 7, "moment": None},
    ]
    with scratch.begin() as connection:
        bulk_insert(connection, SCRATCH, alike)
        bulk_insert(connection, SCRATCH, mixed)
    with scratch.connect() as connection:
        stored = {row.id: row._asdict() for row in connection.execute(select(SCRATCH))}
    assert stored == {row["id"]: row for row in alike + mixed}


@pytest.mark.postgres
@pytest.mark.parametrize(
    "values",
    [[], ["a"], ["plain", "keys"], ['q"uote', "back\\slash", "\\", '"', "a,b", "{}", "NULL", " "]],
)
def test_an_array_literal_reads_back_as_its_values_on_postgres(
    scratch: Engine, values: list[str]
) -> None:
    with scratch.connect() as connection:
        read = connection.execute(
            text("SELECT CAST(:values AS text[])"), {"values": array_literal(values)}
        ).scalar_one()
    assert read == values
