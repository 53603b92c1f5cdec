"""The Telegram Bot API peer (tests/telegram_peer.py) in a process of its own, for the benchmarks that
measure the bot: sharing the bot's process, the peer's HTTP handling takes the bot's CPU (one core
reached ~150 msg/s for both together, a fifth of a x20 peer's rate) and its time counts as the bot's.

``PeerProcess`` starts ``python -m bench.peer_process`` and talks to it over its stdin/stdout, one JSON
line per question: the calls the peer recorded since a count (method, chat, text, status and arrival
time on the machine's monotonic clock, which every process shares) and its counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any, Self

from bench.common import REPO


@dataclass(frozen=True)
class Call:
    """One call the peer recorded (tests/telegram_peer.py ``SentCall``, without the uploaded bytes)."""

    method: str
    chat_id: int | str | None
    text: str | None
    time: float  # time.monotonic() at arrival: CLOCK_MONOTONIC, the same in every process
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 200


class PeerProcess:
    """``async with PeerProcess(scale=20) as peer``: ``peer.token``, ``peer.base_url``, ``await
    peer.calls(since)``, ``await peer.stats()``."""

    def __init__(self, *, scale: float = 1.0, round_trip_s: float = 0.0) -> None:
        self.scale = scale
        self.round_trip_s = round_trip_s
        self.token = ""
        self.url = ""
        self._child: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def __aenter__(self) -> Self:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.peer_process", "--scale", str(self.scale),
            "--round-trip", str(self.round_trip_s), cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 30,
        )  # fmt: skip
        hello = await self._read()
        self.token, self.url = hello["token"], hello["url"]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        child = self._child
        if child is None or child.returncode is not None:
            return
        assert child.stdin is not None
        child.stdin.write(b"quit\n")
        await child.stdin.drain()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()
            await child.wait()

    async def _ask(self, line: str) -> Any:
        assert self._child is not None and self._child.stdin is not None
        self._child.stdin.write(line.encode() + b"\n")
        await self._child.stdin.drain()
        return await self._read()

    async def _read(self) -> Any:
        assert self._child is not None and self._child.stdout is not None
        line = await self._child.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process ended (exit code {await self._child.wait()})")
        return json.loads(line)

    async def calls(self, since: int = 0) -> list[Call]:
        """The calls recorded from the ``since``-th on, oldest first."""
        return [Call(*c) for c in await self._ask(f"calls {since}")]

    async def stats(self) -> dict[str, Any]:
        """``too_many_requests`` (429s answered) and ``requests`` (per method)."""
        return dict(await self._ask("stats"))


async def _serve(scale: float, round_trip_s: float) -> None:
    from tests.telegram_peer import Limits, TelegramPeer

    loop = asyncio.get_running_loop()
    async with TelegramPeer(limits=Limits(scale=scale), round_trip_s=round_trip_s) as peer:
        print(json.dumps({"token": peer.token, "url": peer.url}), flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                return
            if line[0] == "calls":
                answer: Any = [
                    [c.method, c.chat_id, c.text, c.time, c.status] for c in peer.calls()[int(line[1]) :]
                ]
            else:
                stats = peer.stats()
                answer = {"too_many_requests": stats.too_many_requests, "requests": dict(stats.requests)}
            print(json.dumps(answer, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the Telegram peer in its own process (bench/peer_process.py)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--round-trip", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.scale, args.round_trip))
