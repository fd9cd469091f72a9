"""The worker's Prometheus metric families, in prometheus-client's default registry.

Two kinds. Counters and histograms of what *this process* did (jobs, crons, model calls,
messages it recorded or integrated): a program that records messages through the container
counts them in its own registry. Gauges of the *shared* state (pending messages, due groups,
long tasks by status), read from Redis and PostgreSQL by :mod:`entrypoints.metrics_state`:
every worker reports the same values, so aggregate them with ``max``, not ``sum``.

Label values come from fixed sets (function and cron names, outcomes, statuses, model kinds):
never a group id, a task id or any chat text, so the number of series stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "ai_worker"

# Outcomes of a job, a cron run or a model call.
OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
CANCELLED = "cancelled"
OUTCOMES = (OK, ERROR, TIMEOUT, CANCELLED)

# Job kinds go from milliseconds (a busy group) to the step timeout of a long task.
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_MODEL_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

JOBS = Counter(f"{PREFIX}_jobs", "arq jobs this worker ran, by function and outcome", ["function", "outcome"])
JOB_DURATION = Histogram(
    f"{PREFIX}_job_duration_seconds", "How long arq jobs ran, by function", ["function"], buckets=_JOB_BUCKETS
)
JOBS_IN_PROGRESS = Gauge(f"{PREFIX}_jobs_in_progress", "arq jobs running in this worker now", ["function"])
CRON_RUNS = Counter(
    f"{PREFIX}_cron_runs", "Cron runs of this worker, by cron and outcome", ["cron", "outcome"]
)
CRON_DURATION = Histogram(
    f"{PREFIX}_cron_duration_seconds", "How long cron runs took, by cron", ["cron"], buckets=_JOB_BUCKETS
)
CRON_LAST_SUCCESS = Gauge(
    f"{PREFIX}_cron_last_success_timestamp_seconds", "Unix time of the last successful run, by cron", ["cron"]
)

MESSAGES_RECORDED = Counter(
    f"{PREFIX}_messages_recorded",
    "Chat messages newly stored by this process's recorder (repeats not counted); "
    "the programs that record messages count them, a worker usually records none",
)
MESSAGES_DUPLICATE = Counter(
    f"{PREFIX}_messages_duplicate", "Messages this process was given again and did not store twice"
)
MESSAGES_INTEGRATED = Counter(
    f"{PREFIX}_messages_integrated", "Pending messages this worker folded into topics (committed revisions)"
)
TOPIC_UPDATES = Counter(
    f"{PREFIX}_topic_updates",
    "Topic updates that returned, by status (failures: the jobs' error outcome)",
    ["status"],
)
MEMORY_EVOLUTIONS = Counter(
    f"{PREFIX}_memory_evolutions", "Group-memory evolutions that returned, by status", ["status"]
)
LONG_TASK_RUNS = Counter(
    f"{PREFIX}_long_task_runs",
    "Long-task runs in this worker (a claim and its steps), by outcome",
    ["outcome"],
)

MODEL_CALLS = Counter(
    f"{PREFIX}_model_calls",
    "Language-model calls, by kind (topics, distil, embed) and outcome",
    ["kind", "outcome"],
)
MODEL_DURATION = Histogram(
    f"{PREFIX}_model_call_duration_seconds",
    "Latency of language-model calls (the adapter's retries included), by kind and outcome",
    ["kind", "outcome"],
    buckets=_MODEL_BUCKETS,
)
MODEL_TOKENS = Counter(
    f"{PREFIX}_model_tokens",
    "Tokens the model reported, by kind and type (prompt, completion)",
    ["kind", "type"],
)

# The shared state, refreshed every few seconds by entrypoints.metrics_state.
PENDING_MESSAGES = Gauge(
    f"{PREFIX}_pending_messages", "Messages recorded and not yet integrated (PostgreSQL)"
)
GROUPS_WITH_PENDING = Gauge(f"{PREFIX}_groups_with_pending", "Groups with pending messages (Redis counters)")
GROUPS_DUE = Gauge(f"{PREFIX}_groups_due", "Groups whose topic update is due now (the Redis due index)")
GROUPS_IN_BACKOFF = Gauge(
    f"{PREFIX}_groups_in_backoff", "Groups whose last topic update failed: retried after a growing backoff"
)
LONG_TASKS = Gauge(
    f"{PREFIX}_long_tasks", "Long tasks not finished yet, by status (PENDING, RUNNING, COMMIT)", ["status"]
)
STATE_REFRESHED = Gauge(
    f"{PREFIX}_state_refreshed_timestamp_seconds", "Unix time the shared-state gauges were last read"
)
STATE_REFRESH_ERRORS = Counter(
    f"{PREFIX}_state_refresh_errors", "Failed reads of the shared-state gauges, by source", ["source"]
)

MODEL_KINDS = ("topics", "distil", "embed")
STATE_SOURCES = ("redis", "database")


def prepare(task_statuses: Iterable[str]) -> None:
    """Create the known series at zero, so that dashboards and rates see them from the start.

    The series of each job and cron are created when it is wrapped (entrypoints.metered_jobs).
    """
    for kind in MODEL_KINDS:
        for outcome in (OK, ERROR):
            MODEL_CALLS.labels(kind, outcome)
    for status in task_statuses:
        LONG_TASKS.labels(status)
    for source in STATE_SOURCES:
        STATE_REFRESH_ERRORS.labels(source)


def count_topic_update(status: str, integrated: int) -> None:
    TOPIC_UPDATES.labels(status).inc()
    if integrated:
        MESSAGES_INTEGRATED.inc(integrated)


def count_evolution(status: str) -> None:
    MEMORY_EVOLUTIONS.labels(status).inc()


def count_long_task_run(outcome: str) -> None:
    LONG_TASK_RUNS.labels(outcome).inc()
