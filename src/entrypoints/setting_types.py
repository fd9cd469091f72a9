"""Field types of the settings, each with its own validation: where the worker listens (the
metrics endpoint), the URLs of its services, its time zone and scan interval.

Kept out of ``settings.py`` so that each check reads in one place, beside its type.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _blank_is_unset(value: object) -> object:
    # `METRICS_PORT: ${METRICS_PORT:-}` in a compose file gives an empty string: off, not an error.
    return None if isinstance(value, str) and not value.strip() else value


def _listen_host(value: str) -> str:
    value = value.strip()
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.rstrip(".").split(".")
        if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise ValueError(
                "must be an IP address (127.0.0.1, 0.0.0.0, ::) or a host name of this machine"
            ) from None
    return value


ListenHost = Annotated[str, AfterValidator(_listen_host)]
"""An address to bind a server to: an IPv4 or IPv6 address, or a host name."""

OptionalPort = Annotated[Annotated[int, Field(ge=1, le=65535)] | None, BeforeValidator(_blank_is_unset)]
"""A TCP port, or None when unset or blank."""

PostgresSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
"""libpq's ``sslmode`` values, which asyncpg takes as its ``ssl`` argument."""


def _http_url(value: str | None) -> str | None:
    if value is not None and value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    if value:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        except ValueError as error:
            raise ValueError(f"is not a valid URL ({error})") from None
        if not parts.hostname:
            raise ValueError("has no host name")
    return value or None


def _scheme_check(schemes: tuple[str, ...], problem: str) -> AfterValidator:
    def check(value: SecretStr) -> SecretStr:
        # The URL may hold a password: the error names the schemes, never the value.
        if not value.get_secret_value().startswith(schemes):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as UTC or Asia/Shanghai") from None
    return value


def _divides_the_hour(value: int) -> int:
    # The scan is a cron on the minutes of the hour: only a divisor of 60 gives even gaps.
    if 60 % value:
        raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
    return value


# An http(s) URL of a model server; empty means unset.
HttpUrlText = Annotated[str, AfterValidator(_http_url)]
RedisUrl = Annotated[
    SecretStr,
    _scheme_check(("redis://", "rediss://", "unix://"), "must be a redis://, rediss:// or unix:// URL"),
]
DatabaseUrl = Annotated[
    SecretStr,
    _scheme_check(("postgresql", "postgres://", "sqlite"), "must be a postgresql:// or sqlite:// URL"),
]
TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]
MinutesDividingTheHour = Annotated[int, AfterValidator(_divides_the_hour)]
