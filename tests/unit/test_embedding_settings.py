"""The embeddings settings: off by default, both-or-neither, every bad variable named, keys kept secret."""

from __future__ import annotations

from typing import Any

import pytest

from entrypoints.embedding_wiring import open_embedder
from entrypoints.settings import Settings, SettingsError, load_settings

KEY = "sk-embed-5d1e-never-show-me"
LLM_KEY = "sk-llm-77a0-never-show-me"


def test_embeddings_are_off_by_default_with_a_weight_ready_for_when_they_are_on() -> None:
    settings = Settings()

    assert not settings.embeddings_configured
    assert settings.embeddings_weight == 0.3
    with pytest.raises(SettingsError, match="EMBEDDINGS_BASE_URL and EMBEDDINGS_MODEL are needed"):
        settings.embeddings_options()


async def test_without_embeddings_the_wiring_yields_no_embedder() -> None:
    resource = open_embedder(Settings())

    assert await anext(resource) is None
    with pytest.raises(StopAsyncIteration):
        await anext(resource)


def test_the_options_of_the_embedder_follow_the_settings() -> None:
    settings = Settings(
        EMBEDDINGS_BASE_URL="http://embeddings.internal:8080/v1",
        EMBEDDINGS_MODEL=" bge-m3 ",
        EMBEDDINGS_API_KEY=KEY,
        EMBEDDINGS_WEIGHT=0.5,
        EMBEDDINGS_TIMEOUT_SECONDS=4,
        EMBEDDINGS_MAX_ATTEMPTS=3,
        EMBEDDINGS_BATCH_SIZE=16,
    )

    assert settings.embeddings_configured
    assert settings.embeddings_weight == 0.5
    assert settings.embeddings_options() == {
        "base_url": "http://embeddings.internal:8080/v1",
        "api_key": KEY,
        "model": "bge-m3",
        "timeout_seconds": 4.0,
        "max_attempts": 3,
        "batch_size": 16,
    }


@pytest.mark.parametrize(
    ("llm_base_url", "embeddings_base_url", "expected_key"),
    [
        pytest.param("https://api.example.com/v1", "https://api.example.com/v1", LLM_KEY, id="same-server"),
        pytest.param(
            "https://API.example.com:443/v1", "https://api.example.com/other", LLM_KEY, id="same-origin"
        ),
        pytest.param(
            "https://api.example.com/v1", "http://10.0.0.5:8080/v1", "not-needed", id="other-server"
        ),
        pytest.param(
            "https://api.example.com/v1", "http://api.example.com/v1", "not-needed", id="other-scheme"
        ),
        pytest.param("http://localhost:8000/v1", "http://localhost:8001/v1", "not-needed", id="other-port"),
        pytest.param(None, "https://api.example.com/v1", "not-needed", id="no-llm-server"),
    ],
)
def test_without_its_own_key_the_embedder_gets_the_llm_key_only_from_the_same_server(
    llm_base_url: str | None, embeddings_base_url: str, expected_key: str
) -> None:
    llm: dict[str, Any] = {"LLM_BASE_URL": llm_base_url, "LLM_MODEL": "chat"} if llm_base_url else {}
    settings = Settings(
        **llm, LLM_API_KEY=LLM_KEY, EMBEDDINGS_BASE_URL=embeddings_base_url, EMBEDDINGS_MODEL="m"
    )

    assert settings.embeddings_options()["api_key"] == expected_key


def test_its_own_key_wins_over_the_llm_key() -> None:
    settings = Settings(
        LLM_BASE_URL="https://api.example.com/v1",
        LLM_MODEL="chat",
        LLM_API_KEY=LLM_KEY,
        EMBEDDINGS_BASE_URL="https://api.example.com/v1",
        EMBEDDINGS_MODEL="m",
        EMBEDDINGS_API_KEY=KEY,
    )

    assert settings.embeddings_options()["api_key"] == KEY


def test_the_keys_appear_in_no_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("EMBEDDINGS_MODEL", "m")
    monkeypatch.setenv("EMBEDDINGS_API_KEY", KEY)
    monkeypatch.setenv("LLM_API_KEY", LLM_KEY)

    settings = load_settings()

    for text in (repr(settings), str(settings), repr(settings.model_dump())):
        assert KEY not in text and LLM_KEY not in text


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param(
            {"EMBEDDINGS_BASE_URL": "http://127.0.0.1:9/v1"},
            "EMBEDDINGS_MODEL: required when EMBEDDINGS_BASE_URL is set",
            id="url-without-model",
        ),
        pytest.param(
            {"EMBEDDINGS_BASE_URL": "http://127.0.0.1:9/v1", "EMBEDDINGS_MODEL": "  "},
            "EMBEDDINGS_MODEL: required when EMBEDDINGS_BASE_URL is set",
            id="url-with-blank-model",
        ),
        pytest.param(
            {"EMBEDDINGS_MODEL": "bge-m3"},
            "EMBEDDINGS_MODEL: set without EMBEDDINGS_BASE_URL",
            id="model-without-url",
        ),
        pytest.param(
            {"EMBEDDINGS_BASE_URL": "embeddings.internal/v1", "EMBEDDINGS_MODEL": "m"},
            "EMBEDDINGS_BASE_URL: must start with http:// or https://",
            id="url-without-scheme",
        ),
    ],
)
def test_an_incomplete_embeddings_configuration_stops_the_worker(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert expected in str(raised.value)
    assert len(str(raised.value).splitlines()) == 2  # the heading and the one problem


def test_every_bad_embeddings_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("EMBEDDINGS_API_KEY", KEY)
    monkeypatch.setenv("EMBEDDINGS_WEIGHT", "1.5")
    monkeypatch.setenv("EMBEDDINGS_TIMEOUT_SECONDS", "0")
    monkeypatch.setenv("EMBEDDINGS_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("EMBEDDINGS_BATCH_SIZE", "5000")
    monkeypatch.setenv("REDIS_PORT", "0")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    for name in (
        "EMBEDDINGS_MODEL: required",
        "EMBEDDINGS_WEIGHT",
        "EMBEDDINGS_TIMEOUT_SECONDS",
        "EMBEDDINGS_MAX_ATTEMPTS",
        "EMBEDDINGS_BATCH_SIZE",
        "REDIS_PORT",
    ):
        assert f"  {name}" in message
    assert KEY not in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://h:99999/v1", "not a valid URL"),
        ("http://h:port/v1", "not a valid URL"),
        ("http:///v1", "no host"),
    ],
)
def test_a_server_url_with_a_bad_port_or_no_host_stops_the_worker(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("EMBEDDINGS_BASE_URL", url)
    monkeypatch.setenv("EMBEDDINGS_MODEL", "m")
    with pytest.raises(SettingsError, match=f"EMBEDDINGS_BASE_URL: .*{problem}"):
        load_settings()
