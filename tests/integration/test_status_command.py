"""`ai-worker status --json` as a process, after messages were ingested, on PostgreSQL and Redis."""

from __future__ import annotations

import json

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.processes import ai_worker, service_env
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration


def line(message_id: str, group_id: str) -> bytes:
    message = {
        "message_id": message_id,
        "group_id": group_id,
        "sender_id": "u1",
        "sender_name": "Maya",
        "content": "the deploy plan",
        "sent_at": "2026-11-02T09:15:00+08:00",
    }
    return json.dumps(message).encode() + b"\n"


async def test_status_lists_the_pending_groups_by_backlog_with_their_counts_and_the_totals() -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url())
        given = b"".join([line(f"a{n}", "busy") for n in range(3)] + [line("b0", "quiet")])
        ingested = await ai_worker("ingest", "-", env=env, stdin=given)
        assert ingested.returncode == 0, ingested.stderr

        result = await ai_worker("status", "--json", "--top", "1", env=env)

        assert result.returncode == 0, result.stderr
        report = result.json()
        pending = report["pending"]
        assert (pending["groups"], pending["messages"]) == (2, 4)
        [busy] = pending["top"]
        assert (busy["group_id"], busy["pending"], busy["failures"]) == ("busy", 3, 0)
        assert busy["oldest_pending_at"] == "2026-11-02T01:15:00+00:00"
        assert busy["due_at"] is not None and busy["last_error"] is None
        assert report["long_tasks"]["by_status"] == {"PENDING": 0, "RUNNING": 0, "COMMIT": 0}
        assert report["workers"] == {"alive": False, "info": None}
        crons = {cron["name"]: cron for cron in report["crons"]}
        assert crons["cron_daily_consensus"]["last_run"] is None
        assert all(cron["next_run"] for cron in crons.values())

        table = await ai_worker("status", env=env)
        assert table.returncode == 0, table.stderr
        assert "pending: 4 messages in 2 groups" in table.stdout
