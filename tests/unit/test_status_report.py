"""How `ai-worker status` assembles its report from the Redis and database snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from arq.cron import cron

from adapters.postgres.status_reads import ConsensusRun, DatabaseSnapshot, LastFailure
from adapters.redis.status_reads import GroupBacklog, RedisSnapshot
from entrypoints.status import gather_status
from memory_domain.consensus import ConsensusSchedule

NOW = datetime(2026, 11, 2, 9, 30, 10, tzinfo=UTC)


class FakeRedis:
    async def snapshot(self, now: datetime, top: int) -> RedisSnapshot:
        busy = GroupBacklog("busy", 12, NOW - timedelta(minutes=1), 0)
        failing = GroupBacklog("sick", 2, NOW + timedelta(minutes=5), 3)
        return RedisSnapshot(True, 3, 15, 1, [busy, failing][:top], 1, [failing], 2, 1, 0, "j_complete=4")


class FakeDatabase:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def snapshot(self, group_ids: Sequence[str]) -> DatabaseSnapshot:
        self.asked = list(group_ids)
        return DatabaseSnapshot(
            oldest_pending={"busy": NOW - timedelta(hours=2)},
            last_failures={"sick": LastFailure(NOW - timedelta(minutes=3), "model timed out")},
            quarantined={"sick": 1, "old": 4},
            unfinished_tasks={"PENDING": 1, "RUNNING": 0, "COMMIT": 0},
            oldest_running=None,
            last_consensus=ConsensusRun(datetime(2026, 11, 2, 2, tzinfo=UTC), NOW - timedelta(hours=7), 40),
        )


async def noop(ctx: object) -> None:
    return None


async def test_the_report_joins_backlog_ages_last_errors_and_persisted_cron_runs() -> None:
    database = FakeDatabase()
    jobs = [
        cron(noop, name="cron_daily_consensus", second=20),
        cron(noop, name="cron_scan", minute={0, 30}, second=0),
    ]

    report = (
        await gather_status(FakeRedis(), database, jobs, ConsensusSchedule(hour=2), NOW, top=5)
    ).as_dict()

    assert database.asked == ["busy", "sick"]  # only the groups shown are looked up
    assert (report["pending"]["groups"], report["pending"]["messages"], report["pending"]["groups_due"]) == (
        3,
        15,
        1,
    )
    busy, sick = report["pending"]["top"]
    assert (busy["group_id"], busy["pending"], busy["oldest_age_seconds"], busy["due_in_seconds"]) == (
        "busy",
        12,
        7200.0,
        -60.0,
    )
    assert report["backoff"]["top"][0] | {} == sick
    assert (sick["failures"], sick["last_error"]) == (3, "model timed out")
    assert report["quarantine"] == {
        "messages": 5,
        "groups": 2,
        "top": [{"group_id": "old", "messages": 4}, {"group_id": "sick", "messages": 1}],
    }
    crons = {row["name"]: row for row in report["crons"]}
    assert crons["cron_daily_consensus"]["last_run"] == (NOW - timedelta(hours=7)).isoformat()
    assert crons["cron_daily_consensus"]["next_run"] == "2026-11-03T02:00:00+00:00"
    assert crons["cron_scan"] == {
        "name": "cron_scan",
        "last_run": None,
        "next_run": "2026-11-02T10:00:00+00:00",
    }
    assert report["workers"] == {"alive": True, "info": "j_complete=4"}
    assert report["updates"] == {"jobs_queued": 2, "updates_running": 1, "evolutions_running": 0}
