"""One contract for the RebuildStaging port."""

from __future__ import annotations

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
