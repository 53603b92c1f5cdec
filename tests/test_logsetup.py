"""What the operator's log holds: one line per Telegram 429 (the sender's), not PTB's traceback of it."""

from __future__ import annotations

import logging

from bot.logsetup import RedactingFilter, setup_logging


def test_setup_logging_leaves_the_429_to_its_handler_not_ptbs_rate_limiter_traceback() -> None:
    root = logging.getLogger()
    level, filters = root.level, {h: list(h.filters) for h in root.handlers}
    limiter = logging.getLogger("telegram.ext.AIORateLimiter")
    try:
        setup_logging("INFO", ["123456:SECRET"])
        assert not limiter.isEnabledFor(logging.ERROR)  # its only message: the RetryAfter traceback
        assert logging.getLogger("bot.delivery").isEnabledFor(logging.WARNING)  # the sender's one line
        assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers)
    finally:
        root.setLevel(level)
        limiter.setLevel(logging.NOTSET)
        for handler, kept in filters.items():
            handler.filters = kept
