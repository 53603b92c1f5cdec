"""A real Redis for tests: a pytest plugin (registered in conftest.py) and a helper to run one.

``redis_url`` (session): CAPGAP_REDIS_URL when set (a server we do not own: its keys outside our
prefixes are never touched); else a redis-server started here on a free loopback port in a temp dir,
without persistence, stopped at session end; else the test is skipped, or fails when
CAPGAP_REQUIRE_REDIS=1 (CI, where a skipped Redis suite must not pass as green).

``redis_prefix`` (function): a key prefix unique to the test; its keys are deleted afterwards.

``start_redis_server(dir, appendonly=...)`` starts a server the caller owns, for fault tests that stop
and restart Redis on the same port and dir.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisProc:
    """One redis-server process on 127.0.0.1:``port`` with its data (and log) in ``dir``.

    ``stop()`` sends SIGTERM (Redis flushes its AOF and exits) and waits; ``start()`` runs it again on
    the same port and dir, so a client that kept its URL finds the restarted server there.
    """

    def __init__(self, dir: Path, *, port: int, appendonly: bool, binary: str) -> None:
        self.dir = Path(dir)
        self.port = port
        self.appendonly = appendonly
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
        ]  # fmt: skip
        if self.appendonly:
            # every write on disk before the reply: a test that stops the server loses nothing acknowledged
            args += ["--appendfsync", "always"]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {self._log_tail()}")
            try:
                client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1.0)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {START_TIMEOUT_S} s")

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM and wait for exit (SIGKILL if it hangs); a no-op when not running."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


def start_redis_server(dir: Path, *, appendonly: bool) -> RedisProc:
    """Start a redis-server on a free loopback port with its files in ``dir``; the caller stops it."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    server = RedisProc(dir, port=_free_loopback_port(), appendonly=appendonly, binary=binary)
    server.start()
    return server


def redis_unavailable(reason: str) -> None:
    """Skip, or fail when CAPGAP_REQUIRE_REDIS=1, because no Redis can be had."""
    if os.environ.get("CAPGAP_REQUIRE_REDIS") == "1":
        pytest.fail(f"CAPGAP_REQUIRE_REDIS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis: CAPGAP_REDIS_URL, or a server started for this session."""
    configured = os.environ.get("CAPGAP_REDIS_URL")
    if configured:
        yield configured
        return
    if redis_server_binary() is None:
        redis_unavailable(
            "no Redis: set CAPGAP_REDIS_URL or install redis-server (apt-get install redis-server)"
        )
    server = start_redis_server(tmp_path_factory.mktemp("redis"), appendonly=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix used by this test alone; its keys (and only those) are deleted afterwards."""
    prefix = f"capgap-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=5.0)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
    except redis.ConnectionError:
        pass  # a fault test stopped its server; nothing of ours is left to clean there
    finally:
        client.close()
