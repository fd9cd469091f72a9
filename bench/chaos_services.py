"""The chaos run's own PostgreSQL and Redis, so that it can kill, stop and flush them freely.

The machine's shared servers (5432, 6379) serve other people's tests: the chaos run never
touches them. It makes a PostgreSQL cluster in a temporary directory (``initdb``; run as the
``postgres`` OS user when we are root, since PostgreSQL refuses to run as root) and a
``redis-server`` without persistence, each on a free port, and removes both at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

POSTGRES_BIN = Path(os.environ.get("CHAOS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run_as() -> dict[str, Any]:
    """Arguments for subprocess: the ``postgres`` user when we are root, else ourselves."""
    return {"user": "postgres"} if os.geteuid() == 0 else {}


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: ``start``, ``stop``, ``restart``; data kept across them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(POSTGRES_BIN / tool), *args], capture_output=True, text=True, check=False, **_run_as()
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args[:2])} failed: {done.stderr.strip()[-800:]}")

    def create(self) -> None:
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError(f"no PostgreSQL binaries in {POSTGRES_BIN} (set CHAOS_POSTGRES_BIN)")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # fsync off: the run kills the server, never the machine, so the OS cache keeps the WAL
        # (synchronous_commit stays on: an immediate stop would lose commits already answered).
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: like a crash, recovery on the next start)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` child without persistence: a restart starts it empty, like a new node."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def _spawn(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    shutil.which("redis-server") or "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        self._spawn()
        client = Redis.from_url(self.url())
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except (OSError, ConnectionError, Exception):
                    await asyncio.sleep(0.05)
            raise RuntimeError(f"redis-server did not answer on port {self.port}")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None

    async def restart(self) -> None:
        self.stop()
        await self.start()

    async def flushdb(self, database: int) -> None:
        client = Redis.from_url(self.url(database))
        try:
            await client.flushdb()
        finally:
            await client.aclose()
