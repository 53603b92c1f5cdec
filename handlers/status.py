"""/status (operators only): per series, where it came from, how fresh it is, and the last error."""

from __future__ import annotations

from bot.errors import UsageError
from bot.i18n import N_
from bot.render.status import render_status
from bot.seam import Reply, Request, Services

STATUS_USAGE = N_("Usage: /status — data freshness per series (operators only)")


async def status_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(STATUS_USAGE)
    snap = request.snapshot(services)
    counts: dict[str, int] | None = None
    store_ok: bool | None = None
    if services.store is not None:
        try:
            store_ok = await services.store.ping()
            counts = await services.store.outbox_counts() if store_ok else None
        except Exception:
            store_ok = False
    return Reply(text=render_status(snap, request.lang, store_ok=store_ok, outbox=counts))
