"""The PostgreSQL insert of recorded messages: driver failures become StorageUnavailable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.postgres.engine import create_engine
from adapters.postgres.message_insert import COPY_FROM
from adapters.postgres.store import SqlMemoryStore
from memory_domain.errors import StorageUnavailable
from tests.support.databases import admin_database_url, fresh_postgres_database
from tests.support.world import message

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_an_unreachable_server_is_storage_unavailable_without_the_password() -> None:
    engine = create_engine("postgresql://worker:s3cret-pw@127.0.0.1:1/memory")
    try:
        with pytest.raises(StorageUnavailable) as unavailable:
            await SqlMemoryStore(engine).add_messages([message("m1")], NOW)
    finally:
        await engine.dispose()
    text = str(unavailable.value)
    assert "record messages" in text and "127.0.0.1:1" in text and "s3cret-pw" not in text


async def test_a_database_that_refuses_the_connection_is_storage_unavailable() -> None:
    url = sa.engine.make_url(admin_database_url()).set(database="no_such_database_for_recording")
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(StorageUnavailable, match="no_such_database_for_recording"):
            await SqlMemoryStore(engine).add_messages([message("m1")], NOW)
    finally:
        await engine.dispose()


async def test_an_unmigrated_database_names_the_missing_schema() -> None:
    async with fresh_postgres_database(migrate=False) as url:
        engine = create_engine(url)
        try:
            with pytest.raises(StorageUnavailable, match="run the migrations"):
                await SqlMemoryStore(engine).add_messages([message("m1")], NOW)
        finally:
            await engine.dispose()


async def test_a_connection_the_server_killed_is_not_handed_out_again() -> None:
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        admin = create_engine(url)
        store = SqlMemoryStore(engine)
        try:
            await store.add_messages([message("m1")], NOW)
            async with admin.connect() as connection:
                await connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            await asyncio.sleep(0.1)
            outcomes = []
            for attempt in ("m2", "m3"):
                try:
                    outcomes.append(len(await store.add_messages([message(attempt)], NOW)))
                except StorageUnavailable:
                    outcomes.append(0)
            # At most the first call meets the dead connection; the next one gets a new one.
            assert outcomes[-1] == 1
            stored = await store.messages_by_ids("g1", ["m1", "m2", "m3"])
            assert "m3" in {m.message_id for m in stored}
        finally:
            await admin.dispose()
            await engine.dispose()


async def test_a_large_batch_holding_stored_messages_stores_only_the_new_ones_keeping_the_first(
    postgres_engine: sa.ext.asyncio.AsyncEngine,
) -> None:
    store = SqlMemoryStore(postgres_engine)
    first = [message(f"m{i:03d}", content=f"first {i}") for i in range(COPY_FROM + 8)]
    assert len(await store.add_messages(first, NOW)) == len(first)  # the COPY path
    again = [message(f"m{i:03d}", content=f"again {i}") for i in range(2 * COPY_FROM + 16)]
    stored = await store.add_messages(again, NOW)  # COPY refused: the INSERT path
    assert [m.message_id for m in stored] == [m.message_id for m in again[len(first) :]]
    kept = await store.messages_by_ids("g1", ["m000", f"m{len(again) - 1:03d}"])
    assert [m.content for m in kept] == ["first 0", f"again {len(again) - 1}"]
