"""One contract for the RebuildStaging port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory_domain.model import Topic, TopicStatus
from memory_domain.ports import RebuildStaging


class RebuildStagingContract:
    """Subclasses provide an async fixture ``staging`` (empty)."""

    async def test_assignments_come_back_per_topic_in_position_order(self, staging: RebuildStaging) -> None:
        await staging.stage("g1", "k", [("m3", "t2", 3), ("m1", "t1", 1), ("m2", "t2", 2)])
        await staging.stage("g1", "k", [("m4", "t1", 4)])
        assert await staging.staged("g1", "k") == {"t1": ["m1", "m4"], "t2": ["m2", "m3"]}

    async def test_staging_again_overwrites_and_rebuilds_and_groups_stay_apart(
        self, staging: RebuildStaging
    ) -> None:
        await staging.stage("g1", "k", [("m1", "t1", 1)])
        await staging.stage("g1", "k", [("m1", "t9", 1)])  # a step that ran again
        await staging.stage("g1", "other", [("m1", "t5", 1)])
        await staging.stage("g2", "k", [("m1", "t7", 1)])
        assert await staging.staged("g1", "k") == {"t9": ["m1"]}
        await staging.discard("g1", "k")
        assert await staging.staged("g1", "k") == {}
        assert await staging.staged("g1", "other") == {"t5": ["m1"]}
        assert await staging.staged("g2", "k") == {"t7": ["m1"]}
        await staging.stage("g1", "k", [])
        assert await staging.staged("g1", "k") == {}

    async def test_archived_topics_come_back_archived_and_a_step_run_again_replaces_its_own(
        self, staging: RebuildStaging
    ) -> None:
        await staging.archive("g1", "k", 0, [_topic("t1")])
        await staging.archive("g1", "k", 200, [_topic("t2"), _topic("t3")])
        await staging.archive("g1", "k", 200, [_topic("t4")])  # the step at 200 ran again
        await staging.archive("g2", "k", 0, [_topic("t9")])
        archived = await staging.archived("g1", "k")
        assert [t.topic_id for t in archived] == ["t1", "t4"]
        t4 = archived[1]
        assert (t4.title, t4.summary, t4.message_ids, t4.status) == (
            "title t4",
            "一个摘要 summary",
            (),
            TopicStatus.ARCHIVED,
        )
        assert (t4.created_at, t4.updated_at) == (_topic("t4").created_at, _topic("t4").updated_at)
        await staging.discard("g1", "k")
        assert await staging.archived("g1", "k") == []
        assert [t.topic_id for t in await staging.archived("g2", "k")] == ["t9"]


def _topic(topic_id: str) -> Topic:
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    return Topic(topic_id, f"title {topic_id}", "一个摘要 summary", ("m1",), at, at + timedelta(minutes=1))
