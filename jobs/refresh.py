"""The scheduled refresh: fetch what history is missing, then evaluate alert rules on the new data."""

from __future__ import annotations

import logging

from telegram.ext import ContextTypes

from bot import calendar
from jobs.schedule import is_leader, services_of

log = logging.getLogger(__name__)


async def refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs on the leader only; never raises (a failed source only makes its series stale)."""
    if not is_leader(context):
        return
    services = services_of(context)
    try:
        snapshot = await services.market.refresh()
    except Exception:
        log.exception("refresh failed; keeping the previous snapshot")
        return
    stale = [s.name for s in snapshot.status.values() if s.stale]
    log.info("refreshed: snapshot as of %s; stale: %s", snapshot.asof, ", ".join(stale) or "none")
    from jobs.watch import watch_once

    if is_leader(context):
        await watch_once(services)


async def intraday_job(context: ContextTypes.DEFAULT_TYPE) -> None:
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
