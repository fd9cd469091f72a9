"""The whole memory-context path on PostgreSQL: ingest, the worker, ``memory context``, ``reindex``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.processes import ai_worker, service_env
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

CHAT = [
    ("melanie", "Melanie", "I signed up for a pottery class last week", "2023-07-03T13:36:00+00:00"),
    ("caroline", "Caroline", "Nice! What did you make in the class?", "2023-07-03T13:37:00+00:00"),
    ("melanie", "Melanie", "A black and white bowl, my first one", "2023-07-03T13:38:00+00:00"),
    ("caroline", "Caroline", "I am researching adoption agencies this summer", "2023-07-06T20:18:00+00:00"),
    ("xiaowang", "小王", "数据库迁移定在周六晚上十一点", "2023-07-07T09:00:00+08:00"),
    ("laoli", "老李", "好的，我来准备回滚脚本", "2023-07-07T09:01:00+08:00"),
]


async def test_the_context_of_a_query_lists_sourced_dated_entries_and_survives_a_reindex(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database(migrate=False) as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url())
        assert (await ai_worker("migrate", env=env)).returncode == 0
        source = tmp_path / "chat.jsonl"
        lines = [
            json.dumps(
                {
                    "message_id": f"m{i}",
                    "group_id": "friends",
                    "sender_id": sender,
                    "sender_name": name,
                    "content": content,
                    "sent_at": sent_at,
                },
                ensure_ascii=False,
            )
            for i, (sender, name, content, sent_at) in enumerate(CHAT)
        ]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert (await ai_worker("ingest", str(source), env=env)).returncode == 0
        assert (await ai_worker("memory", "update", "friends", env=env)).returncode == 0
        worked = await ai_worker("worker", "--burst", env=env)
        assert worked.returncode == 0, worked.stderr

        asked = await ai_worker(
            "memory",
            "context",
            "friends",
            "--query",
            "What did Melanie make in her pottery class?",
            "--budget",
            "600",
            "--json",
            env=env,
        )
        assert asked.returncode == 0, asked.stderr
        context = asked.json()
        assert len(context["text"]) <= 600
        first = context["entries"][0]
        assert {"kind", "id", "score", "source_message_ids", "speakers", "dates", "text"} <= set(first)
        # The answer is there once: as the message, or as the group-memory item restating it.
        bowl = [e for e in context["entries"] if e["source_message_ids"] == ["m2"]]
        assert len(bowl) == 1 and bowl[0]["speakers"] == ["Melanie"] and "2023-07-03" in bowl[0]["dates"]
        assert "3 July 2023" in context["text"] and "A black and white bowl" in context["text"]

        chinese = (
            await ai_worker(
                "memory", "context", "friends", "--query", "数据库什么时候迁移", "--json", env=env
            )
        ).json()
        assert chinese["entries"][0]["source_message_ids"] == ["m4"]

        reindexed = await ai_worker("memory", "reindex", "--all", env=env)
        assert reindexed.returncode == 0 and "friends: 6 messages indexed" in reindexed.stdout
        again = await ai_worker(
            "memory",
            "context",
            "friends",
            "--query",
            "What did Melanie make in her pottery class?",
            "--budget",
            "600",
            "--json",
            env=env,
        )
        assert again.json()["text"] == context["text"]

        refused = await ai_worker("memory", "reindex", env=env)
        assert refused.returncode == 2 and "give a group id, --all or --stale" in refused.stderr
        stale = await ai_worker("memory", "reindex", "--stale", env=env)
        assert stale.returncode == 0 and stale.stdout.strip() == ""  # every group is up to date
