"""Settings from the environment, with the seed's names and defaults.

Bad values stop the worker at start with one message that names every bad variable; secrets
(passwords, API keys, URLs that may hold them) are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from entrypoints.setting_types import (
    DatabaseUrl,
    HttpUrlText,
    ListenHost,
    MinutesDividingTheHour,
    OptionalPort,
    PostgresSslMode,
    RedisUrl,
    TimeZoneName,
)
from memory_domain.model import MAX_CONTENT_LENGTH

REDIS_PART_NAMES = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB")
POSTGRES_PART_NAMES = (
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "POSTGRES_SSLMODE",
)


class SettingsError(Exception):
    """The environment holds bad settings; the message names every bad variable."""


class Settings(BaseSettings):
    """Every setting of the worker, read from environment variables (and a ``.env`` file)."""

    # AI_WORKER_ENV_FILE names another env file; set empty, none is read (the test suite does
    # so, that a developer's own .env never points its tests at their servers).
    model_config = SettingsConfigDict(
        env_file=os.environ.get("AI_WORKER_ENV_FILE", ".env") or None,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # Redis: a whole REDIS_URL replaces the parts. Without any of them, an in-process Redis.
    redis_url: RedisUrl | None = Field(default=None, alias="REDIS_URL")
    redis_host: str = Field(default="localhost", alias="REDIS_HOST", min_length=1)
    redis_port: int = Field(default=6379, alias="REDIS_PORT", ge=1, le=65535)
    redis_password: SecretStr | None = Field(default=None, alias="REDIS_PASSWORD")
    redis_db: int = Field(default=0, alias="REDIS_DB", ge=0, le=1024)
    redis_key_prefix: str = Field(
        default="aiw", alias="REDIS_KEY_PREFIX", pattern=r"^[A-Za-z0-9_.:\-]{1,40}$"
    )

    # PostgreSQL: a whole DATABASE_URL (which may be a SQLite URL) replaces the parts.
    database_url: DatabaseUrl | None = Field(default=None, alias="DATABASE_URL")
    postgres_host: str = Field(default="localhost", alias="POSTGRES_HOST", min_length=1)
    postgres_port: int = Field(default=5432, alias="POSTGRES_PORT", ge=1, le=65535)
    postgres_user: str = Field(default="postgres", alias="POSTGRES_USER", min_length=1)
    postgres_password: SecretStr | None = Field(default=None, alias="POSTGRES_PASSWORD")
    postgres_db: str = Field(default="ai_service", alias="POSTGRES_DB", min_length=1)
    # TLS to PostgreSQL (libpq's sslmode names); also `?sslmode=` in DATABASE_URL.
    postgres_sslmode: PostgresSslMode | None = Field(default=None, alias="POSTGRES_SSLMODE")
    # Connections a process keeps open. SQLAlchemy's default of 5 closes every connection
    # beyond it as soon as it is idle, so 16 concurrent recorders opened a connection on
    # nearly every call (bench/recording.py: 3.6x slower at concurrency 16).
    postgres_pool_size: int = Field(default=20, alias="POSTGRES_POOL_SIZE", ge=1, le=1000)
    sqlite_path: Path = Field(default=Path("ai-worker.db"), alias="SQLITE_PATH")

    # Topic memory (L2): the seed's names and defaults.
    l2_queue_trigger_threshold: int = Field(default=10, alias="L2_QUEUE_TRIGGER_THRESHOLD", ge=1, le=100_000)
    l2_force_update_after_minutes: int = Field(
        default=60, alias="L2_FORCE_UPDATE_AFTER_MINUTES", ge=0, le=7 * 24 * 60
    )
    l2_scan_interval_minutes: MinutesDividingTheHour = Field(
        default=5, alias="L2_SCAN_INTERVAL_MINUTES", ge=1, le=60
    )
    l2_queue_max_len: int = Field(default=200, alias="L2_QUEUE_MAX_LEN", ge=1, le=5_000)
    l2_job_timeout_seconds: int = Field(default=600, alias="L2_JOB_TIMEOUT_SECONDS", ge=10, le=24 * 3600)
    l2_lease_seconds: float = Field(default=20.0, alias="L2_LEASE_SECONDS", ge=3, le=600)
    l2_failure_backoff_minutes: float = Field(
        default=5.0, alias="L2_FAILURE_BACKOFF_MINUTES", ge=0, le=24 * 60
    )
    # Failed updates with a message alone in the batch before it is quarantined (set aside).
    l2_quarantine_after_failures: int = Field(default=3, alias="L2_QUARANTINE_AFTER_FAILURES", ge=1, le=100)

    # The longest chat message recorded (characters); longer ones are refused, naming the limit.
    message_max_chars: int = Field(
        default=MAX_CONTENT_LENGTH, alias="MESSAGE_MAX_CHARS", ge=1, le=MAX_CONTENT_LENGTH
    )

    # Language model: any OpenAI-compatible server; without LLM_BASE_URL, the offline model.
    llm_base_url: HttpUrlText | None = Field(default=None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(default=None, alias="LLM_API_KEY")
    llm_model: str | None = Field(default=None, alias="LLM_MODEL")
    llm_timeout_seconds: float = Field(default=60.0, alias="LLM_TIMEOUT_SECONDS", gt=0, le=3600)
    llm_max_attempts: int = Field(default=3, alias="LLM_MAX_ATTEMPTS", ge=1, le=10)

    # Embeddings (optional): a semantic signal that re-ranks the memory context's lexical
    # candidates. Off unless EMBEDDINGS_BASE_URL and EMBEDDINGS_MODEL are both set. The
    # context is read while a reply waits, hence a shorter timeout than the chat model's.
    embeddings_base_url: HttpUrlText | None = Field(default=None, alias="EMBEDDINGS_BASE_URL")
    embeddings_model: str | None = Field(default=None, alias="EMBEDDINGS_MODEL", validate_default=True)
    embeddings_api_key: SecretStr | None = Field(default=None, alias="EMBEDDINGS_API_KEY")
    embeddings_weight: float = Field(default=0.3, alias="EMBEDDINGS_WEIGHT", ge=0, le=1)
    embeddings_timeout_seconds: float = Field(default=10.0, alias="EMBEDDINGS_TIMEOUT_SECONDS", gt=0, le=600)
    embeddings_max_attempts: int = Field(default=2, alias="EMBEDDINGS_MAX_ATTEMPTS", ge=1, le=10)
    embeddings_batch_size: int = Field(default=32, alias="EMBEDDINGS_BATCH_SIZE", ge=1, le=2048)

    # Group memory (L3): the daily consensus at CONSENSUS_CRON_HOUR:00 in MEMORY_TIMEZONE.
    consensus_cron_hour: int = Field(default=2, alias="CONSENSUS_CRON_HOUR", ge=0, le=23)
    memory_timezone: TimeZoneName = Field(default="UTC", alias="MEMORY_TIMEZONE", min_length=1)
    l3_job_timeout_seconds: int = Field(default=900, alias="L3_JOB_TIMEOUT_SECONDS", ge=10, le=24 * 3600)

    # Long tasks: a short renewed lease; the seed's lock timeout now bounds one step.
    long_task_lease_seconds: float = Field(default=30.0, alias="LONG_TASK_LEASE_SECONDS", ge=1, le=600)
    long_task_lock_timeout_seconds: int = Field(
        default=1800, alias="LONG_TASK_LOCK_TIMEOUT_SECONDS", ge=1, le=24 * 3600
    )
    long_task_poll_batch: int = Field(default=5, alias="LONG_TASK_POLL_BATCH", ge=1, le=1000)
    long_task_max_retries: int = Field(default=3, alias="LONG_TASK_MAX_RETRIES", ge=0, le=100)
    long_task_retry_backoff_seconds: float = Field(
        default=5.0, alias="LONG_TASK_RETRY_BACKOFF_SECONDS", ge=0, le=24 * 3600
    )
    long_task_retry_backoff_max_seconds: float = Field(
        default=600.0, alias="LONG_TASK_RETRY_BACKOFF_MAX_SECONDS", ge=0, le=7 * 24 * 3600
    )
    long_task_imports: str = Field(default="", alias="LONG_TASK_IMPORTS")
    # Long tasks one worker runs at once; fewer than WORKER_MAX_JOBS, so that topic updates and
    # evolutions always find a job slot. Default: half of WORKER_MAX_JOBS (at least 1).
    long_task_concurrency: int | None = Field(default=None, alias="LONG_TASK_CONCURRENCY", ge=1, le=1000)

    # The worker process.
    worker_max_jobs: int = Field(default=10, alias="WORKER_MAX_JOBS", ge=1, le=1000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", alias="LOG_LEVEL")
    log_format: Literal["console", "json"] = Field(default="console", alias="LOG_FORMAT")
    # Prometheus metrics on http://METRICS_HOST:METRICS_PORT/metrics; off unless the port is set.
    metrics_port: OptionalPort = Field(default=None, alias="METRICS_PORT")
    metrics_host: ListenHost = Field(default="127.0.0.1", alias="METRICS_HOST")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("embeddings_model")
    @classmethod
    def _embeddings_complete(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field validator, not a model one: its error comes with every other bad variable's.
        value = value.strip() if value else None
        if "embeddings_base_url" not in info.data:
            return value  # EMBEDDINGS_BASE_URL is bad itself, and named already
        if info.data["embeddings_base_url"] and not value:
            raise ValueError("required when EMBEDDINGS_BASE_URL is set (give both or neither)")
        if value and not info.data["embeddings_base_url"]:
            raise ValueError("set without EMBEDDINGS_BASE_URL (give both or neither)")
        return value

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("LLM_MODEL: required when LLM_BASE_URL is set")
        if self.llm_base_url:
            # Every attempt may take the whole timeout, plus a backoff of up to 30 s between.
            worst = self.llm_timeout_seconds * self.llm_max_attempts + 30 * (self.llm_max_attempts - 1)
            if worst >= self.l2_job_timeout_seconds:
                raise ValueError(
                    f"L2_JOB_TIMEOUT_SECONDS ({self.l2_job_timeout_seconds}) must exceed "
                    f"LLM_TIMEOUT_SECONDS x LLM_MAX_ATTEMPTS plus backoff ({worst:.0f} s)"
                )
        return self

    @model_validator(mode="after")
    def _l3_timeout_covers_the_model(self) -> Settings:
        if self.llm_base_url:
            worst = self.llm_timeout_seconds * self.llm_max_attempts + 30 * (self.llm_max_attempts - 1)
            if worst >= self.l3_job_timeout_seconds:
                raise ValueError(
                    f"L3_JOB_TIMEOUT_SECONDS ({self.l3_job_timeout_seconds}) must exceed "
                    f"LLM_TIMEOUT_SECONDS x LLM_MAX_ATTEMPTS plus backoff ({worst:.0f} s)"
                )
        return self

    @model_validator(mode="after")
    def _long_tasks_leave_job_slots(self) -> Settings:
        concurrency = self.long_task_concurrency
        if concurrency is not None and concurrency >= self.worker_max_jobs:
            raise ValueError(
                f"LONG_TASK_CONCURRENCY ({concurrency}) must be below WORKER_MAX_JOBS "
                f"({self.worker_max_jobs}), or long tasks could take every job slot"
            )
        return self

    # -- derived ---------------------------------------------------------------------------

    @property
    def long_task_slots(self) -> int:
        """LONG_TASK_CONCURRENCY, or half of WORKER_MAX_JOBS (at least 1)."""
        return self.long_task_concurrency or max(1, self.worker_max_jobs // 2)

    @property
    def uses_embedded_redis(self) -> bool:
        """No REDIS_URL nor REDIS_* in the environment: an in-process Redis (the demo default)."""
        return self.redis_url is None and not self._any_set(REDIS_PART_NAMES)

    @property
    def uses_postgres(self) -> bool:
        if self.database_url is not None:
            return not self.database_url.get_secret_value().startswith("sqlite")
        return self._any_set(POSTGRES_PART_NAMES)

    def require_shared_redis(self) -> None:
        """Refuse PostgreSQL without Redis: the in-process Redis dies with its process, unseen by others.

        Only the all-embedded default (SQLite) and the demo (its worker in its own process) use it.
        """
        if self.uses_postgres and self.uses_embedded_redis:
            raise SettingsError(
                "PostgreSQL is configured (DATABASE_URL or POSTGRES_*) but Redis is not: set "
                "REDIS_URL or REDIS_HOST (and REDIS_PORT, REDIS_PASSWORD, REDIS_DB as needed). "
                "The in-process Redis used without them dies with this process and no worker "
                "would see its jobs; it serves only the all-embedded default (SQLite) and the demo."
            )

    def _any_set(self, names: tuple[str, ...]) -> bool:
        """Whether any of these variables was given (in the environment or the .env file)."""
        fields = {name.lower() for name in names}
        return bool(fields & self.model_fields_set)

    def redis_dsn(self) -> str:
        """The Redis URL (it may hold the password: never log it)."""
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        auth = ""
        if self.redis_password is not None and self.redis_password.get_secret_value():
            auth = ":" + quote(self.redis_password.get_secret_value(), safe="") + "@"
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    def database_dsn(self) -> str:
        """The database URL for SQLAlchemy's async drivers (it may hold the password)."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            if self.postgres_sslmode and not url.startswith("sqlite") and "sslmode=" not in url:
                url += ("&" if "?" in url else "?") + f"sslmode={self.postgres_sslmode}"
            return url
        if not self._any_set(POSTGRES_PART_NAMES):
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        password = ""
        if self.postgres_password is not None and self.postgres_password.get_secret_value():
            password = ":" + quote(self.postgres_password.get_secret_value(), safe="")
        user = quote(self.postgres_user, safe="")
        tls = f"?sslmode={self.postgres_sslmode}" if self.postgres_sslmode else ""
        return (
            f"postgresql+asyncpg://{user}{password}@{self.postgres_host}:{self.postgres_port}/"
            f"{quote(self.postgres_db, safe='')}{tls}"
        )

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url)

    def llm_options(self) -> dict[str, Any]:
        """The keyword arguments of the OpenAI-compatible adapters (the key included: never log them)."""
        if not self.llm_base_url or not self.llm_model:
            raise SettingsError("LLM_BASE_URL and LLM_MODEL are needed for an OpenAI-compatible model")
        return {
            "base_url": self.llm_base_url,
            "api_key": self.llm_api_key.get_secret_value() if self.llm_api_key else "not-needed",
            "model": self.llm_model,
            "timeout_seconds": self.llm_timeout_seconds,
            "max_attempts": self.llm_max_attempts,
        }

    @property
    def embeddings_configured(self) -> bool:
        return bool(self.embeddings_base_url and self.embeddings_model)

    def embeddings_options(self) -> dict[str, Any]:
        """The keyword arguments of the OpenAI-compatible embedder (the key included: never log them).

        Without EMBEDDINGS_API_KEY, LLM_API_KEY is sent, but only to the server LLM_BASE_URL
        names (same scheme, host and port): a key is not handed to another party unasked.
        """
        if not self.embeddings_base_url or not self.embeddings_model:
            raise SettingsError("EMBEDDINGS_BASE_URL and EMBEDDINGS_MODEL are needed for an embedder")
        key = self.embeddings_api_key
        if key is None and _same_origin(self.llm_base_url, self.embeddings_base_url):
            key = self.llm_api_key
        return {
            "base_url": self.embeddings_base_url,
            "api_key": key.get_secret_value() if key else "not-needed",
            "model": self.embeddings_model,
            "timeout_seconds": self.embeddings_timeout_seconds,
            "max_attempts": self.embeddings_max_attempts,
            "batch_size": self.embeddings_batch_size,
        }


def _same_origin(first: str | None, second: str) -> bool:
    """Whether two URLs name the same server: scheme, host and port (the default one if unsaid)."""
    if not first:
        return False
    origins = []
    for url in (first, second):
        parts = urlsplit(url)
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False  # a port out of range names no server
        origins.append((parts.scheme, parts.hostname, port))
    return origins[0] == origins[1]


def load_settings() -> Settings:
    """Read the settings; raise :class:`SettingsError` naming every bad variable at once."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            location = ".".join(str(part) for part in item["loc"]) or "settings"
            name = location.upper()
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            problems.append(f"  {name}: {message}" if location else f"  {message}")
        raise SettingsError(
            "bad settings, the worker cannot start:\n" + "\n".join(sorted(problems))
        ) from None
