"""Bad settings: each refused at start with its variable named, every bad one in one message,
no secret repeated; TLS settings carried to the clients as given (docs/RELIABILITY.md)."""

from __future__ import annotations

import pytest
from redis.exceptions import AuthenticationError, ConnectionError

from adapters.postgres.engine import async_url
from adapters.redis.connection import redis_settings
from adapters.redis.probe import redis_failure
from entrypoints.settings import Settings, SettingsError, load_settings

SECRET = "Sekr1t-S3ttings"

# (variable, value, what the message must say about it)
BAD_SETTINGS = [
    ("L2_QUEUE_TRIGGER_THRESHOLD", "ten", "valid integer"),
    ("L2_QUEUE_MAX_LEN", "-5", "greater than or equal to 1"),
    ("L2_FORCE_UPDATE_AFTER_MINUTES", "-1", "greater than or equal to 0"),
    ("LLM_TIMEOUT_SECONDS", "soon", "valid number"),
    ("REDIS_PORT", "70000", "less than or equal to 65535"),
    ("L2_SCAN_INTERVAL_MINUTES", "7", "must divide 60"),
    ("MEMORY_TIMEZONE", "Mars/Olympus_Mons", "IANA time zone"),
    ("REDIS_URL", "http://127.0.0.1:6379/0", "redis://, rediss:// or unix://"),
    ("DATABASE_URL", f"mysql://root:{SECRET}@db/chat", "postgresql:// or sqlite://"),
    ("LLM_BASE_URL", "ftp://models.example", "http:// or https://"),
    ("EMBEDDINGS_BASE_URL", "http://:99999", "not a valid URL"),
    ("LOG_LEVEL", "LOUD", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    (
        "POSTGRES_SSLMODE",
        "sometimes",
        "'disable', 'allow', 'prefer', 'require', 'verify-ca' or 'verify-full'",
    ),
    ("MESSAGE_MAX_CHARS", "0", "greater than or equal to 1"),
    ("MESSAGE_MAX_CHARS", "1000000", "less than or equal to 32000"),
    ("REDIS_KEY_PREFIX", "aiw prod", "should match pattern"),
]


def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        alias = Settings.model_fields[name].alias
        if alias:
            monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir("/")  # no .env file of the developer's


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_SETTINGS)
def test_a_bad_setting_stops_the_start_naming_the_variable_and_the_problem(
    variable: str, value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean(monkeypatch)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    text = str(raised.value)
    assert text.startswith("bad settings, the worker cannot start:")
    [line] = [line for line in text.splitlines() if line.strip().startswith(f"{variable}:")]
    assert problem in line
    assert SECRET not in text


def test_every_bad_variable_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    clean(monkeypatch)
    variables = {variable for variable, _, _ in BAD_SETTINGS}
    for variable, value, _ in BAD_SETTINGS:
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    named = {line.strip().split(":")[0] for line in str(raised.value).splitlines()[1:]}
    assert variables <= named
    assert SECRET not in str(raised.value)


def test_a_model_url_without_its_model_name_is_refused_naming_llm_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean(monkeypatch)
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    with pytest.raises(SettingsError, match="LLM_MODEL: required when LLM_BASE_URL is set"):
        load_settings()


@pytest.mark.parametrize("mode", ["disable", "require", "verify-full"])
def test_postgres_sslmode_reaches_asyncpg_as_its_ssl_argument(mode: str) -> None:
    from_parts = Settings(POSTGRES_HOST="db.internal", POSTGRES_SSLMODE=mode).database_dsn()
    from_url = Settings(DATABASE_URL=f"postgresql://u@db.internal/chat?sslmode={mode}").database_dsn()
    added = Settings(DATABASE_URL="postgresql://u@db.internal/chat", POSTGRES_SSLMODE=mode).database_dsn()
    for dsn in (from_parts, from_url, added):
        # asyncpg refuses a keyword named sslmode (a TypeError at the first connection).
        assert dict(async_url(dsn).query) == {"ssl": mode}


def test_an_sslmode_in_the_url_wins_over_postgres_sslmode() -> None:
    settings = Settings(DATABASE_URL="postgresql://u@h/chat?sslmode=require", POSTGRES_SSLMODE="disable")
    assert dict(async_url(settings.database_dsn()).query) == {"ssl": "require"}


def test_a_rediss_url_asks_the_client_for_tls_with_the_ca_given() -> None:
    settings = redis_settings(
        "rediss://:pw@cache.internal:6380/2?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=required"
    )
    assert (settings.ssl, settings.ssl_ca_certs, settings.ssl_cert_reqs) == (True, "/etc/ca.pem", "required")
    assert (settings.host, settings.port, settings.database) == ("cache.internal", 6380, 2)
    assert not redis_settings("redis://cache.internal:6379/0").ssl


def test_a_redis_password_with_url_reserved_characters_reaches_the_server_decoded() -> None:
    # REDIS_PASSWORD is percent-encoded into the URL; arq would send it encoded, and be refused.
    dsn = Settings(REDIS_HOST="cache", REDIS_PASSWORD="p@ss/w:rd%").redis_dsn()
    assert "p@ss" not in dsn
    assert redis_settings(dsn).password == "p@ss/w:rd%"
    assert "p@ss" not in repr(redis_settings(dsn))


def test_a_refused_redis_is_one_line_naming_the_server_not_the_password() -> None:
    url = Settings(REDIS_HOST="cache", REDIS_PORT=6380, REDIS_PASSWORD=SECRET).redis_dsn()
    refused = redis_failure(url, AuthenticationError(f"invalid password {SECRET}"))
    assert refused.startswith(
        "Redis at cache:6380/0 refused the password (REDIS_PASSWORD or the password in REDIS_URL)"
    )
    down = redis_failure(url, ConnectionError("Error 111 connecting to cache:6380"))
    assert (
        down == "Redis at cache:6380/0 is unreachable (ConnectionError: Error 111 connecting to cache:6380)"
    )
    assert SECRET not in refused + down and "\n" not in refused + down
