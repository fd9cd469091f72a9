"""The one composition root: which adapter serves which port.

Async resources (the database engine, the Redis pool, the model client) are opened by
``await container.init_resources()`` and closed by ``await container.shutdown_resources()``;
nothing connects at import time. Providers that depend on an async resource return awaitables:
use :func:`resolve`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.llm.offline import OfflineTopicModel
from adapters.postgres.consensus_slots import SqlConsensusSlots
from adapters.postgres.engine import create_engine
from adapters.postgres.group_store import SqlGroupMemoryStore
from adapters.postgres.history import SqlMessageHistory, SqlRebuildStaging
from adapters.postgres.long_task_repository import SqlTaskRepository
from adapters.postgres.search_index import SqlSearchIndex
from adapters.postgres.store import SqlMemoryStore
from adapters.redis.arq_queue import ArqEvolutionQueue, ArqUpdateQueue
from adapters.redis.arq_task_dispatcher import ArqTaskDispatcher
from adapters.redis.connection import open_embedded_pool, open_real_pool
from adapters.redis.orphaned_jobs import OrphanedJobs
from adapters.redis.pending_index import RedisPendingIndex, RedisUpdateLeases
from adapters.redis.recording import RedisPendingRecorder
from adapters.system import SystemClock, UuidIds
from entrypoints.embedding_wiring import open_embedder
from entrypoints.group_memory_wiring import consensus_schedule, evolver_options, open_distiller
from entrypoints.long_task_wiring import build_task_registry, executor_options
from entrypoints.memory_tasks import with_memory_tasks
from entrypoints.metered_ports import CountingRecorder, MeteredTopicModel
from entrypoints.settings import Settings
from long_tasks_domain.executor import TaskExecutor
from long_tasks_domain.service import TaskService
from memory_domain.consensus import ConsensusScheduler
from memory_domain.group_memory import MemoryEvolver
from memory_domain.group_rollback import GroupMemoryRollback
from memory_domain.memory_context import MemoryContextReader
from memory_domain.ports import TopicModel
from memory_domain.quarantine import MessageQuarantine
from memory_domain.queries import MemoryQueries
from memory_domain.scheduling import UpdateScheduler
from memory_domain.topic_memory import TopicUpdater, UpdaterOptions
from memory_domain.topic_rebuild import TopicRebuilder
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def resolve(provider: Any) -> Any:
    """Call a provider and await the result when it is an awaitable (async resources)."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value


async def open_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    dsn = settings.database_dsn()
    options = {} if dsn.startswith("sqlite") else {"pool_size": settings.postgres_pool_size}
    engine = create_engine(dsn, **options)
    try:
        yield engine
    finally:
        await engine.dispose()


async def open_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    if settings.uses_embedded_redis:
        pool = open_embedded_pool()
    else:
        pool = await open_real_pool(settings.redis_dsn())
    try:
        yield pool
    finally:
        await pool.aclose()


async def open_topic_model(settings: Settings) -> AsyncIterator[TopicModel]:
    if not settings.llm_configured:
        yield MeteredTopicModel(OfflineTopicModel())
        return
    # Imported here: the openai SDK takes about a second to import, which every CLI command
    # would pay for although most never talk to a model.
    from adapters.llm.openai_model import OpenAITopicModel

    model = OpenAITopicModel(**settings.llm_options())
    try:
        yield MeteredTopicModel(model)
    finally:
        await model.aclose()


def trigger_policy(settings: Settings) -> TriggerPolicy:
    return TriggerPolicy(
        threshold=settings.l2_queue_trigger_threshold,
        force_after=timedelta(minutes=settings.l2_force_update_after_minutes),
        max_batch=settings.l2_queue_max_len,
    )


def updater_options(settings: Settings) -> UpdaterOptions:
    return UpdaterOptions(
        lease_seconds=settings.l2_lease_seconds,
        # Both models check their own answers against the rewrite rules (the OpenAI adapter
        # retries within LLM_MAX_ATTEMPTS; the offline model is deterministic): no second round.
        model_attempts=1,
        failure_backoff=timedelta(minutes=settings.l2_failure_backoff_minutes),
        quarantine_after=settings.l2_quarantine_after_failures,
    )


