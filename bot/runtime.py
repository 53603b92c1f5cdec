"""Start the bot for real: the Application, its data sources and jobs, polling or a webhook.

``build_bot`` is what `capgap run` runs (the end-to-end tests start the bot through it too): the data
sources are opened on one HTTP client for the life of the Application and closed on shutdown, so the
scheduled passes fetch from Yahoo, FRED, CME and Stooq exactly as `capgap refresh` does.
"""

from __future__ import annotations

import contextlib
import functools
import logging

import httpx
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.delivery import Limits
from bot.sources.registry import open_sources
from handlers.base import Services

log = logging.getLogger(__name__)


def build_bot(
    settings: Settings,
    services: Services,
    *,
    http_client: httpx.AsyncClient | None = None,
    send_limits: Limits | None = None,
) -> Application:  # type: ignore[type-arg]
    """The Application `capgap run` runs. ``http_client`` replaces the data sources' HTTP client (tests
    answer the vendors locally); the bot closes a client it made itself, never one it was given.
    ``send_limits`` replaces the sender's pacing from the settings (the soak scales Telegram's clock)."""
    from jobs.schedule import schedule_jobs, step_down, stop_sender

    sources = contextlib.AsyncExitStack()

    async def open_data_sources(application: Application) -> None:  # type: ignore[type-arg]
        apikey = settings.stooq_apikey.get_secret_value() if settings.stooq_apikey else None
        services.market.sources = await sources.enter_async_context(open_sources(stooq_apikey=apikey, client=http_client))
        log.info("data sources: %s", ", ".join(sorted(services.market.sources)))

    async def close_data_sources(application: Application) -> None:  # type: ignore[type-arg]
        services.market.sources = {}
        await sources.aclose()

    return build_application(
        settings,
        services,
        extra_post_init=[open_data_sources, functools.partial(schedule_jobs, send_limits=send_limits)],
        extra_post_stop=[stop_sender, step_down, close_data_sources],
    )


def run_bot(settings: Settings, services: Services, *, webhook_url: str | None) -> int:
    application = build_bot(settings, services)
    if webhook_url:
        from urllib.parse import urlparse

        path = urlparse(webhook_url).path.lstrip("/")
        log.info("serving the webhook on %s:%s/%s", settings.webhook_listen, settings.webhook_port, path)
        assert settings.webhook_secret is not None
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        log.info("polling Telegram for updates")
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
