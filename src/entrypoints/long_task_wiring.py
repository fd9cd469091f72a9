"""How long tasks are composed: the registry of handlers, the executor's options.

The container (``entrypoints.container``) calls these. A built-in task that needs services of
its own (the memory's, say) is registered in :func:`build_task_registry` with them passed in;
handlers of other programs come from the modules named in ``LONG_TASK_IMPORTS``.
"""

from __future__ import annotations

import importlib

from entrypoints.settings import Settings
from long_tasks_domain.executor import ExecutorOptions
from long_tasks_domain.ports import Clock, TaskRepository
from long_tasks_domain.prune import register_prune_task
from long_tasks_domain.registry import TaskRegistry
from long_tasks_domain.retry_policy import Backoff

# A job hands its task on to a fresh job between two steps after this long (see the executor).
SLICE_SECONDS = 300.0


def executor_options(settings: Settings) -> ExecutorOptions:
    base = settings.long_task_retry_backoff_seconds
    return ExecutorOptions(
        lease_seconds=settings.long_task_lease_seconds,
        step_timeout_seconds=settings.long_task_lock_timeout_seconds,
        slice_seconds=SLICE_SECONDS,
        max_concurrent=settings.long_task_slots,
        backoff=Backoff(base, max(base, settings.long_task_retry_backoff_max_seconds)),
    )


def run_job_timeout(settings: Settings) -> int:
    """arq's timeout of a long-task job: one slice, then one more step, then its settling."""
    return int(
        SLICE_SECONDS + settings.long_task_lock_timeout_seconds + settings.long_task_lease_seconds + 30
    )


def build_task_registry(repository: TaskRepository, clock: Clock, imports: str = "") -> TaskRegistry:
    """The built-in tasks plus the registries named in ``imports`` (``LONG_TASK_IMPORTS``)."""
    registry = TaskRegistry()
    register_prune_task(registry, repository, clock)
    for imported in imported_registries(imports):
        registry.include(imported)
    return registry


def imported_registries(imports: str) -> list[TaskRegistry]:
    """Registries named ``module`` or ``module:attribute`` (default attribute: ``registry``),
    comma-separated."""
    registries = []
    for spec in (part.strip() for part in imports.split(",")):
        if not spec:
            continue
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(f"LONG_TASK_IMPORTS: cannot import {module_name!r}: {error}") from error
        registry = getattr(module, attribute or "registry", None)
        if not isinstance(registry, TaskRegistry):
            raise ValueError(f"LONG_TASK_IMPORTS: {spec!r} is not a long_tasks_domain TaskRegistry")
        registries.append(registry)
    return registries
