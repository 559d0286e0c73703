"""What the service refuses to run with: weak platform tokens anywhere, and in production
the SQLite file or no real chain; and ``shanlian anchor`` on a chain that dies with it.

No refusal ever shows the secret it refused: every test that feeds one checks that no
four characters of it appear in anything printed or logged.
"""

from __future__ import annotations

import logging
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from api.app import build_services
from api.cli import main
from api.settings import ApiSettings, ProductionSettingsError, describe_settings_error
from api.settings import get_settings as api_settings
from chain import settings as chain_settings
from chain.client import ChainClient
from chain.devnet import Devnet, dev_private_key, free_port
from chain.errors import ChainIdMismatchError, ChainUnavailableError, KeystoreError
from chain.keystore import create_keystore
from chain.settings import redact_url
from ledger.store.journal import Store
from ledger.store.tables import CHECKPOINT
from tests.api.conftest import PLATFORM_TOKEN
from tests.factories import charity

REPO = Path(__file__).resolve().parents[2]
GOOD_TOKEN = "Kq3-vT9_wLx2Rz7pNs4YbH8cJf6mDg5A"
OTHER_PRODUCTION_SECRETS = {"API_PAYMENT_REF_KEY": "5e" * 32}
"""What else production may require to be set (settings a build does not have are
ignored): so that each test here meets the one refusal it is about."""


def _random(length: int) -> str:
    """Upper-case letters and digits: nothing in our messages is spelled that way."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def weak_tokens() -> dict[str, tuple[str, str]]:
    """Tokens that must be refused, by kind: the token, and the reason the refusal gives."""
    return {
        "short": (_random(12), "shorter than 32 characters"),
        "31 characters": (_random(31), "shorter than 32 characters"),
        "placeholder": ("Password", "shorter than 32 characters"),
        "long placeholder": ("CHANGEME-" + _random(30), "it is a placeholder"),
        "one character": ("Q" * 48, "fewer than 8 different characters"),
        "a repeated word": ("PASSWORD" * 5, "fewer than 8 different characters"),
        "whitespace": (_random(20) + " " + _random(20), "whitespace or control characters"),
        "a newline": (_random(20) + "\n" + _random(20), "whitespace or control characters"),
    }


def leaked(token: str, *texts: str) -> list[str]:
    """The pieces of ``token`` (4 characters or more) that appear in ``texts``."""
    text = "".join(texts)
    return [token[i : i + 4] for i in range(len(token) - 3) if token[i : i + 4] in text]


@pytest.fixture(autouse=True)
def _fresh_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read from this test's environment, in a folder of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHANLIAN_ADMIN_TOKEN", raising=False)
    for name, value in OTHER_PRODUCTION_SECRETS.items():
        monkeypatch.setenv(name, value)
    api_settings.cache_clear()
    chain_settings.get_settings.cache_clear()
    yield
    api_settings.cache_clear()
    chain_settings.get_settings.cache_clear()


# -- the platform token ----------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize("kind", list(weak_tokens()))
def test_a_weak_platform_token_is_refused_in_every_environment_without_being_shown(
    kind: str, environment: str
) -> None:
    token, reason = weak_tokens()[kind]
    with pytest.raises(ValidationError) as caught:
        ApiSettings(environment=environment, admin_token=token)  # type: ignore[arg-type]
    described = describe_settings_error(caught.value)
    assert described.startswith("SHANLIAN_ADMIN_TOKEN: refused: ")
    assert reason in described
    assert "secrets.token_urlsafe(32)" in described  # how to make a good one
    assert leaked(token, described, str(caught.value), repr(caught.value)) == []


@pytest.mark.parametrize(
    "token",
    [
        GOOD_TOKEN,
        secrets.token_urlsafe(32),
        secrets.token_hex(16),
        PLATFORM_TOKEN,
        "a-real-token-with-the-word-admin-in-it-0123456789",
    ],
)
def test_a_random_platform_token_of_32_characters_or_more_serves(token: str) -> None:
    for environment in ("development", "production"):
        settings = ApiSettings(environment=environment, admin_token=token)  # type: ignore[arg-type]
        assert settings.admin_token is not None
        assert settings.admin_token.get_secret_value() == token


def test_production_needs_a_token_and_development_generates_one() -> None:
    with pytest.raises(ValidationError) as caught:
        ApiSettings(environment="production")
    assert "in production SHANLIAN_ADMIN_TOKEN must be set" in describe_settings_error(caught.value)
    _, generated = ApiSettings().with_generated_token()
    assert generated is not None
    assert len(generated) >= 32
    with pytest.raises(ValidationError) as caught:
        ApiSettings(environment="Production")  # type: ignore[arg-type]
    assert describe_settings_error(caught.value) == (
        "API_ENVIRONMENT: Input should be 'development' or 'production'"
    )


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize(
    "command", [["serve"], ["anchor", "--embedded-ok"], ["keys", "auditor", "list"]]
)
def test_every_command_refuses_a_weak_token_in_one_line_that_never_quotes_it(
    command: list[str],
    environment: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for kind, (token, reason) in weak_tokens().items():
        monkeypatch.setenv("SHANLIAN_ADMIN_TOKEN", token)
        monkeypatch.setenv("API_ENVIRONMENT", environment)
        api_settings.cache_clear()
        assert main(command) == 2, kind
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("error: SHANLIAN_ADMIN_TOKEN: refused: "), err
        assert err.count("\n") == 1
        assert reason in err
        assert leaked(token, out, err, caplog.text) == [], kind
    assert not Path("var").exists()  # refused before anything was created


def test_a_refused_token_is_not_shown_by_the_real_process_either(tmp_path: Path) -> None:
    """``shanlian serve`` as an operator runs it: stdout, stderr and logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAIN_", "API_", "SHANLIAN_"))}
    tokens = weak_tokens()
    for (token, _), environment in (
        (tokens["short"], "development"),
        (tokens["long placeholder"], "production"),
    ):
        env |= {"SHANLIAN_ADMIN_TOKEN": token, "API_ENVIRONMENT": environment}
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(free_port())],
            cwd=tmp_path,
            env=env | {"PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: SHANLIAN_ADMIN_TOKEN: refused: ")
        assert "Traceback" not in result.stderr
        assert leaked(token, result.stdout, result.stderr) == []


