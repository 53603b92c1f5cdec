"""CSV files the user owns (``capgap import FILE --series NAME``), and the CSV parsing FRED and Stooq share.

Layouts recognised (all seen in real files, see shared/data/PROVENANCE.md):

- yfinance: ``Date,Close,High,Low,Open,Volume``; classic Yahoo download ``Date,Open,High,Low,Close,
  Adj Close,Volume``; the 3-header-line yfinance multi-index dump (``Price,...`` / ``Ticker,...`` /
  ``Date,,,``); Stooq ``Date,Open,High,Low,Close,Volume``; Investing.com ``Date,Price,Open,High,Low,
  Vol.,Change %`` (newest first, ``13.28K`` volumes);
- FRED: fredgraph ``DATE,<ID>`` with ``.`` for missing, ``observation_date,<ID>`` with empty fields for
  missing, ``Date,Value`` re-exports, Excel re-saves with ``M/D/YYYY`` dates;
- anything else shaped ``date,value`` (a forward P/E series from FactSet or Yardeni, say);
- Shiller's monthly S&P 500 file (datahub ``Date,SP500,Dividend,Earnings,...,PE10``) read as a P/E
  series: SP500 / Earnings, the trailing 12-month P/E (not PE10, the 10-year CAPE). Its 0.0 earnings
  after 2023-06 are placeholders, not zero earnings: those months are left out.

Dates may be ``YYYY-MM-DD`` (a time or UTC offset after it is ignored), ``M/D/YYYY``, ``YYYY/M/D`` or
``YYYYMMDD``. Bar series (the indices and ETFs) become bar frames, every other series a ``value``
frame (conventions in bot/sources/base.py). A file whose dates run strictly newest-first is reversed;
any other disorder, a duplicated date, an unparseable date or number, or a bar with prices but no
close raises ``SourceError`` naming the file, the line and the date. Rows with no value at all are
dropped. Parsing is vectorised: the 40,000-row Stooq S&P 500 history parses in tens of milliseconds.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import SourceError
from bot.series import SERIES, series_key
from bot.sources.base import PRICE_COLUMNS, VALUE_COLUMN, Fetched
from bot.sources.http import html_fault, looks_like_html

SOURCE = "csv"

# Tokens that mean "no observation": FRED's ".", fredgraph's empty field, old Yahoo's "null".
MISSING_TOKENS = frozenset({"", ".", "null", "NULL", "NaN", "nan", "NA", "N/A", "#N/A", "-", "None"})

_HEADER_ALIASES: dict[str, str] = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adjclose",
    "adj_close": "adjclose",
    "adjclose": "adjclose",
    "adjusted close": "adjclose",
    "volume": "volume",
    "vol.": "volume",
    "vol": "volume",
}
# Names a close goes by when a file has no "Close" column (Investing.com, Barchart, FRED re-exports).
_CLOSE_STANDINS = ("price", "last", "value")
_DATE_HEADERS = frozenset({"date", "observation_date", "datetime", "time", "timestamp", "day"})
_SUFFIX_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9}

_DATE_FORMATS: tuple[tuple[re.Pattern[str], str, int | None], ...] = (
    # (what the first date looks like, strptime format, characters to keep)
    (re.compile(r"^\d{4}-\d{2}-\d{2}"), "%Y-%m-%d", 10),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), "%m/%d/%Y", None),
    (re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$"), "%Y/%m/%d", None),
    (re.compile(r"^\d{8}$"), "%Y%m%d", None),
)


def is_bar_series(series: str) -> bool:
    """True for the indices and ETFs stored as OHLCV bars (RUT, NDX, SPX, SP600, IWM, IJR, SPY, QQQ)."""
    info = SERIES.get(series_key(series))
    return info is not None and info.kind == "bars"


@dataclass(frozen=True)
class ParsedCsv:
    """A CSV body turned into a frame.

    ``layout`` names the layout recognised (for logs and the import report); ``dropped_partial`` is the
    date of a trailing intraday snapshot that was left out of ``frame``; ``reversed`` says the file ran
    newest-first.
    """

    frame: pd.DataFrame
    layout: str
    dropped_partial: date | None = None
    reversed: bool = False


def normalise_index(dates: pd.DatetimeIndex | pd.Series | np.ndarray) -> pd.DatetimeIndex:
    """Dates as the frame conventions want them: naive, midnight, nanosecond resolution, named ``date``."""
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_localize(None)
    return pd.DatetimeIndex(index.normalize().astype("datetime64[ns]"), name="date")


def order_fault(dates: pd.DatetimeIndex) -> tuple[int, str] | None:
    """The first position where ``dates`` stop strictly increasing, and why; None when they never do."""
    if len(dates) < 2:
        return None
    values = dates.asi8
    step = np.diff(values)
    bad = np.flatnonzero(step <= 0)
    if bad.size == 0:
        return None
    i = int(bad[0]) + 1
    day = dates[i].date().isoformat()
    if step[i - 1] == 0:
        return i, f"duplicated date {day}"
    return i, f"date {day} comes after {dates[i - 1].date().isoformat()} (dates out of order)"


def parse_series_csv(
    text: str,
    series: str,
    *,
    source: str = SOURCE,
    origin: str = "CSV text",
    kind: str | None = None,
) -> ParsedCsv:
    """Parse a CSV body holding ``series`` into a bar frame or a ``value`` frame.

    ``kind`` forces ``"bars"`` or ``"scalar"``; by default the series decides (``is_bar_series``).
    ``origin`` names the file or URL in error messages; ``source`` is the provider a SourceError names.
    """
    bars = (kind == "bars") if kind is not None else is_bar_series(series)
    body = text.lstrip("\ufeff")
    if not body.strip():
        raise SourceError(source, f"{origin} is empty")
    if looks_like_html(body):
        raise SourceError(source, html_fault(body, "CSV", origin))

    lines = body.splitlines()
    first = _split_header(lines[0])
    if len(lines) >= 3 and first[0].lower() == "price" and lines[1].lower().startswith("ticker,"):
        # yfinance >= 0.2.5x writes its column MultiIndex as two header lines, then a "Date,,," line.
        names = ["Date", *first[1:]]
        header_lines = 3
        layout = "yfinance-multiindex"
    else:
        names = first
        header_lines = 1
        layout = ""
    if len(names) < 2:
        raise SourceError(
            source, f"{origin} line 1 is not a CSV header with a date and a value: {lines[0][:80]!r}"
        )
    if len(set(names)) != len(names):
        raise SourceError(source, f"{origin} header repeats a column name: {lines[0][:120]!r}")

    lower = [n.strip().lower() for n in names]
    date_pos = next((i for i, n in enumerate(lower) if n in _DATE_HEADERS), 0)
    date_col = names[date_pos]
    value_names = [n for i, n in enumerate(names) if i != date_pos]
    try:
        # The C parser reads the numbers; a column it cannot read as float stays text for _numbers().
        raw = pd.read_csv(
            io.StringIO(body),
            skiprows=header_lines,
            header=None,
            names=names,
            dtype={date_col: str},
            na_values={n: sorted(MISSING_TOKENS) for n in value_names},
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise SourceError(source, f"{origin} is not a well-formed CSV: {exc}") from exc

    # Keep positions so a fault can name its line; drop lines with nothing on them.
    line_no = np.arange(len(raw)) + header_lines + 1
    date_text = raw[date_col].fillna("").str.strip()
    filled = ((date_text != "") | raw[value_names].notna().any(axis=1)).to_numpy()
    raw = raw.loc[filled].reset_index(drop=True)
    raw[date_col] = date_text[filled].reset_index(drop=True)
    line_no = line_no[filled]
    if raw.empty:
        raise SourceError(source, f"{origin} has a header but no rows")

    if not layout:
        layout = _guess_layout(names[date_pos], value_names)

    dates = _parse_dates(raw[date_col], line_no, source=source, origin=origin)
    reversed_ = False
    fault = order_fault(dates)
    if fault is not None and len(dates) > 1 and bool(np.all(np.diff(dates.asi8) < 0)):
        # Investing.com and Barchart export newest first: strictly decreasing is an order, not a mess.
        raw = raw.iloc[::-1].reset_index(drop=True)
        line_no = line_no[::-1]
        dates = dates[::-1]
        reversed_ = True
        fault = None
    if fault is not None:
        i, what = fault
        raise SourceError(source, f"{origin} line {line_no[i]}: {what}")

    if bars:
        frame, dropped = _bar_frame(raw, value_names, dates, line_no, series, source=source, origin=origin)
    else:
        frame, dropped = (
            _scalar_frame(raw, value_names, dates, series, line_no, source=source, origin=origin),
            None,
        )
    if frame.empty:
        raise SourceError(source, f"{origin} holds no observations of {series} (every value is missing)")
    return ParsedCsv(frame=frame, layout=layout, dropped_partial=dropped, reversed=reversed_)


def read_series_csv(path: str | Path, series: str) -> Fetched:
    """Read the user's CSV file ``path`` as ``series`` (see the module docstring for the layouts).

    Returns a ``Fetched`` with source ``csv``; ``fetched_at`` is the file's modification time. A
    trailing row that is an intraday snapshot (volume 0 after rows with volume) is left out and its
    date given in ``meta["dropped_partial"]``; ``meta`` also carries ``path``, ``layout`` and ``rows``.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SourceError(SOURCE, f"cannot read {p}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves CSV as cp1252; the fields capgap reads are ASCII either way.
        text = data.decode("cp1252", errors="replace")
    parsed = parse_series_csv(text, series, source=SOURCE, origin=str(p))
    meta: dict[str, object] = {"path": str(p), "layout": parsed.layout, "rows": len(parsed.frame)}
    if parsed.dropped_partial is not None:
        meta["dropped_partial"] = parsed.dropped_partial
    if parsed.reversed:
        meta["reversed"] = True
    mtime = datetime.fromtimestamp(p.stat().st_mtime, UTC)
    return Fetched(
        series=series, source=SOURCE, frame=parsed.frame, fetched_at=mtime, partial_last=False, meta=meta
    )


def _split_header(line: str) -> list[str]:
    return [cell.strip().strip('"').lstrip("\ufeff").strip() for cell in line.split(",")]


def _guess_layout(date_name: str, value_names: list[str]) -> str:
    lower = {n.strip().lower() for n in value_names}
    if date_name == "observation_date":
        return "fredgraph"
    if SHILLER_COLUMNS <= lower:
        return "shiller"
    if date_name == "DATE" and len(value_names) == 1:
        return "fredgraph-old"
    if len(value_names) == 1:
        return "date-value"
    if "adj close" in lower:
        return "yahoo"
    if "price" in lower and "vol." in lower:
        return "investing"
    if {"open", "high", "low", "close"} <= lower:
        return "ohlc"
    return "table"


def _parse_dates(column: pd.Series, line_no: np.ndarray, *, source: str, origin: str) -> pd.DatetimeIndex:
    text = column.str.strip()
    sample = str(text.iloc[0])
    for pattern, fmt, keep in _DATE_FORMATS:
        if pattern.match(sample):
            values = text.str.slice(0, keep) if keep else text
            parsed = pd.to_datetime(values, format=fmt, errors="coerce")
            break
    else:
        raise SourceError(source, f"{origin} line {line_no[0]}: unrecognised date {sample!r}")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise SourceError(source, f"{origin} line {line_no[i]}: unparseable date {str(text.iloc[i])!r}")
    return normalise_index(parsed)


def _numbers(
    column: pd.Series, name: str, dates: pd.DatetimeIndex, line_no: np.ndarray, *, source: str, origin: str
) -> np.ndarray:
    """A column as float64 with NaN for missing tokens; SourceError on anything else unparseable."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text = column.astype(str).str.strip()
        missing = (column.isna() | text.isin(MISSING_TOKENS)).to_numpy()
        values = pd.to_numeric(text.mask(missing), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan, copy=True
        )
        bad = np.isnan(values) & ~missing
        if bad.any():
            # Second chance for vendor formatting: "61,551", "13.28K", "1.2M".
            retry = text[bad].str.replace(",", "", regex=False)
            scale = retry.str[-1:].str.upper().map(_SUFFIX_SCALE)
            has_suffix = scale.notna()
            number = pd.to_numeric(retry.where(~has_suffix, retry.str[:-1]), errors="coerce")
            values[bad] = (number * scale.fillna(1.0)).to_numpy(dtype="float64", na_value=np.nan)
            bad = np.isnan(values) & ~missing
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SourceError(
                source,
                f"{origin} line {line_no[i]} ({dates[i].date().isoformat()}): "
                f"{name} {str(text.iloc[i])!r} is not a number",
            )
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise SourceError(
            source, f"{origin} line {line_no[i]} ({dates[i].date().isoformat()}): {name} is infinite"
        )
    return np.asarray(values, dtype="float64")


def _bar_frame(
    raw: pd.DataFrame,
    value_names: list[str],
    dates: pd.DatetimeIndex,
    line_no: np.ndarray,
    series: str,
    *,
    source: str,
    origin: str,
) -> tuple[pd.DataFrame, date | None]:
    mapping: dict[str, str] = {}
    for name in value_names:
        target = _HEADER_ALIASES.get(name.strip().lower())
        if target and target not in mapping.values():
            mapping[name] = target
    if "close" not in mapping.values():
        standin = next((n for n in value_names if n.strip().lower() in _CLOSE_STANDINS), None)
        if standin is None and len(value_names) == 1:
            standin = value_names[0]  # a FRED SP500 / NASDAQ100 file read as SPX / NDX: closes only
        if standin is None:
            raise SourceError(
                source, f"{origin} has no close column for {series} (columns: {', '.join(value_names)})"
            )
        mapping[standin] = "close"

    columns = {
        target: _numbers(raw[name], target, dates, line_no, source=source, origin=origin)
        for name, target in mapping.items()
    }
    ordered = [c for c in PRICE_COLUMNS if c in columns]
    frame = pd.DataFrame({c: columns[c] for c in ordered}, index=dates)

    prices = [c for c in ("open", "high", "low", "close", "adjclose") if c in frame]
    empty_bar = frame[prices].isna().all(axis=1).to_numpy()
    no_close = np.isnan(frame["close"].to_numpy()) & ~empty_bar
    if no_close.any():
        i = int(np.flatnonzero(no_close)[0])
        raise SourceError(
            source, f"{origin} line {line_no[i]} ({dates[i].date().isoformat()}): bar has prices but no close"
        )
    keep = ~empty_bar
    frame = frame.loc[keep]
    kept_lines = line_no[keep]
    nonpositive = frame["close"].to_numpy() <= 0
    if nonpositive.any():
        i = int(np.flatnonzero(nonpositive)[0])
        raise SourceError(
            source,
            f"{origin} line {kept_lines[i]} ({frame.index[i].date().isoformat()}): "
            f"close {frame['close'].iloc[i]} is not positive",
        )

    dropped: date | None = None
    if "volume" in frame and len(frame) >= 2:
        volume = frame["volume"].to_numpy()
        # An intraday snapshot saved as the last row: Yahoo reports volume 0 until the session closes.
        if volume[-1] == 0 and volume[-2] > 0:
            dropped = frame.index[-1].date()
            frame = frame.iloc[:-1]
    return frame, dropped


# The columns that make a file Shiller's monthly S&P 500 data (lower case).
SHILLER_COLUMNS = frozenset({"sp500", "earnings", "pe10"})


def _shiller_pe(
    raw: pd.DataFrame,
    by_lower: dict[str, str],
    dates: pd.DatetimeIndex,
    line_no: np.ndarray,
    *,
    source: str,
    origin: str,
) -> pd.DataFrame:
    """Trailing P/E from Shiller's columns: the month's average price over 12-month trailing earnings."""
    price = _numbers(raw[by_lower["sp500"]], by_lower["sp500"], dates, line_no, source=source, origin=origin)
    column = by_lower["earnings"]
    earnings = _numbers(raw[column], column, dates, line_no, source=source, origin=origin)
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = price / earnings
    keep = np.isfinite(pe) & (earnings > 0)  # 0.0 earnings are the file's placeholders after 2023-06
    return pd.DataFrame({VALUE_COLUMN: pe[keep]}, index=dates[keep])


def _scalar_frame(
    raw: pd.DataFrame,
    value_names: list[str],
    dates: pd.DatetimeIndex,
    series: str,
    line_no: np.ndarray,
    *,
    source: str,
    origin: str,
) -> pd.DataFrame:
    by_lower = {n.strip().lower(): n for n in value_names}
    wanted = series.strip().lstrip("^").lower()
    if wanted.startswith("pe_") and SHILLER_COLUMNS <= set(by_lower) and wanted not in by_lower:
        return _shiller_pe(raw, by_lower, dates, line_no, source=source, origin=origin)
    if len(value_names) == 1:
        name = value_names[0]
    else:
        name = next(
            (by_lower[k] for k in (wanted, "value", "close", "price") if k in by_lower),
            "",
        )
        if not name:
            raise SourceError(
                source,
                f"{origin} has several columns and none is {series} or value "
                f"(columns: {', '.join(value_names)})",
            )
    values = _numbers(raw[name], name, dates, line_no, source=source, origin=origin)
    keep = ~np.isnan(values)
    return pd.DataFrame({VALUE_COLUMN: values[keep]}, index=dates[keep])
