"""capgap: a Telegram bot for the US small-cap vs large-cap story."""

import os

# Opt in to python-telegram-bot's coming behaviour (RetryAfter.retry_after as a timedelta) now:
# bot/delivery.py reads either form, and the opt-in silences a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
