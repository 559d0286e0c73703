"""The service's settings, from ``API_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import functools
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from explorer.caching import FRESH_S
from ledger.store.files import private_dir

DEFAULT_DATA_DIR = Path("var")
PLACEHOLDER_TOKENS = {"changeme", "change-me", "secret", "token", "admin", "password"}
MIN_TOKEN_LENGTH = 32
MIN_TOKEN_DISTINCT_CHARACTERS = 8
"""A random token of 32 characters has about 24 different ones (hex: about 14); fewer
than 8 is a repeated word (``adminadmin…``) or one character, not a secret."""
MAKE_ONE_WITH = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
EVIDENCE_MEDIA_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/plain",
)


if TYPE_CHECKING:  # only named in check_production's signature
    from chain.settings import ChainSettings


class ProductionSettingsError(ValueError):
    """Production settings that only development may run with."""


class ApiSettings(BaseSettings):
    """Where the journal lives, who the platform is, and the limits of requests.

    Attributes:
        environment: ``development`` (the embedded default) or ``production``, which
            needs a platform token set, PostgreSQL and a real chain (``check_production``).
        database_url: SQLAlchemy URL of the journal (``API_DATABASE_URL``); unset, a
            SQLite file under ``var/``. Production runs ``postgresql://…``.
        read_only_database_url: where public reads go (``API_READ_ONLY_DATABASE_URL``):
            a SELECT-only role on PostgreSQL, or a streaming replica (hot standby). The
            explorer's pages, proof bundles, consistency proofs and the journal's lines
            read there, and from the primary what a lagging replica has not replayed
            (``api.replica``); unset, the same database opened read-only.
        admin_token: the platform's bearer token (``SHANLIAN_ADMIN_TOKEN``): in every
            environment, 32 characters or more and no placeholder (``token_weakness``);
            unset in development, one is generated and printed once by ``shanlian serve``.
        public_url: the base URL donors reach (receipt links and QR codes point here).
        chain_rpc_public_url: a JSON-RPC URL browsers and auditors may use, named by
            ``/chain`` when a real node serves (must allow CORS); with the embedded
            chain the server offers its own read-only endpoint instead.
        evidence_dir: where uploaded evidence files are kept, by SHA-256.
        max_body_bytes: largest JSON request body.
        max_upload_bytes: largest evidence file.
        evidence_media_types: media types accepted as evidence.
        paid_at_leeway_minutes: how far ahead of the server's clock a donation's
            ``paid_at`` may be (``API_PAID_AT_LEEWAY_MINUTES``, default 5): the payment
            channel's clock may run a little fast, but a journal entry is forever.
        evidence_quota_bytes: what one charity may keep in evidence files, in all.
        webhook_max_endpoints: live webhook endpoints one charity may have (10).
        webhook_timeout_s: how long a delivery may take before it counts as failed (5 s).
        webhook_allow_private: deliver to loopback, private and link-local addresses and
            over plain http (false: only public https endpoints; for tests and a private
            network).
        evidence_rate_bytes, evidence_rate_files: what one charity may upload in any
            ``evidence_rate_window_s`` seconds (bytes stored, new files).
        evidence_orphan_grace_s: how long a file no disbursement cites is kept after its
            upload before ``shanlian evidence collect`` (and ``serve``, every
            ``evidence_collect_interval_s``) removes it.
        evidence_min_free_bytes: uploads are refused (507) when the evidence folder's
            disk would have less free space than this.
        evidence_max_pixels: largest image (width x height) decoded to check it.
        rpc_max_batch: most requests in one JSON-RPC batch to ``/chain/rpc`` (10).
        rpc_gas_cap: gas of every ``eth_call`` through ``/chain/rpc``; a higher ``gas``
            is lowered to it, none is raised (1,000,000; why, beside the field).
        rpc_logs_max_blocks: widest block range of one ``eth_getLogs`` (1,000 blocks).
        rpc_time_limit_s: a ``/chain/rpc`` request answers within this, with a
            time-limit error for what is not done by then (5 s).
        rpc_threads: threads that run chain reads for ``/chain/rpc`` (2; the embedded
            chain serves one request at a time anyway).
        rpc_max_pending: ``/chain/rpc`` requests with chain work running or waiting at
            once; more are refused as busy (8).
        rpc_rate_per_s: JSON-RPC calls per second one client is given (10; a batch
            costs one per request in it).
        rpc_burst: calls a client may make at once before the rate applies (40).
        rpc_rate_max_wait_s: a client over its rate is held up to this long, then
            refused with 429 ``rate_limited`` and ``Retry-After`` (1 s).
        rpc_max_clients: clients whose rate is remembered; the least recently seen are
            forgotten beyond (10,000).
        payment_ref_key: the deployment's secret for ``payment_ref_hash`` (ADR 0016), 64
            hex digits (``API_PAYMENT_REF_KEY``); required in production, where every API
            process must hold the same one. Unset in development, it is read from
            ``payment_ref_key_file``, created there (mode 0600) on the first start.
        payment_ref_key_file: where the development key is kept (default: beside the
            evidence folder, ``var/payment_ref.key``).
        special_currencies: ISO 4217 codes that are not money (``XTS``, ``XXX``, metals,
            fund codes: ``ledger.currencies.NOT_MONEY``) accepted anyway, e.g.
            ``API_SPECIAL_CURRENCIES='["XTS"]'`` for a test deployment; none by default.
        write_queue: writes that may wait for the sequencer; more are answered 429
            (``API_WRITE_QUEUE``, ADR 0017).
        donation_fast_path: answer well-formed ``POST /donations`` from the platform in a
            thin ASGI layer instead of FastAPI's routing (``api/fastpath.py``, ADR 0017);
            the same service and the same answers, a third of the CPU.
        write_batch: most writes appended in one batch (``API_WRITE_BATCH``).
        write_batch_bytes: most bytes of entries in one batch (``API_WRITE_BATCH_BYTES``).
        page_cache_s: seconds the explorer keeps each page it drew and serves it again
            without asking the journal (``API_PAGE_CACHE_S``, ADR 0036): at most
            ``explorer.caching.FRESH_S``, what it tells every cache it may keep a page;
            0 (the default) draws every page anew.
        page_cache_exact: keep each donation's page with the version of everything it is
            drawn from, read in one indexed query, and serve it while that version holds
            (``API_PAGE_CACHE_EXACT``, ADR 0046): never a page other than the one drawn
            afresh; at most ``explorer.caching.EXACT_PAGES`` pages and ``EXACT_BYTES``
            bytes a process. On by default; false draws every page anew.
        log_key: the log's Ed25519 signer key, ``PRIVATE+KEY+<origin>+<id>+<key>``
            (``API_LOG_KEY``, ADR 0031): it signs the C2SP checkpoints served at
            ``/tlog/checkpoint``. Unset, it is read from ``log_key_file``.
        log_key_file: where the log key is kept (default: beside the evidence folder,
            ``var/log.key``, mode 0600; ``shanlian keys log create`` makes it, and in
            development the first start does).
        log_origin: the log's origin line and key name (``API_LOG_ORIGIN``); unset, the
            key's own name. A new key takes it, else the public URL's host and path and
            ``/tlog``.
        witness_policy_file: the log's witnesses and quorum, a C2SP tlog-policy file
            (``API_WITNESS_POLICY_FILE``, ADR 0035): ``witness <name> <vkey> <url>``
            lines, groups and one ``quorum`` line. Unset: no witnesses are asked.
        witness_timeout_s: how long one ``add-checkpoint`` may take (5 s).
        witness_interval_s: the least time between two rounds of requests to the
            witnesses (5 s): each round sends the newest signed checkpoint.
        witness_allow_private: send to witnesses on loopback, private addresses and
            over plain http (false: only public https; for tests and a private network).
    """

    # An error never repeats the value it refused: it may be the platform token, or a
    # database URL with its password (pydantic would print it as ``input_value=…``).
    model_config = SettingsConfigDict(
        env_prefix="API_", env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'shanlian.db'}"
    read_only_database_url: str | None = None
    admin_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SHANLIAN_ADMIN_TOKEN", "API_ADMIN_TOKEN", "admin_token"),
    )
    public_url: str = "http://127.0.0.1:8000"
    chain_rpc_public_url: str | None = None
    evidence_dir: Path = DEFAULT_DATA_DIR / "evidence"
    max_body_bytes: Annotated[int, Field(gt=0)] = 64 * 1024
    max_upload_bytes: Annotated[int, Field(gt=0)] = 10 * 1024 * 1024
    evidence_media_types: tuple[str, ...] = EVIDENCE_MEDIA_TYPES
    paid_at_leeway_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 5
    evidence_quota_bytes: Annotated[int, Field(gt=0)] = 1024**3
    evidence_rate_bytes: Annotated[int, Field(gt=0)] = 256 * 1024**2
    evidence_rate_files: Annotated[int, Field(gt=0)] = 200
    webhook_max_endpoints: Annotated[int, Field(ge=1, le=100)] = 10
    webhook_timeout_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    webhook_allow_private: bool = False
    evidence_rate_window_s: Annotated[int, Field(gt=0)] = 3600
    evidence_orphan_grace_s: Annotated[int, Field(gt=0)] = 24 * 3600
    evidence_collect_interval_s: Annotated[int, Field(gt=0)] = 3600
    evidence_min_free_bytes: Annotated[int, Field(ge=0)] = 1024**3
    evidence_max_pixels: Annotated[int, Field(gt=0)] = 50_000_000
    rpc_max_batch: Annotated[int, Field(ge=1, le=100)] = 10
    # The heaviest view call is verifyInclusion with a 64-hash proof (the longest a tree of
    # uint64 size has): 98,797 gas measured (71,902 with a 40-hash one). Its loop ends
    # after at most 64 steps whatever the proof's length; a 900-hash proof, as much as a
    # 64 KB body holds, costs ~500,000 for its calldata. 1,000,000 is ten times the
    # heaviest real call, and bounds any call to ~0.25 s of py-evm (a 1M-gas loop).
    rpc_gas_cap: Annotated[int, Field(ge=50_000, le=30_000_000)] = 1_000_000
    rpc_logs_max_blocks: Annotated[int, Field(ge=1)] = 1_000
    rpc_time_limit_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    rpc_threads: Annotated[int, Field(ge=1, le=16)] = 2
    rpc_max_pending: Annotated[int, Field(ge=1)] = 8
    rpc_rate_per_s: Annotated[float, Field(gt=0)] = 10.0
    rpc_burst: Annotated[int, Field(ge=1)] = 40
    rpc_rate_max_wait_s: Annotated[float, Field(ge=0, le=10)] = 1.0
    rpc_max_clients: Annotated[int, Field(ge=1)] = 10_000
    special_currencies: tuple[str, ...] = ()
    payment_ref_key: SecretStr | None = None
    payment_ref_key_file: Path | None = None
    donation_fast_path: bool = True
    write_queue: Annotated[int, Field(ge=1)] = 500
    write_batch: Annotated[int, Field(ge=1)] = 250
    write_batch_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024
    log_key: SecretStr | None = None
    log_key_file: Path | None = None
    log_origin: str | None = None
    page_cache_s: Annotated[float, Field(ge=0, le=FRESH_S)] = 0
    page_cache_exact: bool = True
    witness_policy_file: Path | None = None
    witness_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    witness_interval_s: Annotated[float, Field(ge=0, le=3600)] = 5.0
    witness_allow_private: bool = False

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("API_DATABASE_URL is empty; unset it for the embedded SQLite file")
        return value.strip()

    @field_validator("admin_token")
    @classmethod
    def _a_real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            weakness = token_weakness(value.get_secret_value())
            if weakness is not None:
                raise ValueError(
                    f"refused: {weakness}. The platform token must be a random secret of at "
                    f"least {MIN_TOKEN_LENGTH} characters; make one with `{MAKE_ONE_WITH}` (or, "
                    "in development only, unset it to have one generated for each run)"
                )
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _a_batch_fits_the_burst(self) -> ApiSettings:
        if self.rpc_burst < self.rpc_max_batch:
            raise ValueError(
                f"API_RPC_BURST ({self.rpc_burst}) must be at least API_RPC_MAX_BATCH "
                f"({self.rpc_max_batch}): a full batch could never be served"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_real_token(self) -> ApiSettings:
        if self.environment == "production" and self.admin_token is None:
            raise ValueError(  # its strength is checked in every environment
                "in production SHANLIAN_ADMIN_TOKEN must be set (every process must share "
                f"it): a random secret of at least {MIN_TOKEN_LENGTH} characters; make one "
                f"with `{MAKE_ONE_WITH}`"
            )
        return self

    @model_validator(mode="after")
    def _evidence_limits_fit(self) -> ApiSettings:
        for name in ("evidence_quota_bytes", "evidence_rate_bytes"):
            if getattr(self, name) < self.max_upload_bytes:
                raise ValueError(
                    f"API_{name.upper()} ({getattr(self, name)}) is below API_MAX_UPLOAD_BYTES "
                    f"({self.max_upload_bytes}): a file at the limit could never be uploaded"
                )
        if self.evidence_orphan_grace_s < self.evidence_rate_window_s:
            # The rate counts the rows of the window: collecting them sooner would reset it.
            raise ValueError(
                f"API_EVIDENCE_ORPHAN_GRACE_S ({self.evidence_orphan_grace_s}) must be at least "
                f"API_EVIDENCE_RATE_WINDOW_S ({self.evidence_rate_window_s})"
            )
        return self

    @field_validator("payment_ref_key")
    @classmethod
    def _key_is_32_bytes_of_hex(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value()):
            raise ValueError(
                "API_PAYMENT_REF_KEY must be 64 hex digits (32 random bytes), e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value

    @model_validator(mode="after")
    def _production_needs_a_payment_ref_key(self) -> ApiSettings:
        if self.environment == "production" and self.payment_ref_key is None:
            raise ValueError(
                "in production API_PAYMENT_REF_KEY must be set (64 hex digits, the same in "
                "every API process, kept out of the journal and its backups; ADR 0016)"
            )
        return self

    @property
    def payment_ref_key_bytes(self) -> bytes:
        """The payment reference key (``with_payment_ref_key`` has made sure there is one)."""
        if self.payment_ref_key is None:
            raise RuntimeError("no payment reference key: build services with build_services")
        return bytes.fromhex(self.payment_ref_key.get_secret_value())

    def with_payment_ref_key(self) -> ApiSettings:
        """These settings with a payment reference key: the configured one, or the file's.

        In development the key is kept in ``payment_ref_key_file`` (created with mode 0600
        on the first start, then read): references hash alike across restarts.
        """
        if self.payment_ref_key is not None:
            return self
        path = self.payment_ref_key_file or self.evidence_dir.parent / "payment_ref.key"
        private_dir(path.parent)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text().strip()
        else:
            text = secrets.token_hex(32)
            with os.fdopen(descriptor, "w") as file:
                file.write(text + "\n")
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise ValueError(f"{path} does not hold a payment reference key (64 hex digits)")
        return self.model_copy(update={"payment_ref_key": SecretStr(text)})

    def ensure_database_dir(self) -> None:
        """Create the SQLite file's folder, private (0700), so the embedded default works."""
        if self.database_url.startswith("sqlite:///"):
            private_dir(Path(self.database_url.removeprefix("sqlite:///")).parent)

    def ensure_data_dir(self) -> None:
        """Create the folders of the embedded defaults, so they just work: private (0700)."""
        self.ensure_database_dir()
        private_dir(self.evidence_dir)

    def with_generated_token(self) -> tuple[ApiSettings, str | None]:
        """These settings with a platform token: the configured one, or a new one."""
        if self.admin_token is not None:
            return self, None
        token = secrets.token_urlsafe(32)
        return self.model_copy(update={"admin_token": SecretStr(token)}), token

    def check_production(self, chain: ChainSettings | None) -> None:
        """In production, refuse what only development may run on.

        Args:
            chain: the chain settings, when this process anchors or serves the chain
                (None: it needs no chain, e.g. to issue a key).

        Raises:
            ProductionSettingsError: the journal is the SQLite file, or there is no real
                chain (no ``CHAIN_RPC_URL``, or no deployed contract addresses). A node
                that is down is no reason: it is connected to when it answers.
        """
        if self.environment != "production":
            return
        problems = []
        if not self.database_url.startswith(("postgresql", "postgres:")):
            problems.append(
                "API_DATABASE_URL must name PostgreSQL (postgresql://…): the SQLite file is "
                "for development, one process on one machine"
            )
        if chain is not None:
            missing = [
                name
                for name, value in (
                    ("CHAIN_RPC_URL", chain.rpc_url),
                    ("CHAIN_LEDGER_ANCHOR_ADDRESS", chain.ledger_anchor_address),
                    ("CHAIN_CHARITY_REGISTRY_ADDRESS", chain.charity_registry_address),
                )
                if not value
            ]
            if missing:
                problems.append(
                    f"set {', '.join(missing)}: without them the embedded chain would serve, "
                    "which is empty at every start, so nothing anchored on it could be "
                    "verified after a restart (`shanlian deploy` prints the addresses)"
                )
            problem = anchorer_key_problem(chain)
            if problem is not None:
                problems.append(problem)
        if problems:
            raise ProductionSettingsError(
                "API_ENVIRONMENT=production refuses to run: " + "; ".join(problems)
            )


