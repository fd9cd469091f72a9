"""Model faults on a schedule: ``python bench/model_faults.py [--quick] [--json]`` (a proof, not a speed figure).

One ``ai-worker worker`` process talks to the local OpenAI-compatible test server
(``tests/support/openai_server.py``), which misbehaves on a schedule: each of seven groups gets
one fault (a timeout, HTTP 500, HTTP 429 with ``Retry-After``, malformed JSON, an answer
violating the schema, an answer in another language than the chat, an answer that drops every
topic). After a first good update of every group, the model misbehaves while each group's
next messages arrive; then it behaves again. Checked for each group: the request was retried
(with backoff, the 429's ``Retry-After`` honoured), then the failure was recorded and shown by
``ai-worker memory show``, the memory was untouched and the messages still pending; and once
the model behaves, the group is served again without anyone's help (its backoff, then the scan).
Needs the local PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL), as the benchmarks.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

from bench import report
from bench.report import Figure
from entrypoints.cli_memory import view_json
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from memory_domain.model import ChatMessage, Role
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from tests.support.databases import fresh_postgres_database
from tests.support.model_faults import FAULTS, ScheduledModel, fault_of, group_id, message_id
from tests.support.openai_server import OpenAICompatibleServer, RecordedRequest, running_openai_server
from tests.support.processes import ai_worker, service_env, start_worker, stop
from tests.support.redis_space import empty_redis, redis_test_url
from tests.support.world import START

BATCH = 10  # L2_QUEUE_TRIGGER_THRESHOLD: each batch triggers its group's update
ATTEMPTS = 3  # LLM_MAX_ATTEMPTS
RETRY_AFTER_SECONDS = 2
SETTINGS = {
    "L2_QUEUE_TRIGGER_THRESHOLD": str(BATCH),
    "LLM_TIMEOUT_SECONDS": "1",
    "LLM_MAX_ATTEMPTS": str(ATTEMPTS),
    "L2_FAILURE_BACKOFF_MINUTES": "0.05",
    "L2_SCAN_INTERVAL_MINUTES": "1",
    # A failing model is nobody's poison message here: nothing is quarantined in this run.
    "L2_QUARANTINE_AFTER_FAILURES": "100",
}


def batch(fault: str, first: int) -> list[ChatMessage]:
    return [
        ChatMessage(
            message_id(fault, n),
            group_id(fault),
            f"u{n % 3}",
            f"user{n % 3}",
            Role.USER,
            f"shall we go hiking on Saturday? plan number {n}",
            START + timedelta(minutes=n),
        )
        for n in range(first, first + BATCH)
    ]


async def shown_by_cli(env: dict[str, str], fault: str) -> dict[str, Any]:
    done = await ai_worker("memory", "show", group_id(fault), "--json", env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory show {group_id(fault)} failed: {done.stderr[-500:]}")
    shown: dict[str, Any] = done.json()
    return shown


async def until(check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def gaps(requests: list[RecordedRequest]) -> list[float]:
    return [later.received_at - earlier.received_at for earlier, later in itertools.pairwise(requests)]


async def run(server: OpenAICompatibleServer, model: ScheduledModel, log: Path) -> list[Figure]:
    async with fresh_postgres_database() as database_url, empty_redis():
        base = {"DATABASE_URL": database_url, "REDIS_URL": redis_test_url()}
        env = service_env(
            **base, LLM_BASE_URL=server.base_url, LLM_MODEL="scheduled", LLM_API_KEY="sk-faults", **SETTINGS
        )
        cli_env = service_env(**base)
        container = build_container(Settings(**base, **SETTINGS))  # type: ignore[arg-type]
        await open_container(container)
        worker = await start_worker(env, log)
        try:
            recorder: MessageRecorder = await resolve(container.recorder)
            queries: MemoryQueries = await resolve(container.queries)

            async def show(fault: str) -> dict[str, Any]:
                # What `ai-worker memory show --json` prints, read in-process while polling.
                return view_json(await queries.show(group_id(fault)))

            for fault in FAULTS:
                await recorder.record_many(batch(fault, 0))

            async def first_updates() -> bool:
                return all([(await show(f))["version"] >= 1 for f in FAULTS])

            await until(first_updates, 60, "the first, good update of every group")
            before = {fault: await show(fault) for fault in FAULTS}
            model.failing = True
            fault_started = len(server.requests)
            for fault in FAULTS:
                await recorder.record_many(batch(fault, BATCH))

            async def failures_shown() -> bool:
                return all([(await show(f))["last_error"] for f in FAULTS])

            await until(failures_shown, 90, "a recorded failure of every group")
            during = {fault: await shown_by_cli(cli_env, fault) for fault in FAULTS}
            faulty = server.requests[fault_started:]
            model.failing = False
            behaving = time.monotonic()

            async def served_again() -> bool:
                return all([(await show(f))["pending_messages"] == 0 for f in FAULTS])

            await until(served_again, 150, "every group to be served again once the model behaves")
            served = time.monotonic() - behaving
        finally:
            await stop(worker)
            await close_container(container)
    return figures_of(before, during, faulty, served)


def figures_of(
    before: dict[str, dict[str, Any]],
    during: dict[str, dict[str, Any]],
    faulty: list[RecordedRequest],
    served: float,
) -> list[Figure]:
    problems: list[str] = []
    by_fault: dict[str, list[RecordedRequest]] = {fault: [] for fault in FAULTS}
    for request in faulty:
        fault = fault_of(request)
        if fault is not None:
            by_fault[fault].append(request)
    for fault, expected in FAULTS.items():
        shown, first = during[fault], before[fault]
        error = (shown["last_error"] or {}).get("error", "")
        if expected not in error:
            problems.append(f"{fault}: recorded error {error[:120]!r} does not say {expected!r}")
        if (shown["version"], shown["topics"]) != (first["version"], first["topics"]):
            problems.append(f"{fault}: the memory changed while the model misbehaved")
        if shown["pending_messages"] != BATCH or shown["quarantined"]:
            problems.append(
                f"{fault}: {shown['pending_messages']} pending, {len(shown['quarantined'])} quarantined"
            )
        if len(by_fault[fault]) < ATTEMPTS:
            problems.append(
                f"{fault}: {len(by_fault[fault])} requests, not retried up to {ATTEMPTS} attempts"
            )
    waits = gaps(by_fault["http-429"][:ATTEMPTS])
    backoffs = [
        g
        for fault in FAULTS
        if fault not in ("http-429", "timeout")
        for g in gaps(by_fault[fault][:ATTEMPTS])
    ]
    return [
        Figure(
            "model faults handled as designed",
            len(FAULTS) - len({p.split(":")[0] for p in problems}),
            "faults",
            target=f"= {len(FAULTS)}",
            met=not problems,
            note="; ".join(problems[:4])
            or "each retried, then a failure shown by memory show; memory untouched, messages pending: "
            + ", ".join(FAULTS),
        ),
        Figure(
            "shortest wait after a 429 with Retry-After",
            round(min(waits), 2) if waits else 0.0,
            "s",
            target=f">= {RETRY_AFTER_SECONDS} s (Retry-After)",
            met=bool(waits) and min(waits) >= RETRY_AFTER_SECONDS,
        ),
        Figure(
            "shortest backoff between two attempts",
            round(min(backoffs), 2) if backoffs else 0.0,
            "s",
            target="> 0.4 s (1 s base, equal jitter)",
            met=bool(backoffs) and min(backoffs) > 0.4,
            note="500s, malformed JSON, schema and rule violations",
        ),
        Figure(
            "groups served again once the model behaves",
            round(served, 1),
            "s",
            target="< 150 s",
            met=served < 150,
            note="without help: the group's backoff (L2_FAILURE_BACKOFF_MINUTES=0.05) runs out, the next scan (every minute) enqueues it",
        ),
    ]


async def figures(quick: bool) -> list[Figure]:
    # One size: the run is seven groups and two phases whatever --quick says.
    del quick
    model = ScheduledModel(timeout_delay=3.0, retry_after_seconds=RETRY_AFTER_SECONDS)
    with running_openai_server() as server:
        server.responder = model
        log = Path(tempfile.mkdtemp(prefix="model-faults-")) / "worker.log"
        return await run(server, model, log)


if __name__ == "__main__":
    sys.exit(report.main(figures, "model faults on a schedule"))
