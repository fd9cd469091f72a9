FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
# The same worker as `arq entrypoints.unified_worker.UnifiedWorkerSettings`.
CMD ["python", "-m", "arq", "entrypoints.unified_worker.UnifiedWorkerSettings"]
