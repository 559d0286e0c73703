"""Every URL comes from explorer/urls.py, and the receipt's QR code agrees with it."""

from __future__ import annotations

from pathlib import Path

from api.app import build_services
from api.settings import ApiSettings
from explorer import urls


def test_receipt_url_of_the_service_is_the_explorers_donation_page(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/journal.db",
        admin_token="explorer-test-platform-token-0123456789",
        evidence_dir=tmp_path / "evidence",
        public_url="https://shanlian.example.org/",
    )
    services = build_services(settings, with_chain=False).services
    secret = bytes(range(16))
    expected = urls.receipt("https://shanlian.example.org", "dn_abc", secret)
    assert services.receipt_url("dn_abc", secret) == expected
    assert expected == (
        "https://shanlian.example.org/donations/dn_abc#s=000102030405060708090a0b0c0d0e0f"
    )
    services.store.engine.dispose()


def test_twins_are_the_page_path_with_json_appended() -> None:
    assert urls.donation("dn_x") + ".json" == urls.donation("dn_x", json=True)
    assert urls.entry(41, json=True) == "/entries/41.json"
    assert urls.home(json=True) == "/.json"
    assert urls.checkpoints(json=True, before=7) == "/checkpoints.json?before=7"
    assert urls.search("dn x", json=True) == "/search.json?q=dn+x"


def test_ids_are_quoted_into_one_path_segment() -> None:
    assert urls.charity("a/b?c#d") == "/charities/a%2Fb%3Fc%23d"


def test_language_switch_keeps_the_query() -> None:
    assert urls.with_language("/search?q=1", "en") == "/search?q=1&lang=en"
    assert urls.with_language("/", "zh-CN") == "/?lang=zh-CN"
