"""The operating settings: metrics off unless METRICS_PORT is set, bad values named, and a
worker health-check interval short enough for `arq --check` to mean something."""

from __future__ import annotations

from typing import Any

import pytest

from entrypoints.health import HEALTH_CHECK_SECONDS, WORKER_HEALTH_KEY
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.unified_worker import build_worker_settings


def test_metrics_are_off_by_default_and_would_listen_on_the_loopback_only() -> None:
    settings = Settings()

    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1"


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_metrics_port_leaves_metrics_off(blank: str) -> None:
    assert Settings(METRICS_PORT=blank).metrics_port is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "localhost", "metrics.internal"])
def test_metrics_listen_on_the_port_and_host_given(host: str) -> None:
    settings = Settings(METRICS_PORT="9464", METRICS_HOST=host)

    assert settings.metrics_port == 9464
    assert settings.metrics_host == host


def test_bad_metrics_settings_stop_the_start_naming_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "70000")
    monkeypatch.setenv("METRICS_HOST", "http://0.0.0.0")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert "METRICS_PORT: Input should be less than or equal to 65535" in message
    assert "METRICS_HOST: must be an IP address" in message


@pytest.mark.parametrize("port", ["0", "nine", "-1"])
def test_a_metrics_port_that_is_no_port_is_refused(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", port)

    with pytest.raises(SettingsError, match="METRICS_PORT"):
        load_settings()


def test_the_worker_rewrites_arqs_health_check_key_every_30_seconds() -> None:
    worker: Any = build_worker_settings(Settings())

    # arq's default is an hour: a dead worker would pass `arq --check` for up to an hour.
    assert worker.health_check_interval == HEALTH_CHECK_SECONDS == 30
    # `ai-worker health` reads the key arq writes and `arq --check` reads.
    assert getattr(worker, "health_check_key", None) is None
    assert getattr(worker, "queue_name", None) is None
    assert WORKER_HEALTH_KEY == "arq:queue:health-check"
