"""A private ``redis-server`` for one test: a free port, a password or TLS, nothing on disk kept.

The shared Redis of the machine has no password; AUTH and TLS can only be tried on a server the
test starts itself. Skips the test when the binary (or, for TLS, its TLS support or openssl)
is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class RedisServer:
    port: int
    ca_file: Path | None = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by itself (it is its own CA)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for a TLS Redis")
    cert, key = folder / "redis.crt", folder / "redis.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def running_redis(folder: Path, password: str | None = None, tls: bool = False) -> Iterator[RedisServer]:
    """A ``redis-server`` on a free port of 127.0.0.1 (TLS only, when asked), stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    args = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    ca_file = None
    if tls:
        cert, key = self_signed_certificate(folder)
        ca_file = cert
        args += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
                 "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]  # fmt: skip
    else:
        args += ["--port", str(port)]
    if password is not None:
        args += ["--requirepass", password]
    log = (folder / "redis.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                text = (folder / "redis.log").read_text(errors="replace")
                if tls and ("tls" in text.lower() or "ssl" in text.lower()):
                    pytest.skip(f"this redis-server has no TLS support: {text[-300:]}")
                raise RuntimeError(f"redis-server exited: {text[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not listen within 10 s") from None
                time.sleep(0.05)
        yield RedisServer(port=port, ca_file=ca_file)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
