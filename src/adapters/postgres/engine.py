"""The async engine (PostgreSQL through asyncpg, SQLite through aiosqlite) and its error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory_domain.errors import StorageUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5_000

# Whatever driver a URL names, the engine uses the async driver this package ships with.
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str | URL) -> URL:
    """``url`` with its driver replaced by asyncpg or aiosqlite; ValueError for other databases."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        # The text may hold a password, so it is not repeated in the error.
        raise ValueError("the database URL cannot be parsed") from None
    driver = _ASYNC_DRIVERS.get(parsed.get_backend_name())
    if driver is None:
        raise ValueError(f"unsupported database {mask_url(parsed)}: use a postgresql:// or sqlite:/// URL")
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq's sslmode is asyncpg's ssl argument (same values); asyncpg refuses the name.
        query = dict(parsed.query)
        mode = query.pop("sslmode")
        query.setdefault("ssl", mode)
        parsed = parsed.set(query=query)
    return parsed.set(drivername=driver)


def mask_url(url: str | URL) -> str:
    """The URL as text with its password hidden, fit for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable database URL>"


def create_engine(url: str, **opts: Any) -> AsyncEngine:
    """An async engine for ``url`` (sync driver names are replaced by the async ones).

    SQLite gets WAL, a busy timeout and enforced foreign keys on every connection. PostgreSQL
    connections are not pinged before each use (a round trip per checkout, on every statement
    of the hot paths): a pooled connection the server closed (a restart) is known closed without
    one, and replaced at checkout; one dropped later fails its statement, and the pool then
    replaces every connection older than the failure.
    Nothing connects until the engine is first used.
    """
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target, **opts)
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(target, **opts)
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # asyncpg sees the server's FIN of an idle connection as soon as the event loop polls it:
    # a connection that a restarted server closed is refused here, and the pool retries the
    # checkout with a new one (DisconnectionError is the pool's signal for that).
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa_exc.DisconnectionError("the server closed this pooled connection")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN skips SELECTs and DDL, which would make reads and
        # migrations non-atomic; SQLAlchemy emits BEGIN itself in the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Durable across process crashes in WAL mode; only a power loss can lose the
            # last transactions, which is acceptable for the embedded demo database.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")


@contextmanager
def storage_errors(url: URL, action: str) -> Iterator[None]:
    """Turn driver and connection errors raised inside into :class:`StorageUnavailable`.

    Integrity and data errors are bugs, not outages, and pass through unchanged. The message
    names the database with its password masked and carries the driver's message, not the
    SQL statement and its parameters (they hold chat content).
    """
    try:
        yield
    except (sa_exc.IntegrityError, sa_exc.DataError):
        raise
    except sa_exc.DBAPIError as error:
        raise StorageUnavailable(_describe(url, action, error.orig)) from error
    except sa_exc.TimeoutError as error:
        raise StorageUnavailable(_describe(url, action, error, "no free connection in the pool")) from error
    except (OSError, TimeoutError) as error:
        raise StorageUnavailable(_describe(url, action, error)) from error


def _describe(url: URL, action: str, cause: BaseException | None, problem: str | None = None) -> str:
    detail = problem or (f"{type(cause).__name__}: {cause}" if cause is not None else "unknown error")
    if url.password:
        detail = detail.replace(str(url.password), "***")
    message = f"cannot {action}: database {mask_url(url)} is unreachable or refused the operation ({detail})"
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate == "42P01" or "no such table" in detail:
        message += "; the schema is missing, run the migrations (adapters.postgres.migrate.upgrade_to_head)"
    return message
