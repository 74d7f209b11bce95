"""Settings: environment names, and the refusal to run prod on missing or public secrets."""

from __future__ import annotations

import pytest

from securevote.config import DEV_JWT_SEED, DEV_SECRET_KEY, ConfigurationError, Mode, Settings

STRONG_KEY = "k" * 48
STRONG_SEED = "c2VjdXJlLXZvdGUtdGVzdC1zZWVkLW5vdC1hLXJlYWwt"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TEST_MODE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"SECUREVOTE_{name}", raising=False)
    for name in ("MODE", "SECRET_KEY", "JWT_SIGNING_SEED", "TEST_SEED"):
        monkeypatch.delenv(f"SECUREVOTE_{name}", raising=False)


def test_dev_mode_is_the_default_and_uses_sqlite_under_var() -> None:
    settings = Settings()
    assert settings.mode is Mode.DEV
    assert settings.database_url == "sqlite+aiosqlite:///./var/securevote.db"
    assert settings.uses_dev_secrets


def test_prod_refuses_missing_secrets() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(mode="prod")
    message = str(caught.value)
    assert "SECUREVOTE_SECRET_KEY is not set" in message
    assert "SECUREVOTE_JWT_SIGNING_SEED is not set" in message


def test_prod_refuses_the_public_development_secrets() -> None:
    with pytest.raises(ConfigurationError, match="public development value"):
        Settings(mode="prod", secret_key=DEV_SECRET_KEY, jwt_signing_seed=STRONG_SEED)
    with pytest.raises(ConfigurationError, match="public development value"):
        Settings(mode="prod", secret_key=STRONG_KEY, jwt_signing_seed=DEV_JWT_SEED)


def test_prod_refuses_a_short_secret_key() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        Settings(mode="prod", secret_key="short", jwt_signing_seed=STRONG_SEED)


def test_prod_refuses_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODE", "true")
    with pytest.raises(ConfigurationError, match="TEST_MODE"):
        Settings(mode="prod", secret_key=STRONG_KEY, jwt_signing_seed=STRONG_SEED)


def test_prod_starts_with_real_secrets_and_never_shows_them() -> None:
    settings = Settings(mode="prod", secret_key=STRONG_KEY, jwt_signing_seed=STRONG_SEED)
    assert settings.secret_key_bytes == STRONG_KEY.encode()
    assert STRONG_KEY not in repr(settings)
    assert STRONG_SEED not in repr(settings)


def test_prod_refusal_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECUREVOTE_MODE", "prod")
    with pytest.raises(ConfigurationError):
        Settings()


def test_seed_report_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/one")
    monkeypatch.setenv("TEST_MODE", "true")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://db/one"
    assert settings.test_mode


def test_the_prefixed_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/bare")
    monkeypatch.setenv("SECUREVOTE_DATABASE_URL", "postgresql+asyncpg://db/prefixed")
    assert Settings().database_url == "postgresql+asyncpg://db/prefixed"


def test_a_deterministic_seed_needs_test_mode() -> None:
    with pytest.raises(ConfigurationError, match="needs TEST_MODE"):
        Settings(test_seed="fixed")
    assert Settings(test_mode=True, test_seed="fixed").test_seed == "fixed"


def test_an_empty_secret_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECUREVOTE_SECRET_KEY", "")
    assert Settings().secret_key is None
    assert Settings().secret_key_bytes == DEV_SECRET_KEY.encode()
    monkeypatch.setenv("SECUREVOTE_MODE", "prod")
    with pytest.raises(ConfigurationError, match="SECUREVOTE_SECRET_KEY is not set"):
        Settings(jwt_signing_seed=STRONG_SEED)


def test_service_urls_come_as_name_equals_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SECUREVOTE_SERVICE_URLS", "election=http://election:8000/, voting=https://v.example.org"
    )
    assert Settings().service_urls == {
        "election": "http://election:8000",
        "voting": "https://v.example.org",
    }
    monkeypatch.setenv("SECUREVOTE_SERVICE_URLS", "election=ftp://x")
    with pytest.raises(ConfigurationError, match="SERVICE_URLS"):
        Settings()
