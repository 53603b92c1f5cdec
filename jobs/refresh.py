"""The scheduled refresh: fetch what history is missing, then evaluate alert rules on the new data."""

from __future__ import annotations

import logging

from telegram.ext import ContextTypes

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
