"""L2_QUARANTINE_AFTER_FAILURES: how many failures alone quarantine a message, validated at start."""

from __future__ import annotations

import pytest

from entrypoints.container import updater_options
from entrypoints.settings import Settings, SettingsError, load_settings


def test_a_message_is_quarantined_after_three_failures_alone_unless_set_otherwise() -> None:
    assert updater_options(Settings()).quarantine_after == 3
    assert updater_options(Settings(L2_QUARANTINE_AFTER_FAILURES="5")).quarantine_after == 5


@pytest.mark.parametrize("value", ["0", "-1", "101", "three"])
def test_a_bad_quarantine_threshold_stops_the_start_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2_QUARANTINE_AFTER_FAILURES", value)

    with pytest.raises(SettingsError, match="L2_QUARANTINE_AFTER_FAILURES"):
        load_settings()
