"""Logging that never prints a secret.

httpx logs every request URL at INFO, and a Bot API URL contains the token; PTB's own docs advise
raising httpx's level. We do that and, as a second line of defence, redact every configured secret from
every record that reaches a handler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# A Bot API token: digits, a colon, 35 characters of [A-Za-z0-9_-].
TOKEN_PATTERN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return TOKEN_PATTERN.sub("<redacted-token>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self._clean(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    redactor = RedactingFilter(secrets)
    for handler in root.handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactingFilter)]
        handler.addFilter(redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # With max_retries=0 (bot/app.py) PTB's rate limiter logs only a RetryAfter's traceback, once per 429,
    # which its caller handles and reports in one line: the sender (bot/delivery.py) or the error handler.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
