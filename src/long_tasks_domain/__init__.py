"""Long tasks: checkpointed multi-step tasks, their state machine, registry, executor, service.

Pure domain: it depends on its ports (``long_tasks_domain.ports``) only.
"""
