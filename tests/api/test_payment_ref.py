"""The payment reference hash is keyed (ADR 0016): HMAC-SHA256 under a deployment secret.

References follow guessable formats, so a plain SHA-256 of one falls to a brute force of
the format. The key is configured (``API_PAYMENT_REF_KEY``, required in production) or,
on the embedded default, generated once into a 0600 file beside the data; it never
reaches the journal or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.app import build_services
from api.settings import ApiSettings
from ledger.entries import from_hex, plain_payment_ref_hash
from tests.api.conftest import PLATFORM_TOKEN, Api, ApiFactory, donation_body, new_key

KEY = "3c" * 32


def _donate(api: Api, reference: str) -> int:
    charity_id, _ = api.register_charity()
    response = api.client.post(
        "/api/v1/donations",
        json=donation_body(charity_id, None) | {"payment_ref": reference},
        headers=api.platform | new_key(),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["seq"])


@pytest.mark.parametrize("reference", ["PAY-20261126-00001234", "支付-0001", "x"])
def test_a_donation_records_the_hmac_of_its_reference_under_the_configured_key(
    make_api: ApiFactory, sqlite_url: str, reference: str
) -> None:
    api = make_api(sqlite_url, payment_ref_key=KEY)
    seq = _donate(api, reference)
    recorded = from_hex(str(api.store.entry(seq).body["payment_ref_hash"]))
    key = bytes.fromhex(KEY)
    assert recorded == hmac.new(key, reference.encode(), hashlib.sha256).digest()
    assert recorded != plain_payment_ref_hash(reference)


def test_the_key_appears_in_no_entry_and_no_answer(make_api: ApiFactory, sqlite_url: str) -> None:
    api = make_api(sqlite_url, payment_ref_key=KEY)
    seq = _donate(api, "PAY-1")
    donation_id = api.store.entry(seq).body["donation_id"]
    forms = {KEY, KEY.upper(), bytes.fromhex(KEY).hex(), "PAY-1"}
    leaves = b"".join(api.store.leaves()).decode()
    assert not [f for f in forms if f in leaves]
    for url in ("/api/v1/entries", f"/api/v1/donations/{donation_id}", "/openapi.json", "/"):
        text = api.client.get(url).text
        assert not [f for f in forms if f in text], url


def test_the_embedded_default_generates_a_key_once_in_a_private_file(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token=PLATFORM_TOKEN,
        evidence_dir=tmp_path / "data" / "evidence",
    )
    first = build_services(settings, with_chain=False).services
    key_file = tmp_path / "data" / "payment_ref.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first.settings.payment_ref_key_bytes.hex()
    again = build_services(settings, with_chain=False).services
    assert again.settings.payment_ref_key_bytes == first.settings.payment_ref_key_bytes
    other = build_services(
        settings.model_copy(update={"evidence_dir": tmp_path / "elsewhere" / "evidence"}),
        with_chain=False,
    ).services
    assert other.settings.payment_ref_key_bytes != first.settings.payment_ref_key_bytes
    for services in (first, again, other):
        services.store.engine.dispose()


def test_a_configured_key_writes_no_file(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token=PLATFORM_TOKEN,
        evidence_dir=tmp_path / "evidence",
        payment_ref_key=KEY,
    )
    services = build_services(settings, with_chain=False).services
    assert services.settings.payment_ref_key_bytes == bytes.fromhex(KEY)
    assert not (tmp_path / "payment_ref.key").exists()
    services.store.engine.dispose()


@pytest.mark.parametrize(
    "key",
    ["", "3c" * 31, "3c" * 33, "zz" * 32, "3c" * 31 + "3", "changeme", "0x" + "3c" * 31],
)
def test_a_key_that_is_not_32_bytes_of_hex_is_refused_naming_the_setting(key: str) -> None:
    with pytest.raises(ValidationError, match="API_PAYMENT_REF_KEY must be 64 hex digits"):
        ApiSettings(payment_ref_key=key)


def test_production_refuses_to_start_without_a_key() -> None:
    with pytest.raises(ValidationError, match="in production API_PAYMENT_REF_KEY must be set"):
        ApiSettings(environment="production", admin_token=PLATFORM_TOKEN)
    assert ApiSettings(environment="production", admin_token=PLATFORM_TOKEN, payment_ref_key=KEY)


@pytest.mark.parametrize("content", ["", "not a key\n", "3c" * 31, "3C" * 32 + "ff"])
def test_a_key_file_that_holds_no_key_stops_the_start(tmp_path: Path, content: str) -> None:
    (tmp_path / "payment_ref.key").write_text(content)
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token=PLATFORM_TOKEN,
        evidence_dir=tmp_path / "evidence",
    )
    with pytest.raises(ValueError, match="does not hold a payment reference key"):
        settings.with_payment_ref_key()
