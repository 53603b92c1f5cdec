"""Shared fixtures: the real data in ../shared/data, a loopback-only network, a real Redis."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CAPGAP_SHARED_DATA", REPO.parent / "shared" / "data"))

pytest_plugins = ["tests.redis_server"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data and recorded responses; tests that need it skip on a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set CAPGAP_SHARED_DATA to the shared/data folder)")
    return SHARED_DATA


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every matplotlib figure a chart renders during the test, captured as it is saved to PNG."""
    from bot.render import charts

    seen: list[Figure] = []
    real_png = charts.png

    def capture(fig: Figure) -> bytes:
        seen.append(fig)
        return real_png(fig)

    monkeypatch.setattr(charts, "png", capture)
    return seen


_LOOPBACK_PREFIXES = ("127.", "::1", "localhost")


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host.startswith(_LOOPBACK_PREFIXES) or host in ("0.0.0.0", "::")
    return isinstance(address, str | bytes)  # AF_UNIX paths


class NetworkBlockedError(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a host other than 127.0.0.1/::1 fails the test that made it."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            raise NetworkBlockedError(f"test tried to reach {address!r}; only loopback is allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback(address):
            raise NetworkBlockedError(f"test tried to reach {address!r}; only loopback is allowed")
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)

    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if host is not None and not _is_loopback((host,)):
            raise NetworkBlockedError(f"test tried to resolve {host!r}; only loopback is allowed")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


_REDIS_TESTS: set[str] = set()
_REDIS_OUTCOMES: dict[str, int] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ("redis_url" in getattr(item, "fixturenames", ()) or "own_redis" in getattr(item, "fixturenames", ())
                or "redis" in item.nodeid.lower()):
            _REDIS_TESTS.add(item.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid in _REDIS_TESTS and (report.when == "call" or report.outcome == "skipped"):
        _REDIS_OUTCOMES[report.outcome] = _REDIS_OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    """CI's log shows that the tests against a real Redis ran rather than skipped."""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_REDIS_OUTCOMES.items())) or "none ran"
    terminalreporter.write_line(f"Redis backend tests (real redis-server): {counts}")  # type: ignore[attr-defined]
