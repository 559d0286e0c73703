"""Charity and auditor keys: rotated and revoked through the API and ``shanlian keys``.

A rotated or revoked key is refused from the very next request (keys are looked up on
every request, never cached); another charity's key keeps working; however many
rotations race, one key is live afterwards; and no command prints a key but the one it
has just issued.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select

from api.cli import main
from api.keys import KEY_ID_PREFIX, KeyStore, NoSuchKeyError, UnknownCharityError, key_id
from ledger.store.tables import API_KEY
from tests.api.conftest import PLATFORM_TOKEN, Api, ApiFactory, bearer

UNKNOWN_CHARITY = "ch_000000000000nobody"


def can_write(api: Api, charity_id: str, auth: dict[str, str]) -> int:
    """The status of opening a project with ``auth``: a write only the charity may make."""
    response = api.client.post(
        f"/api/v1/charities/{charity_id}/projects",
        json={"title": "a project", "goal_amount": 100, "currency": "CNY"},
        headers=auth,
    )
    return response.status_code


def rotate(api: Api, charity_id: str, auth: dict[str, str]) -> Any:
    return api.client.post(f"/api/v1/charities/{charity_id}/keys", headers=auth)


def live_keys(keys: KeyStore, charity_id: str) -> list[str]:
    return [r.key_id for r in keys.records("charity", charity_id=charity_id) if not r.revoked_at]


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``shanlian`` makes its data folders (var/) where it runs: here, not in the checkout."""
    monkeypatch.chdir(tmp_path)


class Two(NamedTuple):
    """The API (no chain) and two charities, with their keys' Authorization headers."""

    api: Api
    charity_id: str
    auth: dict[str, str]
    other_id: str
    other_auth: dict[str, str]


@pytest.fixture
def two(make_api: ApiFactory, database_url: str) -> Two:
    api = make_api(database_url)
    charity_id, auth = api.register_charity("甲基金会")
    other_id, other_auth = api.register_charity("乙基金会")
    return Two(api, charity_id, auth, other_id, other_auth)


def test_a_charity_rotates_its_own_key_and_the_old_one_is_refused_at_once(
    two: Two,
) -> None:
    api, charity_id, old_auth, other_id, other_auth = two
    assert can_write(api, charity_id, old_auth) == 201
    response = rotate(api, charity_id, old_auth)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    new_key = answer["api_key"]
    assert answer["charity_id"] == charity_id
    assert answer["key_id"] == key_id(new_key)
    assert answer["revoked"] == [key_id(old_auth["Authorization"].removeprefix("Bearer "))]
    # The very next request with the old key: refused, for reads that need a key and writes.
    assert can_write(api, charity_id, old_auth) == 401
    assert rotate(api, charity_id, old_auth).status_code == 401
    refused = api.client.get("/api/v1/exports/donations.csv", headers=old_auth)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert can_write(api, charity_id, bearer(new_key)) == 201
    # The other charity's key is untouched.
    assert can_write(api, other_id, other_auth) == 201
    assert len(live_keys(api.services.keys, other_id)) == 1
    assert live_keys(api.services.keys, charity_id) == [key_id(new_key)]


def test_nobody_but_the_charity_and_the_platform_rotates_its_key(
    two: Two,
) -> None:
    api, charity_id, auth, other_id, other_auth = two
    auditor = bearer(api.services.keys.issue("auditor", "an outside auditor"))
    before = api.stored()
    cases = {
        "another charity": (other_auth, 403),
        "an auditor": (auditor, 403),
        "no token": ({}, 401),
        "a made-up token": (bearer("sk_" + "A" * 43), 401),
        "the platform token with a byte changed": (bearer(PLATFORM_TOKEN[:-1] + "!"), 401),
    }
    for who, (headers, status) in cases.items():
        response = rotate(api, charity_id, headers)
        assert response.status_code == status, (who, response.text)
        assert "api_key" not in response.json()
    # A charity names another charity's id, or one that does not exist: still its own only.
    assert rotate(api, other_id, auth).status_code == 403
    assert rotate(api, UNKNOWN_CHARITY, auth).status_code == 403
    assert api.stored() == before  # nothing issued, nothing revoked
    assert can_write(api, charity_id, auth) == 201
    assert can_write(api, other_id, other_auth) == 201