def anchorer_key_problem(chain: ChainSettings) -> str | None:
    """Why production may not sign anchors as the chain settings say (ADR 0038), or None.

    A raw private key in the environment is readable by every process of the user, by
    ``/proc/PID/environ``, by crash reports and by whoever reads the unit file; production
    signs with an encrypted keystore or an external signer instead.
    """
    how = (
        "production signs with CHAIN_ANCHORER_KEYSTORE (an encrypted keystore, mode 0600, its "
        "password in CHAIN_ANCHORER_KEYSTORE_PASSWORD_FILE; `shanlian keys anchorer create` "
        "writes one) or CHAIN_ANCHORER_SIGNER_URL (an external signer, with "
        "CHAIN_ANCHORER_ADDRESS)"
    )
    if chain.anchorer_private_key is not None:
        return f"CHAIN_ANCHORER_PRIVATE_KEY holds a raw private key in the environment: {how}"
    if chain.anchorer_keystore is None and chain.anchorer_signer_url is None:
        return f"the anchorer has no key: {how}"
    return None


def token_weakness(token: str) -> str | None:
    """Why ``token`` is no secret (a phrase that never quotes it), or None if it may serve."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"it is shorter than {MIN_TOKEN_LENGTH} characters"
    lowered = token.lower()
    if lowered in PLACEHOLDER_TOKENS or any(
        word in lowered for word in ("changeme", "change-me", "change_me")
    ):
        return "it is a placeholder"
    if len(set(token)) < MIN_TOKEN_DISTINCT_CHARACTERS:
        return f"it repeats fewer than {MIN_TOKEN_DISTINCT_CHARACTERS} different characters"
    if any(character.isspace() or not character.isprintable() for character in token):
        return "it holds whitespace or control characters, which no bearer header can carry"
    return None


_VARIABLES = {"admin_token": "SHANLIAN_ADMIN_TOKEN", "chain_id": "CHAIN_ID"}
_PREFIXES = {"ApiSettings": "API_", "ChainSettings": "CHAIN_"}


def describe_settings_error(error: ValidationError) -> str:
    """What is wrong with the settings, one problem a line, naming the variable.

    Never the value: it may be a token, a key or a URL with a password.
    """
    prefix = _PREFIXES.get(error.title, "")
    problems = []
    for problem in error.errors(include_url=False, include_context=False, include_input=False):
        names = [str(part) for part in problem["loc"]]
        variable = "".join(
            _VARIABLES.get(name, name if name.isupper() else prefix + name.upper())
            for name in names[:1]
        ) + "".join(f".{name}" for name in names[1:])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}: {message}" if variable else message)
    return "; ".join(problems)


@functools.cache
def get_settings() -> ApiSettings:
    """The process's settings, read from the environment once."""
    return ApiSettings()
