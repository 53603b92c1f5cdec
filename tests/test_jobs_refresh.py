"""The refresh jobs: the intraday refresh runs only while NYSE trades, on the leader, and never raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bot.app_state import AppState
from bot.clock import FixedClock
from jobs.refresh import intraday_job


@dataclass
class CountingMarket:
    fail: bool = False
    calls: int = 0
    live: dict[str, Any] = field(default_factory=dict)

    async def refresh_intraday(self) -> Any:
        self.calls += 1
        if self.fail:
            raise RuntimeError("vendor exploded")
        return SimpleNamespace(live=self.live)


def context(now: datetime, market: CountingMarket, *, leader: bool = True) -> Any:
    state = AppState(leader=leader)
    state.services = SimpleNamespace(clock=FixedClock(now), market=market)  # type: ignore[assignment]
    return SimpleNamespace(bot_data=state)


WEDNESDAY_11H_NY = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


async def test_intraday_job_refreshes_while_nyse_trades() -> None:
    market = CountingMarket()
    await intraday_job(context(WEDNESDAY_11H_NY, market))
    assert market.calls == 1


async def test_intraday_job_does_nothing_before_the_open_after_the_close_or_on_a_holiday() -> None:
    market = CountingMarket()
    for now in (
        datetime(2026, 11, 25, 14, 29, tzinfo=UTC),  # 09:29 New York
        datetime(2026, 11, 25, 21, 0, tzinfo=UTC),  # the 16:00 close
        datetime(2026, 11, 26, 16, 0, tzinfo=UTC),  # Thanksgiving
        datetime(2026, 11, 28, 16, 0, tzinfo=UTC),  # Saturday
    ):
        await intraday_job(context(now, market))
    assert market.calls == 0


async def test_intraday_job_runs_on_the_leader_only() -> None:
    market = CountingMarket()
    await intraday_job(context(WEDNESDAY_11H_NY, market, leader=False))
    assert market.calls == 0


async def test_intraday_job_failure_is_logged_not_raised(caplog: Any) -> None:
    market = CountingMarket(fail=True)
    await intraday_job(context(WEDNESDAY_11H_NY, market))
    assert market.calls == 1 and "intraday refresh failed" in caplog.text
