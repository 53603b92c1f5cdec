"""Start the bot for real: the Application, its jobs, polling or a webhook."""

from __future__ import annotations

import logging

from telegram import Update

from bot.app import build_application
from bot.config import Settings
from handlers.base import Services

log = logging.getLogger(__name__)


def run_bot(settings: Settings, services: Services, *, webhook_url: str | None) -> int:
    from jobs.schedule import schedule_jobs, stop_sender

    application = build_application(settings, services, extra_post_init=[schedule_jobs], extra_post_stop=[stop_sender])
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
