"""FRED (St. Louis Fed) series through the keyless fredgraph.csv download.

``https://fred.stlouisfed.org/graph/fredgraph.csv?id={ID}`` (``cosd``/``coed`` = first/last date,
``YYYY-MM-DD``) answers a two-column CSV in one of two headers, both accepted:

- before ~2024: ``DATE,<ID>`` with ``.`` for a missing observation (a holiday in DGS10);
- since: ``observation_date,<ID>`` with an empty field for a missing observation.

Missing observations are dropped. The body is refused (SourceError) when it is an HTML page (FRED's
error and maintenance pages come back as HTML), when its header names another series, or when a
value does not parse. Dates are FRED's observation dates: calendar days for daily series (DFEDTARU/L
include weekends; a target change shows on its effective day, the day after the FOMC announcement).

Series: the FRED ids DFEDTARU, DFEDTARL, DFEDTAR, EFFR, DFF, DGS10, SP500, NASDAQ100 as ``value``
frames, and SPX / NDX (a fallback for Yahoo) as bar frames holding only ``close`` from SP500 /
NASDAQ100 (FRED keeps about ten years of those two).

FEDTARMD (the FOMC's Summary of Economic Projections, median of the fed funds rate target at the end of
each projection year) is different. FRED keeps only the latest SEP's projections: one row per projection
year, dated ``YYYY-01-01`` for the end of year YYYY (``2026-01-01,3.4`` = "3.4 % at the end of 2026"), and
overwrites them at each SEP (the March, June, September and December meetings). The body does not say
which SEP it is. capgap stores it re-keyed by release instead (``sep_frame``): one row per SEP, dated by
its decision day, with ``y0``..``y3`` the medians for the end of the release's year and the 3 years after
(NaN where the SEP has none), so history keeps every SEP fetched and ``--as-of`` sees only the SEPs
published by then. The release is ``sep_release``: the last SEP meeting announced (14:00 New York) by the
time the body was obtained whose projection years match it: every SEP starts at its own year; March and
June project 2 more years, September and December 3. Between 14:00 on a SEP day and FRED's update that
afternoon a fetch still gets the previous SEP's values under the new date; the next refresh revises them
(an update never rewrites an earlier SEP's row). The whole vintage is fetched every time (cosd/coed would
filter projection years, not releases).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd

from bot import calendar
from bot.errors import SourceError
from bot.series import series_key
from bot.sources.base import Fetched, within
from bot.sources.csvfile import parse_series_csv
from bot.sources.http import HttpSource, csv_body, describe_url

SOURCE = "fred"
FREDGRAPH_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"

# capgap series name -> FRED id. SPX and NDX come back as closes-only bars.
FRED_IDS: dict[str, str] = {
    "DFEDTARU": "DFEDTARU",
    "DFEDTARL": "DFEDTARL",
    "DFEDTAR": "DFEDTAR",
    "EFFR": "EFFR",
    "DFF": "DFF",
    "DGS10": "DGS10",
    "FEDTARMD": "FEDTARMD",
    "SP500": "SP500",
    "NASDAQ100": "NASDAQ100",
    "SPX": "SP500",
    "NDX": "NASDAQ100",
}
BAR_SERIES = frozenset({"SPX", "NDX"})
# Series FRED dates by projection year, stored re-keyed by SEP release (see the module docstring).
SEP_SERIES = frozenset({"FEDTARMD"})
SEP_COLUMNS = ("y0", "y1", "y2", "y3")  # the release's year, and 1, 2, 3 years after it
SEP_RELEASE_TIME = time(14, 0)  # New York: the statement and the projections
_NEW_YORK = ZoneInfo("America/New_York")
_DATE_HEADERS = ("DATE", "OBSERVATION_DATE")


def parse_fredgraph_csv(text: str, series_id: str, *, origin: str = "fredgraph.csv") -> pd.DataFrame:
    """A fredgraph.csv body for ``series_id`` as a ``value`` frame (missing observations dropped).

    Raises SourceError("fred", ...) for an HTML page, a header that is not ``DATE|observation_date,
    <series_id>``, an unparseable date or value, or dates out of order.
    """
    body = csv_body(text, source=SOURCE, what=series_id, origin=origin)
    header = body.split("\n", 1)[0].strip()
    cells = [c.strip().strip('"') for c in header.split(",")]
    if len(cells) != 2 or cells[0].upper() not in _DATE_HEADERS:
        raise SourceError(
            SOURCE,
            f"{origin} header is {header[:80]!r}, "
            f"expected 'observation_date,{series_id}' or 'DATE,{series_id}'",
        )
    if cells[1].upper() != series_id.upper():
        raise SourceError(
            SOURCE, f"{origin} holds series {cells[1]!r}, not the {series_id} that was asked for"
        )
    if "\n" not in body.strip():
        raise SourceError(SOURCE, f"{origin} has a header but no observations of {series_id}")
    return parse_series_csv(body, series_id, source=SOURCE, origin=origin, kind="scalar").frame


def sep_span_fits(release: date, years: Iterable[int]) -> bool:
    """Whether projection ``years`` are those a SEP released on ``release`` covers: from its own year
    to 2 years after (March, June) or 3 (September, December)."""
    held = sorted(set(years))
    return bool(held) and held[0] == release.year and held[-1] == release.year + (3 if release.month >= 9 else 2)


def sep_release(years: Iterable[int], obtained: datetime) -> date:
    """The SEP meeting a FEDTARMD vintage (its projection ``years``) was published at: the last SEP
    meeting announced by ``obtained`` (aware) whose span the years fit. SourceError when none does."""
    held = sorted(set(years))
    announced = [d for d in calendar.sep_meetings()
                 if datetime.combine(d, SEP_RELEASE_TIME, _NEW_YORK) <= obtained and sep_span_fits(d, held)]
    if not announced:
        span = f"{held[0]}–{held[-1]}" if held else "none"
        raise SourceError(SOURCE, f"FEDTARMD projection years {span} fit no SEP published by {obtained:%Y-%m-%d}")
    return announced[-1]


def sep_frame(by_year: pd.DataFrame, release: date) -> pd.DataFrame:
    """A FEDTARMD vintage as FRED dates it (``value`` per ``YYYY-01-01``) -> one row dated ``release``
    with the medians in ``SEP_COLUMNS`` (offset from the release's year). SourceError for a year the
    release cannot project."""
    row = dict.fromkeys(SEP_COLUMNS, float("nan"))
    for stamp, value in by_year["value"].items():
        offset = pd.Timestamp(stamp).year - release.year
        if not 0 <= offset < len(SEP_COLUMNS):
            raise SourceError(SOURCE, f"FEDTARMD year {pd.Timestamp(stamp).year} is not projected by the SEP of {release}")
        row[SEP_COLUMNS[offset]] = float(value)
    return pd.DataFrame([row], index=pd.DatetimeIndex([pd.Timestamp(release)], name="date"))


def sep_median(row: pd.Series, year: int) -> float | None:
    """The median a stored SEP row (dated by release) gives for the end of ``year``; None if none."""
    offset = year - pd.Timestamp(row.name).year
    if not 0 <= offset < len(SEP_COLUMNS):
        return None
    value = row.get(SEP_COLUMNS[offset])
    return None if value is None or value != value else float(value)


def parse_sep_export(text: str, origin: str) -> pd.DataFrame | None:
    """capgap's own FEDTARMD export (``Date,y0,y1,y2,y3``, one row per SEP release) as stored, so an export
    imports back; None for any other header. SourceError for a date that is not a SEP meeting or a value
    that is not a number."""
    header = text.split("\n", 1)[0].strip()
    if [cell.strip() for cell in header.split(",")] != ["Date", *SEP_COLUMNS]:
        return None
    frame = pd.read_csv(io.StringIO(text), index_col=0, dtype=str)
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame.index, format="%Y-%m-%d"), name="date")
        values = frame.apply(pd.to_numeric).astype(float)
    except ValueError as exc:
        raise SourceError("csv", f"{origin}: {exc}") from None
    releases = set(calendar.sep_meetings())
    odd = [stamp.date() for stamp in index if stamp.date() not in releases]
    if odd or index.has_duplicates or not index.is_monotonic_increasing or index.empty:
        what = f"{odd[0]} is not an FOMC meeting with projections" if odd else "dates must be distinct and ascending"
        raise SourceError("csv", f"{origin}: {what}")
    values.index = index
    return values


class FredSource(HttpSource):
    """FRED series over fredgraph.csv (keyless). Implements bot.sources.base.Source."""

    name = vendor = SOURCE
    default_url = FREDGRAPH_URL

    def covers(self, series: str) -> bool:
        return series_key(series) in FRED_IDS

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """Observations of ``series`` from ``start`` through ``end`` (None: all / latest)."""
        key = series_key(series)
        series_id = FRED_IDS.get(key)
        if series_id is None:
            raise SourceError(SOURCE, f"no FRED series for {series!r}")
        params: dict[str, str] = {"id": series_id}
        if key in SEP_SERIES:
            return await self._fetch_sep(key, series_id, params, now)
        if start is not None:
            params["cosd"] = start.isoformat()
        if end is not None:
            params["coed"] = end.isoformat()
        response = await self._get(self._url, params=params)
        origin = f"{describe_url(response.request.url)}?id={series_id}"
        frame = within(parse_fredgraph_csv(response.text, series_id, origin=origin), start, end)
        if frame.empty:
            raise SourceError(
                SOURCE, f"no observations of {series_id} between {start or 'start'} and {end or 'now'}"
            )
        if key in BAR_SERIES:
            frame = frame.rename(columns={"value": "close"})
        return Fetched(
            series=key,
            source=SOURCE,
            frame=frame,
            fetched_at=now,
            partial_last=False,
            meta={"fred_id": series_id},
        )

    async def _fetch_sep(self, key: str, series_id: str, params: dict[str, str], now: datetime) -> Fetched:
        """The latest SEP's projections (the whole vintage), as one row dated by its release."""
        response = await self._get(self._url, params=params)
        origin = f"{describe_url(response.request.url)}?id={series_id}"
        by_year = parse_fredgraph_csv(response.text, series_id, origin=origin)
        release = sep_release((stamp.year for stamp in by_year.index), now)
        return Fetched(series=key, source=SOURCE, frame=sep_frame(by_year, release), fetched_at=now,
                       partial_last=False, meta={"fred_id": series_id, "sep_release": release.isoformat()})