def test_the_platform_rotates_any_charitys_key_and_an_unknown_charity_is_404(
    two: Two,
) -> None:
    api, charity_id, auth, _, _ = two
    before = api.stored()
    missing = rotate(api, UNKNOWN_CHARITY, api.platform)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert api.stored() == before
    response = rotate(api, charity_id, api.platform)
    assert response.status_code == 201
    assert can_write(api, charity_id, auth) == 401
    assert can_write(api, charity_id, bearer(response.json()["api_key"])) == 201
    # The platform token is not a key of the store: rotations never touch it.
    assert can_write(api, charity_id, api.platform) == 201


def test_racing_rotations_leave_exactly_one_live_key(
    two: Two,
) -> None:
    api, charity_id, _, other_id, _ = two
    keys = api.services.keys
    racers = 6
    start = threading.Barrier(racers)
    issued: list[str] = []
    failures: list[BaseException] = []

    def race() -> None:
        try:
            start.wait()
            issued.append(keys.rotate_charity(charity_id).key)
        except BaseException as error:  # reported below, with the thread's own error
            failures.append(error)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(issued) == racers
    live = live_keys(keys, charity_id)
    assert len(live) == 1
    working = [key for key in issued if keys.authenticate(key) is not None]
    assert [key_id(key) for key in working] == live
    assert len(live_keys(keys, other_id)) == 1  # the other charity's key is still live


def test_a_revoked_charity_cannot_write_until_rotated(
    two: Two,
) -> None:
    api, charity_id, auth, other_id, other_auth = two
    keys = api.services.keys
    assert len(keys.revoke_charity(charity_id)) == 1
    assert can_write(api, charity_id, auth) == 401
    assert keys.revoke_charity(charity_id) == ()  # again: nothing live, no error
    assert can_write(api, other_id, other_auth) == 201
    with pytest.raises(UnknownCharityError, match="no charity 'ch_000000000000nobody'"):
        keys.revoke_charity(UNKNOWN_CHARITY)
    with pytest.raises(UnknownCharityError):
        keys.rotate_charity(UNKNOWN_CHARITY)
    issued = keys.rotate_charity(charity_id)
    assert issued.revoked == ()
    assert can_write(api, charity_id, bearer(issued.key)) == 201


def test_auditor_keys_are_named_by_key_id_or_label_and_rotate_and_revoke(
    make_api: ApiFactory, database_url: str
) -> None:
    api = make_api(database_url)
    keys = api.services.keys
    first = keys.issue_auditor("KPMG")
    second = keys.issue_auditor("KPMG")
    other = keys.issue_auditor("Deloitte")
    exports = "/api/v1/exports/donations.csv"
    for issued in (first, second, other):
        assert api.client.get(exports, headers=bearer(issued.key)).status_code == 200
    # By key id: that key only.
    rotated = keys.rotate_auditor(first.key_id)
    assert (rotated.label, rotated.revoked) == ("KPMG", (first.key_id,))
    assert api.client.get(exports, headers=bearer(first.key)).status_code == 401
    assert api.client.get(exports, headers=bearer(second.key)).status_code == 200
    assert api.client.get(exports, headers=bearer(rotated.key)).status_code == 200
    # By label: every live key that bears it.
    assert set(keys.revoke_auditor("KPMG")) == {second.key_id, rotated.key_id}
    for gone in (second, rotated):
        assert api.client.get(exports, headers=bearer(gone.key)).status_code == 401
    assert api.client.get(exports, headers=bearer(other.key)).status_code == 200
    for selector in ("KPMG", first.key_id, "kpmg", "", KEY_ID_PREFIX, other.key_id[:-1]):
        with pytest.raises(NoSuchKeyError):
            keys.revoke_auditor(selector)
    with pytest.raises(NoSuchKeyError):
        keys.rotate_auditor("KPMG")
    # A charity's key is no auditor's: neither selector reaches it.
    charity_id, auth = api.register_charity()
    with pytest.raises(NoSuchKeyError):
        keys.revoke_auditor(key_id(auth["Authorization"].removeprefix("Bearer ")))
    assert can_write(api, charity_id, auth) == 201


def test_no_key_is_stored_only_its_hash(make_api: ApiFactory, sqlite_url: str) -> None:
    api = make_api(sqlite_url)
    charity_id, auth = api.register_charity()
    key = auth["Authorization"].removeprefix("Bearer ")
    rotated = api.services.keys.rotate_charity(charity_id)
    with api.store.engine.connect() as connection:
        rows = connection.execute(select(API_KEY)).all()
    stored = repr(rows)
    for secret in (key, rotated.key):
        assert secret not in stored
        assert secret[3:15] not in stored


# -- the command line -----------------------------------------------------------------------------


