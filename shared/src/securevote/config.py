"""One Settings class for every service and command.

Values come from the environment with the ``SECUREVOTE_`` prefix. Two names the seed report
and common tooling use unprefixed are accepted too (``DATABASE_URL``, ``TEST_MODE``); the
prefixed name wins when both are set.

Modes: ``dev`` (a laptop: insecure built-in secrets allowed, with a warning), ``test`` (the
test suite) and ``prod``. In ``prod`` every secret must be set explicitly and must not be one
of the built-in development values; the process refuses to start otherwise.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Built-in development secrets. They are public (they are in this file), so prod refuses them.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdef"  # noqa: S105
DEV_JWT_SEED = "ZGV2LWluc2VjdXJlLWp3dC1zZWVkLWNoYW5nZS1tZSE="
DEV_BOARD_SEED = "ZGV2LWluc2VjdXJlLWJvYXJkLXNlZWQtY2hhbmdlISE="

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/securevote.db"


class Mode(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def _env(name: str) -> AliasChoices:
    """Accept ``SECUREVOTE_<NAME>`` first, then the bare ``<NAME>``."""
    return AliasChoices(f"SECUREVOTE_{name}", name)


class Settings(BaseSettings):
    """Every setting of secure-vote; see the configuration table in README.md."""

    model_config = SettingsConfigDict(
        env_prefix="SECUREVOTE_", extra="ignore", frozen=True, populate_by_name=True
    )

    mode: Mode = Mode.DEV
    test_mode: bool = Field(default=False, validation_alias=_env("TEST_MODE"))
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # A read replica for the public read-only endpoints (board, published results, record).
    read_database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # The voting service checks cast ballots in this many worker processes (0: in threads).
    verify_processes: int = Field(default=0, ge=0, le=64)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    secret_key: SecretStr | None = None
    jwt_signing_seed: SecretStr | None = None
    jwt_public_keys: str | None = None
    board_signing_seed: SecretStr | None = None
    log_level: str = "INFO"
    migrations_dir: Path | None = None
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=67_108_864, ge=1024)
    test_seed: str | None = None
    # NoDecode: the environment gives "name=url,…", not JSON; parsed below.
    service_urls: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # Voter access (auth service): Redis for limits shared by replicas, invitation mail.
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s?#]+$")
    voter_cookie_secure: bool = True
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "secure-vote <no-reply@localhost>"
    # Proxies whose X-Forwarded-For is believed (securevote.client_address); none by default.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    @field_validator("service_urls", mode="before")
    @classmethod
    def _parse_service_urls(cls, value: object) -> object:
        """``name=url,name=url`` from the environment (a mapping is taken as it is)."""
        if not isinstance(value, str):
            return value
        urls = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, url = item.partition("=")
            if not name or not url.startswith(("http://", "https://")):
                raise ConfigurationError(
                    "SECUREVOTE_SERVICE_URLS is name=http(s)://host:port, comma separated"
                )
            urls[name.strip()] = url.strip().rstrip("/")
        return urls

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        """``10.0.0.0/8,192.0.2.7`` from the environment: networks (a bare address is /32 or
        /128); a network with host bits set is refused, it is most likely a typo."""
        if not isinstance(value, str):
            return value
        try:
            return tuple(ip_network(part.strip()) for part in value.split(",") if part.strip())
        except ValueError as exc:
            raise ConfigurationError(
                f"SECUREVOTE_TRUSTED_PROXIES is a comma-separated list of networks: {exc}"
            ) from None

    @field_validator("secret_key", "jwt_signing_seed", "jwt_public_keys", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``SECUREVOTE_SECRET_KEY=``) means "not set", never "empty key"."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode is not Mode.PROD:
            return self
        problems = []
        required = [("secret_key", DEV_SECRET_KEY)]
        if not self.jwt_public_keys:  # a service that only verifies tokens needs no seed
            required.append(("jwt_signing_seed", DEV_JWT_SEED))
        for name, dev_value in required:
            value = getattr(self, name)
            if value is None or not value.get_secret_value():
                problems.append(f"SECUREVOTE_{name.upper()} is not set")
            elif value.get_secret_value() == dev_value:
                problems.append(f"SECUREVOTE_{name.upper()} is the public development value")
        # Only the voting service signs with the board key: it refuses a missing seed itself
        # (voting_service.board); every process refuses the public development value.
        board = self.board_signing_seed.get_secret_value() if self.board_signing_seed else ""
        if board == DEV_BOARD_SEED:
            problems.append("SECUREVOTE_BOARD_SIGNING_SEED is the public development value")
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if key and key != DEV_SECRET_KEY and len(key) < 32:
            problems.append("SECUREVOTE_SECRET_KEY must be at least 32 characters")
        if self.test_mode:
            problems.append("TEST_MODE=true is not allowed in prod mode")
        if self.test_seed is not None:
            problems.append("SECUREVOTE_TEST_SEED is not allowed in prod mode")
        if problems:
            raise ConfigurationError("refusing to start in prod mode: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _test_seed_needs_test_mode(self) -> Settings:
        if self.test_seed is not None and not self.test_mode:
            raise ConfigurationError("SECUREVOTE_TEST_SEED needs TEST_MODE=true")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secret_key_bytes(self) -> bytes:
        """The server secret (HMAC keys derive from it); the dev value outside prod."""
        value = self.secret_key.get_secret_value() if self.secret_key else DEV_SECRET_KEY
        return value.encode()

    @property
    def uses_dev_secrets(self) -> bool:
        return self.secret_key is None or self.jwt_signing_seed is None

    @property
    def migrations_path(self) -> Path:
        """Where the Alembic history lives: configured, or ``database/migrations`` of the
        checkout (found from this file, then from the working directory)."""
        if self.migrations_dir is not None:
            return self.migrations_dir
        candidates = [Path(__file__).resolve().parents[3], Path.cwd()]
        for root in candidates:
            path = root / "database" / "migrations"
            if (path / "env.py").is_file():
                return path
        raise ConfigurationError("cannot find database/migrations; set SECUREVOTE_MIGRATIONS_DIR")


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides (used by tests and CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
