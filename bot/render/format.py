"""Every number and date a user sees is formatted here, per language (Babel)."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

from bot.i18n import BABEL_LOCALE, N_, Safe, tr

MINUS = "−"  # U+2212: a real minus sign reads better than a hyphen in a figure


def _locale(lang: str) -> str:
    return BABEL_LOCALE.get(lang, "en_US")


def _check(value: float) -> None:
    if value is None or not math.isfinite(value):
        raise ValueError(f"refusing to format a non-finite number: {value!r}")


def number(value: float, lang: str, digits: int = 2) -> Safe:
    """2663.78 -> '2,663.78' (thousands separators per language)."""
    _check(value)
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    text = format_decimal(abs(value), format=pattern, locale=_locale(lang))
    return Safe((MINUS if value < 0 and round(abs(value), digits) != 0 else "") + text)


def signed(value: float, lang: str, digits: int = 2) -> Safe:
    """+12.34 / −12.34 / 0.00."""
    text = number(value, lang, digits)
    if value > 0 and round(value, digits) != 0:
        return Safe("+" + text)
    return text


def pct(fraction: float, lang: str, digits: int = 2, *, sign: bool = True) -> Safe:
    """A fraction as a percentage: 0.1129 -> '+11.29%'."""
    _check(fraction)
    value = fraction * 100
    return Safe((signed(value, lang, digits) if sign else number(value, lang, digits)) + "%")


def pp(points: float, lang: str, digits: int = 2) -> Safe:
    """Percentage points (already ×100): −8.88 -> '−8.88 pp' / '−8.88 百分點' (the unit is a msgid)."""
    return tr(N_("{value} pp"), lang, value=signed(points, lang, digits))


def bp(points: float, lang: str, digits: int = 0) -> Safe:
    """Basis points (already ×100 of a percent), signed: 80.8 -> '+81 bp' / '+81 基點'."""
    return tr(N_("{value} bp"), lang, value=signed(points, lang, digits))


def day(d: date, lang: str) -> Safe:
    """Dates are ISO in every language: unambiguous for a reader anywhere."""
    return Safe(d.isoformat())


def month_year(d: date, lang: str) -> Safe:
    """'November 2021' / '2021年11月'."""
    return Safe(_babel_date(d, "MMMM y" if lang == "en" else "y年M月", locale=_locale(lang)))


def month_short(d: date, lang: str) -> Safe:
    """'Sep 26' / '2026年9月': a contract month, never an English month name in Chinese text."""
    return Safe(_babel_date(d, "MMM yy" if lang == "en" else "y年M月", locale=_locale(lang)))


def instant(ts: datetime, lang: str, tz: str = "America/New_York") -> Safe:
    """An instant in a named zone: '2026-02-20 16:00 EST'."""
    local = ts.astimezone(ZoneInfo(tz))
    return Safe(local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or tz))