def test_shanlian_keys_charity_rotate_and_revoke(
    two: Two,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, charity_id, old_auth, other_id, other_auth = two
    old_key = old_auth["Authorization"].removeprefix("Bearer ")
    capsys.readouterr()
    assert main(["--database", database_url, "keys", "charity", "rotate", charity_id]) == 0
    out, err = capsys.readouterr()
    new_key = out.strip()
    assert out == new_key + "\n"  # the key alone on stdout: KEY=$(shanlian keys …)
    assert new_key.startswith("sk_")
    assert len(new_key) == 46
    assert f"new key {key_id(new_key)} for charity {charity_id}" in err
    assert f"revoked 1 key, refused from now on: {key_id(old_key)}" in err
    assert old_key not in out + err
    assert can_write(api, charity_id, old_auth) == 401
    assert can_write(api, charity_id, bearer(new_key)) == 201

    assert main(["--database", database_url, "keys", "charity", "list", charity_id]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [key_id(old_key), key_id(new_key)]
    assert "revoked" in lines[0]
    assert "live" in lines[1]
    assert "sk_" not in out + err

    assert main(["--database", database_url, "keys", "charity", "revoke", charity_id]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"revoked 1 key, refused from now on: {key_id(new_key)}" in err
    assert "can no longer write" in err
    assert can_write(api, charity_id, bearer(new_key)) == 401
    assert can_write(api, other_id, other_auth) == 201
    assert can_write(api, charity_id, api.platform) == 201  # the platform token stands


def test_shanlian_keys_refuses_what_does_not_exist(
    database_url: str, make_api: ApiFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    make_api(database_url)  # a migrated journal
    before = make_api(database_url).stored()
    for action in ("rotate", "revoke", "list"):
        capsys.readouterr()
        argv = ["--database", database_url, "keys", "charity", action, UNKNOWN_CHARITY]
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"error: no charity '{UNKNOWN_CHARITY}' is registered\n"
    for action in ("rotate", "revoke"):
        assert main(["--database", database_url, "keys", "auditor", action, "nobody"]) == 2
        assert "no live auditor key has the key id or label 'nobody'" in capsys.readouterr().err
        assert main(["--database", database_url, "keys", "auditor", action]) == 2
        assert "needs KEY (key id or label)" in capsys.readouterr().err
    assert main(["--database", database_url, "keys", "auditor", "issue", " "]) == 2
    assert "LABEL must be 1 to 200 characters" in capsys.readouterr().err
    assert main(["--database", database_url, "keys", "auditor", "issue", "x" * 201]) == 2
    assert make_api(database_url).stored() == before
    with pytest.raises(SystemExit):  # an action it does not know
        main(["--database", database_url, "keys", "charity", "delete", UNKNOWN_CHARITY])


def test_shanlian_keys_auditor_issue_list_rotate_revoke(
    make_api: ApiFactory, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api = make_api(sqlite_url)
    base = ["--database", sqlite_url, "keys", "auditor"]
    capsys.readouterr()
    assert main([*base, "issue", "KPMG 毕马威"]) == 0
    out, err = capsys.readouterr()
    first = out.strip()
    assert f"new key {key_id(first)} for auditor 'KPMG 毕马威'" in err
    exports = "/api/v1/exports/donations.csv"
    assert api.client.get(exports, headers=bearer(first)).status_code == 200

    assert main([*base, "rotate", key_id(first)]) == 0
    out, err = capsys.readouterr()
    second = out.strip()
    assert f"revoked 1 key, refused from now on: {key_id(first)}" in err
    assert api.client.get(exports, headers=bearer(first)).status_code == 401
    assert api.client.get(exports, headers=bearer(second)).status_code == 200

    assert main([*base, "list"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == [key_id(first), key_id(second)]
    assert out.count("KPMG 毕马威") == 2
    assert first not in out + err
    assert second not in out + err
    assert "sk_" not in out + err

    assert main([*base, "revoke", "KPMG 毕马威"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"revoked 1 key, refused from now on: {key_id(second)}\n")
    assert api.client.get(exports, headers=bearer(second)).status_code == 401


def test_the_help_says_the_platform_token_is_not_revoked_here(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (
        ["keys", "--help"],
        ["keys", "charity", "--help"],
        ["keys", "auditor", "--help"],
    ):
        with pytest.raises(SystemExit):
            main(command)
        text = " ".join(capsys.readouterr().out.split())
        assert "SHANLIAN_ADMIN_TOKEN" in text
        assert "restart" in text
