"""The refresh jobs: fetch what history is missing, then evaluate alert rules on the new data; and
follow history that another process wrote."""

from __future__ import annotations

import asyncio
import logging

from bot import calendar
from bot.app_state import AppContext
from bot.seam import Services
from jobs.context import is_leader, services_of
from jobs.watch import run_rules

log = logging.getLogger(__name__)


async def refresh_and_watch(services: Services) -> None:
    """One pass: fetch what is missing (when refreshing is enabled), then evaluate the rules. Never
    raises: a failed source only makes its series stale (the pass logs what failed and why)."""
    if services.settings.refresh_enabled:
        try:
            snapshot = await services.market.refresh()
        except Exception:
            log.exception("refresh failed; keeping the previous snapshot")
        else:
            stale = [s.name for s in snapshot.status.values() if s.stale]
            log.info("snapshot as of %s; stale: %s", snapshot.asof, ", ".join(stale) or "none")
    else:
        await asyncio.to_thread(services.market.reload_if_changed)
    await run_rules(services)


async def refresh_job(context: AppContext) -> None:
    """The scheduled passes after each close, and the catch-up pass at start. Leader only."""
    if is_leader(context):
        await refresh_and_watch(services_of(context))


async def data_job(context: AppContext) -> None:
    """Every few seconds: reload the snapshot when history changed, whoever wrote it (this process, a
    `capgap import`, the leader in another process), so every worker answers from the same data; the
    leader then evaluates the rules on it. One cheap revision read when nothing changed."""
    services = services_of(context)
    try:
        changed = await asyncio.to_thread(services.market.reload_if_changed)
    except Exception:
        log.exception("history reload failed; keeping the previous snapshot")
        return
    if changed:
        log.info("history changed: snapshot as of %s", services.market.snapshot.asof)
        if is_leader(context):
            await run_rules(services)


async def intraday_job(context: AppContext) -> None:
    """While NYSE trades, fetch the indices' last prices for the intraday views (no alerts: those wait
    for final closes). Leader only; never raises."""
    if not is_leader(context):
        return
    services = services_of(context)
    if calendar.session_in_progress(services.clock.now()) is None:
        return
    try:
        snapshot = await services.market.refresh_intraday()
    except Exception:
        log.exception("intraday refresh failed; keeping the previous snapshot")
        return
    log.info("intraday: %s", ", ".join(f"{q.name} {q.price:g}" for q in snapshot.live.values()) or "no live quotes")