def test_a_database_password_is_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password = _random(24)
    url = f"postgresql://shanlian:{password}@127.0.0.1:{free_port()}/shanlian"
    monkeypatch.setenv("SHANLIAN_ADMIN_TOKEN", GOOD_TOKEN)
    assert main(["--database", url, "journal", "export"]) == 2
    out, err = capsys.readouterr()
    assert "cannot open the journal at postgresql://shanlian:***@127.0.0.1" in err
    assert leaked(password, out, err) == []
    for command in (["journal", "show"], ["keys", "auditor", "list"], ["serve"]):
        assert main(["--database", url, *command]) == 2
        out, err = capsys.readouterr()
        assert err.startswith("error: the database cannot be reached: connection failed")
        assert leaked(password, out, err) == []


# -- production ----------------------------------------------------------------------------------


def sign_with_a_signer(monkeypatch: pytest.MonkeyPatch, url: str | None = None) -> None:
    """Production's anchorer signs with an external signer (ADR 0038); by default one that
    is never asked here (anvil holds development account 0's key and signs for it)."""
    monkeypatch.setenv("CHAIN_ANCHORER_SIGNER_URL", url or f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CHAIN_ANCHORER_ADDRESS", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")


def production(**settings: object) -> ApiSettings:
    return ApiSettings(environment="production", admin_token=GOOD_TOKEN, **settings)  # type: ignore[arg-type]


CHAIN_VARIABLES = ("CHAIN_RPC_URL", "CHAIN_LEDGER_ANCHOR_ADDRESS", "CHAIN_CHARITY_REGISTRY_ADDRESS")


