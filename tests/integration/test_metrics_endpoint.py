"""The real worker, in this process on the machine's PostgreSQL and Redis, serving its metrics
over HTTP: every family is there with values that match what happened, and no label carries a
group id or chat text."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.worker import Worker, get_kwargs
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from entrypoints import metrics_state
from entrypoints.container import Container, resolve
from entrypoints.memory_tasks import REBUILD_GROUP
from entrypoints.settings import Settings
from entrypoints.unified_worker import build_worker_settings
from long_tasks_domain.service import TaskService
from memory_domain.model import ChatMessage, Role
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from tests.support.services import live_services

pytestmark = pytest.mark.integration

BUSY_GROUP = "metrics-secret-alpha"
QUIET_GROUP = "metrics-secret-beta"
SECRET_TEXT = "zebra-cipher-7731"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

FAMILIES = {
    "ai_worker_jobs",
    "ai_worker_job_duration_seconds",
    "ai_worker_jobs_in_progress",
    "ai_worker_cron_runs",
    "ai_worker_cron_duration_seconds",
    "ai_worker_cron_last_success_timestamp_seconds",
    "ai_worker_messages_recorded",
    "ai_worker_messages_integrated",
    "ai_worker_topic_updates",
    "ai_worker_memory_evolutions",
    "ai_worker_model_calls",
    "ai_worker_model_call_duration_seconds",
    "ai_worker_model_tokens",
    "ai_worker_long_task_runs",
    "ai_worker_pending_messages",
    "ai_worker_groups_with_pending",
    "ai_worker_groups_due",
    "ai_worker_groups_in_backoff",
    "ai_worker_long_tasks",
    "ai_worker_state_refreshed_timestamp_seconds",
}


def chat(group_id: str, count: int) -> list[ChatMessage]:
    return [
        ChatMessage(
            message_id=f"{group_id}-{i:03d}",
            group_id=group_id,
            sender_id=f"u{i % 3}",
            sender_name=f"User {i % 3}",
            role=Role.USER,
            content=f"{SECRET_TEXT}: database migration tonight, step {i}",
            sent_at=START + timedelta(minutes=i),
        )
        for i in range(count)
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Scrape:
    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}

    def value(self, name: str, **labels: str) -> float:
        for family in self.families.values():
            for found in family.samples:
                if found.name == name and found.labels == labels:
                    return float(found.value)
        raise AssertionError(f"no sample {name}{labels} in the scrape")


async def scrape(port: int) -> Scrape:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    return Scrape(await asyncio.to_thread(get))


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def services(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Settings, Container, Redis]]:
    monkeypatch.setattr(metrics_state, "REFRESH_SECONDS", 0.2)
    port = str(free_port())
    async with live_services(L2_QUEUE_TRIGGER_THRESHOLD=10, METRICS_PORT=port) as services:
        yield services


async def test_the_worker_serves_every_metric_family_with_sane_values_and_no_group_id(
    services: tuple[Settings, Container, Redis],
) -> None:
    settings, container, _ = services
    assert settings.metrics_port is not None
    port = settings.metrics_port
    before: dict[str, Any] = {
        "recorded": sample("ai_worker_messages_recorded_total"),
        "integrated": sample("ai_worker_messages_integrated_total"),
        "jobs": sample("ai_worker_jobs_total", function="task_update_topic_memory", outcome="ok"),
        "calls": sample("ai_worker_model_calls_total", kind="topics", outcome="ok"),
    }
    recorder: MessageRecorder = await resolve(container.recorder)
    queries: MemoryQueries = await resolve(container.queries)
    tasks: TaskService = await resolve(container.task_service)
    await recorder.record_many(chat(BUSY_GROUP, 12) + chat(QUIET_GROUP, 3))  # 3: below the threshold
    await tasks.submit(
        REBUILD_GROUP, {"group_id": QUIET_GROUP}, run_at=datetime.now(UTC) + timedelta(hours=1)
    )

    kwargs: dict[str, Any] = get_kwargs(build_worker_settings(settings))
    kwargs.update(handle_signals=False, poll_delay=0.05, ctx={"settings": settings, "container": container})
    worker = Worker(**kwargs)
    running = asyncio.create_task(worker.async_run())
    try:

        async def integrated() -> bool:
            return (await queries.show(BUSY_GROUP)).pending_messages == 0

        await eventually(integrated, "the busy group's update")

        async def refreshed() -> bool:
            now = await scrape(port)
            return (
                now.value("ai_worker_pending_messages") == 3
                and now.value("ai_worker_long_tasks", status="PENDING") == 1
            )

        await eventually(refreshed, "the shared-state gauges to show the quiet group and the task")
        result = await scrape(port)
    finally:
        await worker.close()
        with suppress(asyncio.CancelledError):
            await running

    assert set(result.families) >= FAMILIES, FAMILIES - set(result.families)
    assert result.value("ai_worker_messages_recorded_total") - before["recorded"] == 15
    assert result.value("ai_worker_messages_integrated_total") - before["integrated"] == 12
    update_jobs = result.value("ai_worker_jobs_total", function="task_update_topic_memory", outcome="ok")
    assert update_jobs - before["jobs"] >= 1
    assert result.value("ai_worker_job_duration_seconds_count", function="task_update_topic_memory") >= 1
    assert result.value("ai_worker_model_calls_total", kind="topics", outcome="ok") - before["calls"] >= 1
    assert result.value("ai_worker_cron_runs_total", cron="cron_scan_topic_memory", outcome="ok") >= 1
    assert result.value("ai_worker_cron_last_success_timestamp_seconds", cron="cron_scan_topic_memory") > 0
    assert result.value("ai_worker_groups_with_pending") == 1  # the quiet group
    assert result.value("ai_worker_groups_due") == 0  # not old enough, below the threshold
    assert result.value("ai_worker_groups_in_backoff") == 0
    assert result.value("ai_worker_long_tasks", status="RUNNING") == 0
    assert result.value("ai_worker_state_refreshed_timestamp_seconds") > 0
    assert result.value("ai_worker_state_refresh_errors_total", source="database") == 0

    # Bounded cardinality: label values are names and outcomes, never ids or chat text.
    label_values = {
        value
        for family in result.families.values()
        for found in family.samples
        for value in found.labels.values()
    }
    for secret in (BUSY_GROUP, QUIET_GROUP, SECRET_TEXT):
        assert not any(secret in value for value in label_values), secret
        assert secret not in result.text


async def test_the_endpoint_closes_with_the_worker(services: tuple[Settings, Container, Redis]) -> None:
    settings, container, _ = services
    assert settings.metrics_port is not None
    kwargs: dict[str, Any] = get_kwargs(build_worker_settings(settings))
    kwargs.update(handle_signals=False, poll_delay=0.05, ctx={"settings": settings, "container": container})
    worker = Worker(**kwargs)
    running = asyncio.create_task(worker.async_run())
    try:

        async def serving() -> bool:
            with suppress(OSError):
                return "ai_worker_jobs_total" in (await scrape(settings.metrics_port)).text
            return False

        await eventually(serving, "the metrics endpoint")
    finally:
        await worker.close()
        with suppress(asyncio.CancelledError):
            await running

    with pytest.raises(OSError):
        await scrape(settings.metrics_port)
    # The port is free again: a worker started next in this process can serve on it.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the next server does
        again.bind(("127.0.0.1", settings.metrics_port))
