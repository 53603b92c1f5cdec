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
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

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
    "SP500": "SP500",
    "NASDAQ100": "NASDAQ100",
    "SPX": "SP500",
    "NDX": "NASDAQ100",
}
BAR_SERIES = frozenset({"SPX", "NDX"})
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
