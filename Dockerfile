# The unified worker: slim, non-root, with the dependency versions of constraints.txt.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
RUN pip install --constraint constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin worker
USER worker

# The same worker as `arq entrypoints.unified_worker.UnifiedWorkerSettings`.
CMD ["python", "-m", "arq", "entrypoints.unified_worker.UnifiedWorkerSettings"]