class Container(containers.DeclarativeContainer):
    """Wires the memory domain to SQL, Redis/arq and the configured topic model."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIds)

    engine = providers.Resource(open_engine, settings)
    redis = providers.Resource(open_redis, settings)
    topic_model = providers.Resource(open_topic_model, settings)

    policy = providers.Singleton(trigger_policy, settings)
    key_prefix = providers.Callable(lambda s: s.redis_key_prefix, settings)

    store = providers.Singleton(SqlMemoryStore, engine)
    index = providers.Singleton(RedisPendingIndex, redis, key_prefix)
    leases = providers.Singleton(RedisUpdateLeases, redis, key_prefix)
    queue = providers.Singleton(ArqUpdateQueue, redis)

    pending_recorder = providers.Singleton(RedisPendingRecorder, index, redis)
    recorder = providers.Singleton(
        CountingRecorder,
        store,
        pending_recorder,
        policy,
        clock,
        max_content_chars=providers.Callable(lambda s: s.message_max_chars, settings),
    )
    updater = providers.Singleton(
        TopicUpdater,
        store,
        index,
        leases,
        topic_model,
        policy,
        clock,
        ids,
        providers.Callable(updater_options, settings),
    )
    quarantine = providers.Singleton(MessageQuarantine, store, index, queue, clock)
    scheduler = providers.Singleton(
        UpdateScheduler,
        store,
        index,
        leases,
        queue,
        policy,
        clock,
        reconcile_every=providers.Callable(
            lambda s: timedelta(minutes=max(5, s.l2_force_update_after_minutes)), settings
        ),
    )

    # Group memory (L3): in the same database; evolutions are arq jobs with leases of their own.
    distiller = providers.Resource(open_distiller, settings)
    group_store = providers.Singleton(SqlGroupMemoryStore, engine)
    queries = providers.Singleton(MemoryQueries, store, group_store)
    consensus_slots = providers.Singleton(SqlConsensusSlots, engine)
    evolution_leases = providers.Singleton(RedisUpdateLeases, redis, key_prefix, "l3")
    evolution_queue = providers.Singleton(ArqEvolutionQueue, redis)
    # Jobs whose worker died before taking the group's lease (see adapters/redis/orphaned_jobs.py).
    orphaned_updates = providers.Singleton(
        OrphanedJobs,
        redis,
        leases,
        queue.provided.revive_update,
        "topic-update",
        providers.Callable(lambda s: f"{s.redis_key_prefix}:l2:orphans", settings),
        grace_seconds=providers.Callable(lambda s: s.l2_lease_seconds, settings),
    )
    orphaned_evolutions = providers.Singleton(
        OrphanedJobs,
        redis,
        evolution_leases,
        evolution_queue.provided.revive_evolution,
        "evolve-memory",
        providers.Callable(lambda s: f"{s.redis_key_prefix}:l3:orphans", settings),
        grace_seconds=providers.Callable(lambda s: s.l2_lease_seconds, settings),
    )
    evolver = providers.Singleton(
        MemoryEvolver,
        group_store,
        evolution_leases,
        distiller,
        clock,
        ids,
        providers.Callable(evolver_options, settings),
    )
    consensus = providers.Singleton(
        ConsensusScheduler,
        group_store,
        consensus_slots,
        evolution_queue,
        evolution_leases,
        providers.Callable(consensus_schedule, settings),
        clock,
        ids,
    )
    rollback = providers.Singleton(GroupMemoryRollback, group_store, clock)
    search_index = providers.Singleton(SqlSearchIndex, engine)
    embedder = providers.Resource(open_embedder, settings)
    memory_context = providers.Singleton(
        MemoryContextReader,
        store,
        group_store,
        search_index,
        clock,
        providers.Callable(lambda s: ZoneInfo(s.memory_timezone), settings),
        embedder,
        providers.Callable(lambda s: s.embeddings_weight, settings),
        # A reply waits for embeddings no longer than one request may take, and never over 3 s.
        providers.Callable(lambda s: min(3.0, s.embeddings_timeout_seconds), settings),
    )

    # Long tasks: stored in the same database, dispatched through arq.
    task_repository = providers.Singleton(SqlTaskRepository, engine)
    task_dispatcher = providers.Singleton(ArqTaskDispatcher, redis)
    history = providers.Singleton(SqlMessageHistory, engine)
    rebuild_staging = providers.Singleton(SqlRebuildStaging, engine)
    rebuilder = providers.Singleton(
        TopicRebuilder,
        store,
        history,
        rebuild_staging,
        topic_model,
        clock,
        ids,
        providers.Callable(lambda s: s.l2_queue_max_len, settings),
    )
    task_registry = providers.Singleton(
        with_memory_tasks,
        providers.Singleton(
            build_task_registry,
            task_repository,
            clock,
            providers.Callable(lambda s: s.long_task_imports, settings),
        ),
        rebuilder,
    )
    task_service = providers.Singleton(
        TaskService,
        task_repository,
        task_registry,
        task_dispatcher,
        clock,
        ids,
        default_max_retries=providers.Callable(lambda s: s.long_task_max_retries, settings),
    )
    task_executor = providers.Singleton(
        TaskExecutor,
        task_repository,
        task_registry,
        task_dispatcher,
        clock,
        ids,
        providers.Callable(executor_options, settings),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


async def open_container(container: Container) -> None:
    """Open the async resources (engine, Redis pool, model client)."""
    pending = container.init_resources()
    if pending is not None:
        await pending


async def close_container(container: Container) -> None:
    """Close the async resources; safe to call when they were never opened."""
    pending = container.shutdown_resources()
    if pending is not None:
        await pending
