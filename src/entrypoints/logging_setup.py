"""Structured logs (structlog) for the worker and the CLI, as console lines or JSON."""

from __future__ import annotations

import logging
import sys

import structlog

from entrypoints.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Route stdlib logging (arq's included) through structlog's formatter on stderr."""
    renderer: structlog.types.Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        # Never the frames' local variables (structlog's default with rich installed): a failed
        # job's locals hold the text of every chat message of its batch, and secrets.
        tty = sys.stderr.isatty()
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty,
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
            if tty
            else structlog.dev.plain_traceback,
        )
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The console renderer prints tracebacks itself; JSON needs them turned into text first.
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if settings.log_format == "json":
        final.append(structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[*final, renderer])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # arq installs its own handler when started by its CLI; one handler is enough.
    for name in ("arq", "arq.worker", "arq.jobs", "arq.connections"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
