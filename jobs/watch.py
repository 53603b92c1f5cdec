"""Evaluate alert rules on the latest snapshot (after a refresh pass, or when history changed; leader)."""

from __future__ import annotations

import logging

from bot.alerts.watcher import WatchReport
from bot.render.alerts import render_alerts
from bot.seam import Services

log = logging.getLogger(__name__)


async def run_rules(services: Services) -> WatchReport | None:
    """Evaluate the rules on the current snapshot with the services' watcher; never raises."""
    if services.watcher is None:
        return None
    # One evaluation at a time: a refresh pass and a history change can come due together.
    async with services.watch_lock:
        try:
            report = await services.watcher.watch(services.market.snapshot, services.clock.now(), render_alerts)
        except Exception:
            log.exception("watch failed; the next refresh runs it again (events are idempotent)")
            return None
    if report.held:
        log.warning("alert rules held: %s", "; ".join(f"{k} ({v})" for k, v in report.held.items()))
    log.info("watch: %s bars, %d events, %d new messages", report.evaluated, report.events, report.messages)
    return report
