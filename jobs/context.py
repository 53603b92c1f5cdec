"""What every job reads from the Application: the services, and whether this process leads."""

from __future__ import annotations

from telegram.ext import ContextTypes

from bot.seam import Services


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]  # type: ignore[no-any-return]


def is_leader(context: ContextTypes.DEFAULT_TYPE) -> bool:
    return bool(context.application.bot_data.get("leader", False))
