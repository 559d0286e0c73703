"""Files holding donors' data or secrets are 0600 in 0700 folders, whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.store.engine import make_engine
from ledger.store.files import create_private_file, private_dir, write_private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000, 0o077, 0o277], ids=lambda m: f"umask{m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process umask for the test (000: everything the program asks for is granted)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_private_files_and_folders_have_their_modes_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    assert create_private_file(tmp_path / "secret")
    assert mode(tmp_path / "secret") == 0o600
    private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a" / "b") == 0o700


def test_an_existing_database_open_to_others_is_named_in_a_warning_and_left_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="shanlian.files"):
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        engine.dispose()
    assert mode(path) == 0o644
    (record,) = [r for r in caplog.records if r.name == "shanlian.files"]
    assert str(path) in record.getMessage()
    assert f"chmod 600 {path}" in record.getMessage()


def test_a_private_existing_database_gives_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    with caplog.at_level(logging.WARNING, logger="shanlian.files"):
        for _ in range(2):  # created, then opened again
            make_engine(url).dispose()
    assert not [r for r in caplog.records if r.name == "shanlian.files"]
    assert mode(tmp_path / "journal.db") == 0o600


def test_a_read_only_engine_creates_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/absent.db", read_only=True)
    engine.dispose()
    assert not (tmp_path / "absent.db").exists()


def test_a_private_file_is_written_whole_with_mode_0600_over_an_open_one(
    tmp_path: Path, umask: int
) -> None:
    path = tmp_path / "qr.png"
    path.write_bytes(b"old")
    path.chmod(0o666)
    write_private_file(path, b"new secret")
    assert path.read_bytes() == b"new secret"
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["qr.png"]  # no temporary file left