@pytest.mark.parametrize("unset", [*CHAIN_VARIABLES, "all"])
def test_production_refuses_to_start_without_a_real_chain(
    unset: str, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {
        "CHAIN_RPC_URL": f"http://127.0.0.1:{free_port()}",
        "CHAIN_LEDGER_ANCHOR_ADDRESS": "0x" + "11" * 20,
        "CHAIN_CHARITY_REGISTRY_ADDRESS": "0x" + "22" * 20,
    }
    for name, value in values.items():
        if unset not in (name, "all"):
            monkeypatch.setenv(name, value)
    with pytest.raises(ProductionSettingsError) as caught:
        build_services(production(database_url=pg_database))
    message = str(caught.value)
    assert message.startswith("API_ENVIRONMENT=production refuses to run: set ")
    missing = CHAIN_VARIABLES if unset == "all" else (unset,)
    for name in CHAIN_VARIABLES:
        assert (name in message) == (name in missing), name
    assert "API_DATABASE_URL" not in message  # PostgreSQL is right
    # Development runs on the embedded chain, as before.
    for name in CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    chain_settings.get_settings.cache_clear()
    runtime = build_services(ApiSettings(database_url=pg_database, admin_token=GOOD_TOKEN))  # type: ignore[arg-type]
    assert runtime.services.chain is not None
    assert runtime.services.chain.is_embedded
    runtime.services.store.engine.dispose()


@pytest.mark.parametrize(
    "database_url", [None, "sqlite:///elsewhere.db", "sqlite:////tmp/x/../y.db"], ids=str
)
def test_production_refuses_the_sqlite_file(
    database_url: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_ENVIRONMENT", "production")
    monkeypatch.setenv("SHANLIAN_ADMIN_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("CHAIN_RPC_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", "0x" + "11" * 20)
    monkeypatch.setenv("CHAIN_CHARITY_REGISTRY_ADDRESS", "0x" + "22" * 20)
    sign_with_a_signer(monkeypatch)
    argv = [] if database_url is None else ["--database", database_url]
    for command in (["serve"], ["anchor"], ["keys", "auditor", "list"]):
        assert main([*argv, *command]) == 2
        assert capsys.readouterr().err == (
            "error: API_ENVIRONMENT=production refuses to run: API_DATABASE_URL must name "
            "PostgreSQL (postgresql://…): the SQLite file is for development, one process on "
            "one machine\n"
        )
    assert list(Path().iterdir()) == []  # no file made, no database created


def test_production_starts_while_its_node_is_down_and_waits_for_it(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real node that does not answer yet is no reason to refuse: donations come first."""
    monkeypatch.setenv("CHAIN_RPC_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", "0x" + "11" * 20)
    monkeypatch.setenv("CHAIN_CHARITY_REGISTRY_ADDRESS", "0x" + "22" * 20)
    monkeypatch.setenv("CHAIN_REQUEST_TIMEOUT_S", "2")
    sign_with_a_signer(monkeypatch)
    runtime = build_services(production(database_url=pg_database, evidence_dir=Path("evidence")))
    assert runtime.chain_pending
    assert runtime.services.chain is None
    assert runtime.generated_token is None
    runtime.services.store.engine.dispose()


@pytest.mark.anvil
def test_production_runs_on_postgresql_and_a_deployed_chain(
    pg_database: str, anvil: Devnet, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = ChainClient.connect(anvil.rpc_url).deploy()
    monkeypatch.setenv("CHAIN_RPC_URL", anvil.rpc_url)
    monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", deployment.ledger_anchor)
    monkeypatch.setenv("CHAIN_CHARITY_REGISTRY_ADDRESS", deployment.charity_registry)
    sign_with_a_signer(monkeypatch, anvil.rpc_url)
    runtime = build_services(production(database_url=pg_database, evidence_dir=Path("evidence")))
    chain = runtime.services.chain
    assert chain is not None
    assert not chain.is_embedded
    assert chain.ledger_anchor.address == deployment.ledger_anchor
    assert runtime.services.worker is not None
    runtime.services.store.engine.dispose()


# -- shanlian anchor -----------------------------------------------------------------------------


def checkpoints(url: str) -> int:
    store = Store.open(url)
    with store.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(CHECKPOINT)).scalar_one()
    store.engine.dispose()
    return int(count)


def test_anchor_refuses_the_embedded_chain_that_dies_with_it(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database", sqlite_url, "demo", "--donations", "5"]) == 0
    capsys.readouterr()
    assert main(["--database", sqlite_url, "anchor"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: refusing to anchor: CHAIN_RPC_URL is not set")
    assert "gone when it exits" in err
    assert "--embedded-ok" in err
    assert checkpoints(sqlite_url) == 0
    # Asked for explicitly (a demo, a test): it anchors, and says what that is worth.
    assert main(["--database", sqlite_url, "anchor", "--embedded-ok"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("checkpoint 0: tree size ")
    assert "cannot be verified against any chain" in err
    assert checkpoints(sqlite_url) == 1


def test_anchor_in_production_needs_the_real_chain_even_with_embedded_ok(
    pg_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_ENVIRONMENT", "production")
    monkeypatch.setenv("SHANLIAN_ADMIN_TOKEN", GOOD_TOKEN)
    for extra in ([], ["--embedded-ok"]):
        assert main(["--database", pg_database, "anchor", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: API_ENVIRONMENT=production refuses to run: set CHAIN_RPC_URL")
    assert checkpoints(pg_database) == 0


# -- node URLs ------------------------------------------------------------------------------------


def test_a_node_url_is_shown_without_its_path_query_or_password() -> None:
    secret = _random(24)
    port = free_port()
    url = f"http://user:{secret}@127.0.0.1:{port}/v3/{secret}?apikey={secret}"
    assert redact_url(url) == f"http://127.0.0.1:{port}"
    with pytest.raises(ChainUnavailableError) as caught:
        ChainClient.connect(url, request_timeout_s=2)
    assert f"cannot reach the node at http://127.0.0.1:{port} " in str(caught.value)
    assert leaked(secret, str(caught.value)) == []
    mismatch = ChainIdMismatchError(expected=1, actual=31337, rpc_url=url)
    assert leaked(secret, str(mismatch)) == []


# -- the anchorer's key (ADR 0038) ----------------------------------------------------------------


def test_production_refuses_a_raw_anchorer_key_in_the_environment(
    pg_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("API_ENVIRONMENT", "production")
    monkeypatch.setenv("SHANLIAN_ADMIN_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("CHAIN_RPC_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CHAIN_LEDGER_ANCHOR_ADDRESS", "0x" + "11" * 20)
    monkeypatch.setenv("CHAIN_CHARITY_REGISTRY_ADDRESS", "0x" + "22" * 20)
    monkeypatch.setenv("CHAIN_ANCHORER_PRIVATE_KEY", key)
    for command in (["serve"], ["anchor"]):
        assert main(["--database", pg_database, *command]) == 2
        out, err = capsys.readouterr()
        assert err.startswith(
            "error: API_ENVIRONMENT=production refuses to run: CHAIN_ANCHORER_PRIVATE_KEY "
            "holds a raw private key in the environment: production signs with "
            "CHAIN_ANCHORER_KEYSTORE"
        )
        assert "CHAIN_ANCHORER_SIGNER_URL" in err
        assert leaked(key[2:], out, err) == []
    # And production with no key at all is refused too: the devnet's public key is no key.
    monkeypatch.delenv("CHAIN_ANCHORER_PRIVATE_KEY")
    chain_settings.get_settings.cache_clear()
    with pytest.raises(ProductionSettingsError, match="the anchorer has no key"):
        build_services(production(database_url=pg_database))


@pytest.mark.anvil
def test_production_anchors_with_the_key_from_its_keystore(
    pg_database: str, anvil: Devnet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password_file = tmp_path / "anchorer.pass"
    password_file.write_text("a password only the operator knows\n")
    password_file.chmod(0o600)
    keystore = tmp_path / "anchorer.json"
    address = create_keystore(
        keystore,
        "a password only the operator knows",
        private_key=dev_private_key(6),
        iterations=2**10,
    )
    deployment = ChainClient.connect(anvil.rpc_url).deploy(anchorer=address, registrar=address)
    for name, value in {
        "CHAIN_RPC_URL": anvil.rpc_url,
        "CHAIN_LEDGER_ANCHOR_ADDRESS": deployment.ledger_anchor,
        "CHAIN_CHARITY_REGISTRY_ADDRESS": deployment.charity_registry,
        "CHAIN_ANCHORER_KEYSTORE": str(keystore),
        "CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE": str(password_file),
    }.items():
        monkeypatch.setenv(name, value)
    runtime = build_services(production(database_url=pg_database, evidence_dir=Path("evidence")))
    services = runtime.services
    assert services.chain is not None
    assert services.chain.address == address
    assert services.worker is not None
    services.store.append([charity()])
    checkpoint = services.worker.anchor_now()
    assert checkpoint is not None
    assert services.chain.w3.eth.get_transaction(checkpoint.tx_hash)["from"] == address
    # A keystore another user could read stops production before anything starts.
    keystore.chmod(0o644)
    chain_settings.get_settings.cache_clear()
    with pytest.raises(KeystoreError, match=r"mode 0644.*chmod 600"):
        build_services(production(database_url=pg_database, evidence_dir=Path("evidence")))
    services.store.engine.dispose()
