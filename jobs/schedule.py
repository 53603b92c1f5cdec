"""Register every scheduled job on the Application's JobQueue (called from post_init)."""

from __future__ import annotations

import logging

from telegram.ext import Application

log = logging.getLogger(__name__)


async def schedule_jobs(application: Application) -> None:  # type: ignore[type-arg]
    services = application.bot_data["services"]
    # The snapshot is built from local history before the first update is answered.
    services.market.reload()
    log.info("snapshot as of %s with %d series", services.market.snapshot.asof, len(services.market.snapshot.frames))
