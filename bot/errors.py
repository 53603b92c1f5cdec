"""Errors of capgap, and how each reaches a person.

    CapgapError
    ├── UserError            a reply the user should see, localized: msgid + named params
    │   ├── UsageError       bad arguments: the command's usage line
    │   ├── NoDataError      the data a command needs is not stored (or not up to --as-of)
    │   ├── NotAllowedError  a group change by a non-admin, an admin command by a user
    │   └── StoreUnavailableError  the store cannot be reached right now
    ├── SourceError          a data source failed or sent something we refuse to parse
    └── ConfigError          the process cannot start as configured

One PTB error handler turns a UserError into a localized reply (bot/app.py); anything else gets a
short apology, a log line with the traceback and a redacted note to the ops chat. No repr() of an
exception ever reaches a user.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import N_


class CapgapError(Exception):
    """Base of every error capgap raises on purpose."""


class UserError(CapgapError):
    """An error whose text the user sees: a catalog msgid and its named parameters."""

    msgid: str = N_("Something went wrong.")

    def __init__(self, msgid: str | None = None, **params: Any) -> None:
        self.msgid = msgid or type(self).msgid
        self.params = params
        super().__init__(self.msgid)


class UsageError(UserError):
    """Bad arguments. ``msgid`` is the command's usage text."""


class NoDataError(UserError):
    msgid = N_("No data stored yet for {what}. An operator can load it with `capgap refresh` or `capgap import`.")


class NotAllowedError(UserError):
    msgid = N_("Only the chat's administrators can change this.")


class StoreUnavailableError(UserError):
    msgid = N_("The settings store is unavailable right now; please try again in a minute.")


class SourceError(CapgapError):
    """A source failed: network, HTTP status, or a body that is not the expected format.

    ``source`` names the provider (``yahoo``, ``fred``, ``cme``, ``stooq``, ``csv``), ``fault`` says
    what was wrong in words a maintainer can act on. ``retryable`` is true for timeouts, 5xx and 429.
    """

    def __init__(self, source: str, fault: str, *, retryable: bool = False, retry_after: float | None = None):
        self.source = source
        self.fault = fault
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"{source}: {fault}")


class ConfigError(CapgapError):
    """The process cannot start as configured; the message says what to do."""
