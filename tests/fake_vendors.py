"""The data vendors answered in-process: Yahoo, FRED, CME and Stooq over an httpx transport, serving the
real histories in ../shared/data in the recorded wire formats (../shared/data/fixtures), as of a vendor
date the test moves forward. The bot under test gets a client on this transport and fetches exactly as
it would from the internet; ``requests`` records what it asked for.

- Yahoo v8 chart: bars of the real CSVs up to ``through``, in the recorded chart JSON (its ``meta``
  says the last session has closed, so the newest bar is a close, not an intraday snapshot). Symbols
  without a real history (^SP600, IJR) and quoteSummary get Yahoo's 404.
- FRED fredgraph.csv: the real series in the current ``observation_date,ID`` format, to ``through``.
- CME settlements: the recorded ZQ report of its trade date; any other date is CME's empty report.
- Stooq without a key: the HTML page Stooq answers scripts with since 2026.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import pandas as pd

from bot.sources.csvfile import read_series_csv
from tests.shared_files import SHARED_FILES

YAHOO_FILES = {
    symbol: (name, SHARED_FILES[name])
    for symbol, name in (("^RUT", "RUT"), ("^NDX", "NDX"), ("^GSPC", "SPX"), ("IWM", "IWM"), ("SPY", "SPY"), ("QQQ", "QQQ"))
}
FRED_FILES = {name: SHARED_FILES[name] for name in ("DFEDTARU", "DFEDTARL", "EFFR", "DGS10")}
CHART_TEMPLATE = "fixtures/yahoo/nyf2_chart-QQQ-2020-01-01-to-2020-01-03.json"
CME_FIXTURE = ("fixtures/cme/settlements_ZQ_20260917.json", date(2026, 9, 17))
STOOQ_PAGE = "<html><head><title>Stooq</title></head><body>Get your apikey</body></html>"
YAHOO_NOT_FOUND = {"chart": {"result": None, "error": {"code": "Not Found",
                                                       "description": "No data found, symbol may be delisted"}}}


def _recorded_body(path: Path) -> dict[str, Any]:
    response = json.loads(path.read_text())["response"]
    return response["bodyJson"] if "bodyJson" in response else json.loads(response["body"])  # type: ignore[no-any-return]


def chart_response(
    meta_text: str, symbol: str, stamps: np.ndarray, columns: dict[str, np.ndarray], lo: int, hi: int
) -> httpx.Response:
    """Yahoo's v8 chart answer for the bars ``lo:hi`` (``stamps``: each session's opening instant in epoch
    seconds), in the recorded format, with ``meta`` (the recorded one, as JSON text) saying the newest
    bar's session has closed: the recorded meta describes a 2021 session, which would make the newest bar
    look live and be dropped as an intraday snapshot."""
    meta = json.loads(meta_text)
    meta["symbol"] = symbol
    if hi > lo:
        start = int(stamps[hi - 1])
        end = start + 6 * 3600 + 1800
        period = meta["currentTradingPeriod"]
        period["pre"].update(start=start - 5 * 3600 - 1800, end=start)
        period["regular"].update(start=start, end=end)
        period["post"].update(start=end, end=end + 4 * 3600)
        meta["regularMarketTime"] = end
    quote = {c: values[lo:hi].tolist() for c, values in columns.items()}
    result = {
        "meta": meta,
        "timestamp": stamps[lo:hi].tolist(),
        "indicators": {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]},
    }
    return httpx.Response(200, json={"chart": {"result": [result], "error": None}})


@dataclass
class FakeVendors:
    shared: Path
    through: date  # the last date the vendors have published
    requests: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._bars: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
        for symbol, (series, path) in YAHOO_FILES.items():
            frame = read_series_csv(self.shared / path, series).frame
            opens = frame.index.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
            stamps = (opens.tz_convert("UTC").asi8 // 1_000_000_000).astype("int64")
            days = frame.index.to_numpy()
            self._bars[symbol] = (stamps, days, {c: frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")})
        self._fred = {name: read_series_csv(self.shared / path, name).frame["value"] for name, path in FRED_FILES.items()}
        self._meta = json.dumps(_recorded_body(self.shared / CHART_TEMPLATE)["chart"]["result"][0]["meta"])
        self._cme = (self.shared / CME_FIXTURE[0]).read_bytes()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._answer))

    def hosts(self) -> set[str]:
        return {r.url.host for r in self.requests}

    def asked(self, host_part: str, path_part: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if host_part in r.url.host and path_part in r.url.path]

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host, path = request.url.host, request.url.path
        if host.endswith("yahoo.com") and "/v8/finance/chart/" in path:
            return self._chart(unquote(path.rsplit("/", 1)[-1]), request.url.params)
        if host == "fred.stlouisfed.org" and path.endswith("fredgraph.csv"):
            return self._fredgraph(request.url.params)
        if host == "www.cmegroup.com" and "/Settlements/" in path:
            return self._settlements(request.url.params.get("tradeDate", ""))
        if host == "stooq.com":
            return httpx.Response(200, text=STOOQ_PAGE, headers={"content-type": "text/html"})
        return httpx.Response(404, json=YAHOO_NOT_FOUND if host.endswith("yahoo.com") else {"error": "not found"})

    def _chart(self, symbol: str, params: httpx.QueryParams) -> httpx.Response:
        if symbol not in self._bars:
            return httpx.Response(404, json=YAHOO_NOT_FOUND)
        stamps, days, columns = self._bars[symbol]
        last = int(np.searchsorted(days, np.datetime64(self.through), side="right"))
        p1, p2 = int(params.get("period1", 0)), int(params.get("period2", 2**31))
        lo, hi = (int(i) for i in np.searchsorted(stamps[:last], [p1, p2]))
        return chart_response(self._meta, symbol, stamps, columns, lo, hi)

    def _fredgraph(self, params: httpx.QueryParams) -> httpx.Response:
        series_id = params.get("id", "")
        values = self._fred.get(series_id)
        if values is None:
            return httpx.Response(404, text="Series not found")
        start = pd.Timestamp(params.get("cosd", "1900-01-01"))
        end = min(pd.Timestamp(params.get("coed", "2100-01-01")), pd.Timestamp(self.through))
        rows = values.loc[start:end]
        body = f"observation_date,{series_id}\n" + "".join(f"{d:%Y-%m-%d},{v:g}\n" for d, v in rows.items())
        return httpx.Response(200, text=body, headers={"content-type": "text/csv"})

    def _settlements(self, trade_date: str) -> httpx.Response:
        day = pd.Timestamp(trade_date).date() if trade_date else None
        if day == CME_FIXTURE[1] and day <= self.through:
            return httpx.Response(200, content=self._cme, headers={"content-type": "application/json"})
        empty = {"settlements": [], "updateTime": "", "dsHeader": "30 Day Federal Funds Future", "reportType": "",
                 "tradeDate": trade_date, "empty": True}
        return httpx.Response(200, json=empty)
