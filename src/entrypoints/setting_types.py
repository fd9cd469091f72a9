"""Field types of the settings that say where the worker listens (the metrics endpoint).

Kept out of ``settings.py`` so that the validation of a host and a port reads in one place.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

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
