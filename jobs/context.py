"""What every job reads from the Application: the services, and whether this process leads."""

from __future__ import annotations

from bot.app_state import AppContext
from bot.seam import Services


def services_of(context: AppContext) -> Services:
    return context.bot_data.services


def is_leader(context: AppContext) -> bool:
    return bool(context.bot_data.leader)
