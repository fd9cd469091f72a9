"""Running ``ai-worker`` as a real process, the way operators do."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AI_WORKER = str(Path(sys.executable).with_name("ai-worker"))


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def service_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process: ours, without settings that would leak in, plus overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "POSTGRES_", "L2_", "LLM_", "DATABASE_URL"))
    }
    env.update(overrides)
    return env


async def ai_worker(
    *args: str, env: dict[str, str], timeout: float = 60, stdin: bytes | None = None
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        AI_WORKER,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout)
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start ``ai-worker worker`` in the background, its output going to ``log``."""
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            AI_WORKER, "worker", env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        handle.close()


async def stop(process: asyncio.subprocess.Process, timeout: float = 20) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll ``check`` until it is true; return the seconds it took, fail naming ``what``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < timeout:
        if await check():
            return loop.time() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
