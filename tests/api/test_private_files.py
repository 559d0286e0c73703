"""Files holding donors' data or secrets are 0600 in 0700 folders, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from api.cli import main
from api.settings import ApiSettings, get_settings
from ledger.store.journal import Store
from tests import factories as f
from tests.api.conftest import ApiFactory

UMASKS = [0o022, 0o000, 0o077]


@pytest.mark.parametrize("umask", UMASKS)
def test_the_embedded_database_and_its_folders_are_private(tmp_path: Path, umask: int) -> None:
    """Donors' names, phones and receipt secrets: 0600 files in 0700 folders."""
    data = tmp_path / "srv" / "var"
    old = os.umask(umask)
    try:
        settings = ApiSettings(
            database_url=f"sqlite:///{data}/shanlian.db", evidence_dir=data / "evidence"
        )
        settings.ensure_data_dir()
        store = Store.open(settings.database_url)
        charity = f.charity()
        store.append([charity, f.project(charity.body["charity_id"])])
    finally:
        os.umask(old)
    with store.engine.connect() as connection:  # keeps the -wal and -shm files open
        connection.execute(text("SELECT 1"))
        files = sorted(p.name for p in data.iterdir() if p.is_file())
        assert files == ["shanlian.db", "shanlian.db-shm", "shanlian.db-wal"]
        for name in files:
            assert mode(data / name) == 0o600, name
    store.engine.dispose()
    assert mode(data) == 0o700
    assert mode(data / "evidence") == 0o700
    # A parent we had to make is not ours to close: it gets the usual mode.
    assert mode(tmp_path / "srv") == 0o777 & ~umask


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", UMASKS)
def test_the_qr_codes_of_a_reissued_receipt_are_private(
    make_api: ApiFactory,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    umask: int,
) -> None:
    """They hold the receipt's secret (the link's ``#s=…``)."""
    api = make_api(sqlite_url)
    charity_id, key = api.register_charity()
    donation_id = api.donate(charity_id, api.open_project(charity_id, key))["id"]
    png, svg = tmp_path / "receipt.png", tmp_path / "receipt.svg"
    svg.write_text("an older file, open to all")
    svg.chmod(0o644)
    monkeypatch.setenv("API_EVIDENCE_DIR", str(tmp_path / "evidence"))
    get_settings.cache_clear()
    old = os.umask(umask)
    try:
        args = ["--database", sqlite_url, "receipt", donation_id, "--png", str(png)]
        assert main([*args, "--svg", str(svg)]) == 0
    finally:
        os.umask(old)
        get_settings.cache_clear()
    assert png.read_bytes().startswith(b"\x89PNG")
    assert svg.read_text().lstrip().startswith("<?xml")
    assert mode(png) == mode(svg) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
