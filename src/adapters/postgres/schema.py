"""The whole schema: one MetaData that every table module adds its tables to.

Migrations are checked against this (``tests/integration/test_sql_engine_and_migrations.py``);
a module that defines tables on ``adapters.postgres.tables.metadata`` is imported here.
"""

from __future__ import annotations

from adapters.postgres import group_memory_tables, long_task_tables, rebuild_tables, search_tables, tables
from adapters.postgres.tables import metadata

__all__ = ["group_memory_tables", "long_task_tables", "metadata", "rebuild_tables", "search_tables", "tables"]
